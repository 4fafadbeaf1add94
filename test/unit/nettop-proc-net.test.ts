// The /proc parsers and the socket index, on /proc text captured on the
// development machine (test/fixtures/nettop/): a python process holding
//   TCP  127.0.0.1:45001 listening (inode 10742), a connection to it from
//        :56428 (10743) and its accepted end (10744)
//   TCP6 [::]:45002 listening (10745), and an accepted IPv4 connection on it,
//        shown with IPv4-mapped addresses (10747; its client end is 10746)
//   UDP  127.0.0.1:45003 (10748), UDP6 [::1]:45004 connected to [::1]:45005
//        (10749), UDP6 [::]:45006 (10750)
//   and a TIME_WAIT connection 127.0.0.1:56998 → :45007 (inode 0).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { flowTuple } from '../../attribution/flow.ts';
import { parseProcNet, parseStatus, socketInode, TcpState } from '../../core/procfs/proc-net.ts';
import { SocketIndex, unmapIpv4, type Owner } from '../../attribution/socket-index.ts';
import { fixture, fixtureSockets } from './nettop-fixtures.ts';

test('proc-net: /proc/net/tcp, listening, established and TIME_WAIT', () => {
  const { sockets, malformed } = parseProcNet(fixture('proc-net-tcp.txt'), 'TCP', 4);
  assert.equal(malformed, 0);
  assert.equal(sockets.length, 5);
  assert.deepEqual(sockets[0], {
    proto: 'TCP', family: 4, localIp: '127.0.0.1', localPort: 45001, remoteIp: '0.0.0.0', remotePort: 0,
    state: TcpState.LISTEN, uid: 0, inode: 10742, rxQueue: 0,
  });
  assert.equal(sockets[0]!.drops, undefined, 'TCP tables have no drops column');
  assert.deepEqual(
    sockets[1] && [sockets[1].localPort, sockets[1].remoteIp, sockets[1].remotePort, sockets[1].state, sockets[1].inode],
    [56428, '127.0.0.1', 45001, TcpState.ESTABLISHED, 10743],
  );
  const tw = sockets[4]!;
  assert.deepEqual([tw.localPort, tw.remotePort, tw.state, tw.inode], [56998, 45007, TcpState.TIME_WAIT, 0]);
});

test('proc-net: /proc/net/tcp6 with a wildcard listener and IPv4-mapped addresses', () => {
  const { sockets, malformed } = parseProcNet(fixture('proc-net-tcp6.txt'), 'TCP', 6);
  assert.equal(malformed, 0);
  assert.deepEqual(sockets.map((s) => [s.localIp, s.localPort, s.remoteIp, s.remotePort, s.state, s.inode]), [
    ['::', 45002, '::', 0, TcpState.LISTEN, 10745],
    ['::ffff:127.0.0.1', 45002, '::ffff:127.0.0.1', 51784, TcpState.ESTABLISHED, 10747],
  ]);
});

test('proc-net: /proc/net/udp and udp6 (the extra "drops" column, connected and wildcard sockets)', () => {
  const udp = parseProcNet(fixture('proc-net-udp.txt'), 'UDP', 4);
  assert.deepEqual(udp.sockets.map((s) => [s.localIp, s.localPort, s.remotePort, s.state, s.inode, s.drops]), [['127.0.0.1', 45003, 0, 7, 10748, 0]]);
  const full = parseProcNet(
    '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops\n' +
      ' 7824: 0100007F:87DC 00000000:0000 07 00000000:00000D00 00:00000000 00000000     0        0 17273919 2 0000000031d47a23 1977\n',
    'UDP',
    4,
  );
  assert.deepEqual([full.sockets[0]!.rxQueue, full.sockets[0]!.drops], [0xd00, 1977]);
  const udp6 = parseProcNet(fixture('proc-net-udp6.txt'), 'UDP', 6);
  assert.deepEqual(udp6.sockets.map((s) => [s.localIp, s.localPort, s.remoteIp, s.remotePort, s.inode]), [
    ['::1', 45004, '::1', 45005, 10749],
    ['::', 45006, '::', 0, 10750],
  ]);
});

test('proc-net: big-endian hosts print the words the other way round', () => {
  const line = '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n' +
    '   0: 7F000001:0035 00000000:0000 0A 00000000:00000000 00:00000000 00000000   101        0 77 1\n';
  const [s] = parseProcNet(line, 'TCP', 4, false).sockets;
  assert.deepEqual([s?.localIp, s?.localPort, s?.uid, s?.inode], ['127.0.0.1', 53, 101, 77]);
});

test('proc-net: malformed lines are counted, not thrown', () => {
  const text = 'header\n   0: nonsense\n   1: 0100007F:XYZ 00000000:0000 0A 0:0 0:0 0 0 0 5\n\n';
  const r = parseProcNet(text, 'UDP', 4);
  assert.deepEqual([r.sockets.length, r.malformed], [0, 2]);
});

test('proc-net: fd links and /proc/<pid>/status', () => {
  assert.equal(socketInode('socket:[10742]'), 10742);
  assert.equal(socketInode('pipe:[11463]'), 0);
  assert.equal(socketInode('/dev/null'), 0);
  assert.equal(socketInode('socket:[]'), 0);
  assert.deepEqual(parseStatus(fixture('proc-pid-status.txt')), { command: 'cat', uid: 0, tgid: 8377 });
  assert.deepEqual(parseStatus('Name:\tweird\\nname\nUmask:\t0022\nUid:\t1000\t0\t0\t0\n'), { command: 'weird\nname', uid: 1000, tgid: -1 });
  assert.equal(parseStatus('Name:\tx\n'), null);
});

const owner = (pid: number, command = 'python3', uid = 0): Owner => ({ pid, uid, command });

function fixtureIndex(extraOwners: [number, Owner][] = []): SocketIndex {
  const owners = new Map<number, Owner>([10742, 10743, 10744, 10745, 10746, 10747, 10748, 10749, 10750].map((i) => [i, owner(8095)]));
  for (const [inode, o] of extraOwners) owners.set(inode, o);
  return new SocketIndex(fixtureSockets(), owners, new Set(['10.0.2.15']));
}

test('socket index: the exact 4-tuple first, then the listener, then the wildcard', () => {
  const idx = fixtureIndex([[10744, owner(9001, 'server')], [10743, owner(9002, 'client')]]);
  const server = idx.resolve(flowTuple('TCP', '127.0.0.1', 45001, '127.0.0.1', 56428), true);
  assert.deepEqual(server, { kind: 'process', owner: owner(9001, 'server'), inode: 10744, via: 'exact' });
  const client = idx.resolve(flowTuple('TCP', '127.0.0.1', 56428, '127.0.0.1', 45001), false);
  assert.equal(client.kind === 'process' && client.owner.pid, 9002);
  // A new connection (SYN) to the listener, or one already accepted and closed: the listener's process.
  const syn = idx.resolve(flowTuple('TCP', '127.0.0.1', 45001, '127.0.0.1', 40000), true);
  assert.equal(syn.kind === 'process' && syn.via, 'listener');
  assert.equal(syn.kind === 'process' && syn.inode, 10742);
});

test('socket index: IPv4 packets find v6 sockets through IPv4-mapped addresses and the :: wildcard', () => {
  const idx = fixtureIndex([[10747, owner(7000)], [10745, owner(7001)], [10750, owner(7002)]]);
  const accepted = idx.resolve(flowTuple('TCP', '127.0.0.1', 45002, '127.0.0.1', 51784), true);
  assert.deepEqual(accepted.kind === 'process' && [accepted.inode, accepted.via], [10747, 'exact']);
  const fresh = idx.resolve(flowTuple('TCP', '127.0.0.1', 45002, '127.0.0.1', 41000), true);
  assert.deepEqual(fresh.kind === 'process' && [fresh.inode, fresh.owner.pid], [10745, 7001]);
  const udp4 = idx.resolve(flowTuple('UDP', '10.0.2.15', 45006, '10.0.2.2', 53), true);
  assert.deepEqual(udp4.kind === 'process' && [udp4.inode, udp4.via], [10750, 'wildcard']);
  const udp6 = idx.resolve(flowTuple('UDP', '::1', 45006, '::1', 1234), true);
  assert.equal(udp6.kind === 'process' && udp6.inode, 10750);
  assert.equal(unmapIpv4('::ffff:10.1.2.3'), '10.1.2.3');
  assert.equal(unmapIpv4('::ffff:0:1'), '::ffff:0:1');
});

test('socket index: bound UDP, connected UDP6, absent, foreign and orphan endpoints', () => {
  const idx = fixtureIndex();
  const bound = idx.resolve(flowTuple('UDP', '127.0.0.1', 45003, '127.0.0.1', 5555), true);
  assert.deepEqual(bound.kind === 'process' && [bound.inode, bound.via], [10748, 'bound']);
  // 127.0.0.2 is local (all of 127/8 is), but the socket is bound to 127.0.0.1 only.
  assert.deepEqual(idx.resolve(flowTuple('UDP', '127.0.0.2', 45003, '127.0.0.1', 5555), true), { kind: 'absent' });
  const connected = idx.resolve(flowTuple('UDP', '::1', 45004, '::1', 45005), false);
  assert.deepEqual(connected.kind === 'process' && [connected.inode, connected.via], [10749, 'exact']);
  // A datagram for another host on a port we also listen on (forwarded): not ours.
  assert.deepEqual(idx.resolve(flowTuple('UDP', '192.0.2.7', 45006, '10.0.2.2', 53), true), { kind: 'foreign' });
  // Broadcast and multicast reach the wildcard socket.
  assert.equal(idx.resolve(flowTuple('UDP', '255.255.255.255', 45006, '10.0.2.2', 68), true).kind, 'process');
  assert.equal(idx.resolve(flowTuple('UDP', '224.0.0.251', 45006, '10.0.2.2', 5353), true).kind, 'process');
  assert.equal(idx.resolve(flowTuple('UDP', '224.0.0.251', 45006, '10.0.2.2', 5353), false).kind, 'foreign');
  // TIME_WAIT: the socket exists, its process let go.
  assert.deepEqual(idx.resolve(flowTuple('TCP', '127.0.0.1', 56998, '127.0.0.1', 45007), false), { kind: 'orphan', uid: 0, state: TcpState.TIME_WAIT });
  // Listed but no holder found (exited between the table read and the fd walk).
  const noHolder = new SocketIndex(fixtureSockets(), new Map());
  assert.equal(noHolder.resolve(flowTuple('UDP', '127.0.0.1', 45003, '127.0.0.1', 1), true).kind, 'orphan');
  assert.equal(idx.has(10742), true);
  assert.equal(idx.has(1), false);
});

test('socket index: a connection its server already closed (TIME_WAIT on the listening port) goes to the listener', () => {
  const tw = fixtureSockets().find((s) => s.state === TcpState.TIME_WAIT)!;
  const accepted = { ...tw, localPort: 45001, remotePort: 51000 }; // server side of an accept-and-close
  const idx = new SocketIndex([...fixtureSockets(), accepted], new Map([[10742, owner(5150, 'server')]]));
  const r = idx.resolve(flowTuple('TCP', '127.0.0.1', 45001, '127.0.0.1', 51000), false);
  assert.deepEqual(r.kind === 'process' && [r.owner.pid, r.via], [5150, 'listener']);
  // The client end of a closed connection has no listener to fall back on.
  assert.equal(idx.resolve(flowTuple('TCP', '127.0.0.1', 56998, '127.0.0.1', 45007), false).kind, 'orphan');
});

test('socket index: a socket held by several processes (fork, SO_REUSEPORT) goes to the lowest pid', () => {
  const base = fixtureSockets().find((s) => s.inode === 10748)!;
  const sockets = [
    { ...base, inode: 1 },
    { ...base, inode: 2 },
    { ...base, inode: 3 },
  ];
  const idx = new SocketIndex(sockets, new Map([[1, owner(300)], [2, owner(100)], [3, owner(200)]]));
  const r = idx.resolve(flowTuple('UDP', '127.0.0.1', 45003, '127.0.0.1', 9), true);
  assert.equal(r.kind === 'process' && r.owner.pid, 100);
});
