// The tracker on the event sequence recorded on this kernel (trace of a Python
// server in a namespace accepting two connections from a client outside it).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConnTracker, sockAddr, type ConnEvent, type Lookups, type StateChange } from '../../probes/tcp-connections/tracker.ts';
import { tcpConnections, type ConnRow } from '../../probes/tcp-connections/definition.ts';
import { csvHeader } from '../../core/format.ts';
import { printTcpConnections } from '../../probes/tcp-connections/print.ts';

const SERVER = 10577;
const CLIENT = 10621;
const lookups: Lookups = {
  owner: (tid) => (tid === SERVER ? { pid: SERVER, uid: 65534, command: 'python3', live: true } : { pid: tid, uid: 0, command: 'client', live: true }),
  listenerPort: (tid, fd) => (tid === SERVER && fd === 3 ? 8080 : null),
  epochUs: (ns) => Math.round(ns / 1000),
};

const st = (tsNs: number, tid: number, irq: boolean, sk: string, oldstate: number, newstate: number, sport: number, dport: number, saddr: string, daddr: string): StateChange => ({
  kind: 'state', tsNs, tid, irq, sk, oldstate, newstate, sport, dport, saddr, daddr,
});

// Recorded (times in ns since the trace's start): LISTEN, accept4 enter, client connect, the
// passive SYN_RECV → ESTABLISHED in softirq under the client's pid, accept4 return.
const recorded: ConnEvent[] = [
  st(0, SERVER, false, 'a', 7, 10, 8080, 0, '0.0.0.0', '0.0.0.0'),
  { kind: 'acceptEnter', tsNs: 18_000, tid: SERVER, fd: 3 },
  st(522_453_000, CLIENT, false, 'c1', 7, 2, 0, 8080, '10.231.7.1', '10.231.7.2'),
  st(522_596_000, CLIENT, false, 'c1', 2, 1, 49906, 8080, '10.231.7.1', '10.231.7.2'),
  st(522_608_000, CLIENT, true, 's1', 10, 3, 8080, 49906, '10.231.7.2', '10.231.7.1'),
  st(522_628_000, CLIENT, true, 's1', 3, 1, 8080, 49906, '10.231.7.2', '10.231.7.1'),
  st(522_737_000, CLIENT, false, 'c2', 7, 2, 0, 8080, '10.231.7.1', '10.231.7.2'),
  st(522_760_000, CLIENT, false, 'c2', 2, 1, 49914, 8080, '10.231.7.1', '10.231.7.2'),
  st(522_766_000, CLIENT, true, 's2', 10, 3, 8080, 49914, '10.231.7.2', '10.231.7.1'),
  st(522_770_000, CLIENT, true, 's2', 3, 1, 8080, 49914, '10.231.7.2', '10.231.7.1'),
  { kind: 'acceptExit', tsNs: 522_697_000, tid: SERVER, ret: 4 },
  { kind: 'acceptEnter', tsNs: 522_869_000, tid: SERVER, fd: 3 },
  { kind: 'acceptExit', tsNs: 522_882_000, tid: SERVER, ret: 4 },
];

test('accepted connections are the acceptor\'s, not the softirq\'s current task', () => {
  const tr = new ConnTracker(lookups, { outbound: false });
  const rows = tr.process(recorded);
  const atOpen = { durationMs: 0, txBytes: 0, rxBytes: 0, retrans: 0, resetsSent: 0, resetsReceived: 0, srttUs: 0, state: 'ESTABLISHED' };
  assert.deepEqual(rows, [
    { time: 522_697, uid: 65534, cmd: 'python3', pid: SERVER, port: 8080, ipSource: '10.231.7.1', remotePort: 49906, direction: 'accepted', ...atOpen },
    { time: 522_882, uid: 65534, cmd: 'python3', pid: SERVER, port: 8080, ipSource: '10.231.7.1', remotePort: 49914, direction: 'accepted', ...atOpen },
  ]);
  assert.equal(tr.counts.accepted, 2);
  assert.equal(tr.counts.unattributed, 0);
});

test('outbound connections belong to the task that called connect()', () => {
  const tr = new ConnTracker(lookups, { outbound: true });
  const rows = tr.process(recorded).filter((r) => r.direction === 'outbound');
  assert.deepEqual(rows.map((r) => [r.pid, r.cmd, r.port, r.ipSource, r.remotePort]), [
    [CLIENT, 'client', 49906, '10.231.7.2', 8080],
    [CLIENT, 'client', 49914, '10.231.7.2', 8080],
  ]);
});

test('an accept read before its connection (another CPU) waits one batch; one with none is counted', () => {
  const tr = new ConnTracker(lookups, { outbound: false });
  const acc: ConnEvent[] = [{ kind: 'acceptEnter', tsNs: 1, tid: SERVER, fd: 3 }, { kind: 'acceptExit', tsNs: 100, tid: SERVER, ret: 5 }];
  assert.deepEqual(tr.process(acc), []);
  const rows = tr.process([st(90, CLIENT, true, 's9', 3, 1, 8080, 5555, '10.0.0.2', '10.0.0.1')]);
  assert.deepEqual(rows.map((r) => [r.pid, r.remotePort, r.time]), [[SERVER, 5555, 0]]);
  // No connection ever: after one more batch it is unattributed.
  tr.process(acc);
  tr.process([]);
  assert.equal(tr.counts.unattributed, 1);
  // accept() entered before the probe started: unattributed; failed accept: nothing.
  tr.process([{ kind: 'acceptExit', tsNs: 200, tid: 42, ret: 7 }, { kind: 'acceptExit', tsNs: 201, tid: SERVER, ret: -11 }]);
  assert.equal(tr.counts.unattributed, 2);
  // Listener unknown in /proc, but the process was seen listening on one port.
  tr.process([{ kind: 'acceptEnter', tsNs: 300, tid: SERVER, fd: 9 }, { kind: 'acceptExit', tsNs: 301, tid: SERVER, ret: 7 }]);
  tr.process([]);
  assert.equal(tr.counts.noListener, 1);
});

test('connections never accepted expire', () => {
  const tr = new ConnTracker(lookups, { outbound: false });
  tr.process([st(0, CLIENT, true, 's', 3, 1, 9000, 1, 'a', 'b')]);
  tr.process([st(61e9, CLIENT, false, 'x', 7, 2, 0, 1, 'a', 'b')]);
  assert.equal(tr.counts.neverAccepted, 1);
});

test('addresses: v4, v6, v4-mapped', () => {
  const v4 = Uint8Array.from([10, 231, 7, 2]);
  const v6 = new Uint8Array(16);
  v6[15] = 1;
  assert.equal(sockAddr(2, v4, v6), '10.231.7.2');
  assert.equal(sockAddr(10, v4, v6), '::1');
  const mapped = Uint8Array.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 231, 7, 1]);
  assert.equal(sockAddr(10, v4, mapped), '10.231.7.1');
  const full = Uint8Array.from([0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
  assert.equal(sockAddr(10, v4, full), 'fd00::2');
});

test('definition: CSV columns and the seed\'s layout', () => {
  assert.equal(
    csvHeader(tcpConnections.columns),
    'TIME,UID,CMD,PID,PORT,IP_SOURCE,REMOTE_PORT,DIRECTION,DURATION_MS,TX_BYTES,RX_BYTES,RETRANS,RESETS_SENT,RESETS_RECEIVED,SRTT_US',
  );
  const p = printTcpConnections();
  assert.deepEqual(p.begin(), ['   UID              CMD    PID   PORT        IP_SOURCE']);
  const row = { time: 0, uid: 0, cmd: 'sshd', pid: 3165, port: 22, ipSource: '10.64.0.227', remotePort: 5000, direction: 'accepted', durationMs: 1500, txBytes: 10, rxBytes: 20, retrans: 3, resetsSent: 0, resetsReceived: 1, srttUs: 45, state: 'closed from ESTABLISHED' };
  assert.deepEqual(p.rows([row]), ['     0             sshd   3165     22      10.64.0.227']);
  const life = printTcpConnections({ lifetimes: true });
  assert.match(life.begin()[0]!, /UID +CMD +PID +PORT +IP_SOURCE +RPORT +DIR +MS +TX_B +RX_B +RETR +RST> +RST< +SRTT_US/);
  assert.match(life.rows([row])[0]!, /^ +0 +sshd +3165 +22 +10\.64\.0\.227 +5000 +accepted +1500 +10 +20 +3 +0 +1 +45$/);
});

test('a server that exits right after accept() is named as it was when it entered accept()', () => {
  let alive = true;
  const tr = new ConnTracker(
    { ...lookups, owner: (tid, ts) => (alive ? lookups.owner(tid, ts) : { pid: tid, uid: -1, command: '<...>', live: false }) },
    { outbound: false },
  );
  tr.process([{ kind: 'acceptEnter', tsNs: 1, tid: SERVER, fd: 3 }, st(5, CLIENT, true, 's', 3, 1, 8080, 4000, '10.0.0.2', '10.0.0.1')]);
  alive = false;
  const rows = tr.process([{ kind: 'acceptExit', tsNs: 9, tid: SERVER, ret: 4 }]);
  assert.deepEqual(rows.map((r) => [r.pid, r.uid, r.cmd]), [[SERVER, 65534, 'python3']]);
  assert.equal(tr.counts.ownerGone, 0);
});

test('--lifetimes: a row per connection when it closes, with its process and what happened to it', () => {
  const tr = new ConnTracker(lookups, { outbound: true, lifetimes: true });
  const trouble = (tsNs: number, sk: string, what: 'tx' | 'rx' | 'retrans' | 'rstSent' | 'rstRecv' | 'srtt', value = 1): ConnEvent => ({ kind: 'trouble', tsNs, sk, what, value });
  // No rows at open in this mode.
  assert.deepEqual(tr.process(recorded), []);
  const rows: ConnRow[] = tr.process([
    trouble(600_000_000, 's1', 'rx', 100),
    trouble(600_000_001, 's1', 'tx', 40),
    trouble(600_000_002, 's1', 'retrans'),
    trouble(600_000_003, 's1', 'retrans'),
    trouble(600_000_004, 's1', 'srtt', 57),
    trouble(600_000_005, 'listener', 'rstSent'), // not a followed connection: ignored
    trouble(700_000_000, 's1', 'rstRecv'),
    st(700_000_001, CLIENT, true, 's1', 1, 7, 8080, 49906, '10.231.7.2', '10.231.7.1'),
    st(701_000_000, CLIENT, false, 'c2', 1, 7, 49914, 8080, '10.231.7.1', '10.231.7.2'),
    trouble(701_000_001, 'c2', 'rstSent'), // an active reset is traced just after the change to CLOSE
  ]);
  assert.equal(rows.length, 0, 'rows of connections closed come one batch later');
  rows.push(...tr.process([]));
  assert.deepEqual(
    rows.map((r) => [r.direction, r.pid, r.cmd, r.port, r.remotePort, r.durationMs, r.txBytes, r.rxBytes, r.retrans, r.resetsSent, r.resetsReceived, r.srttUs, r.state]),
    [
      ['accepted', SERVER, 'python3', 8080, 49906, 177, 40, 100, 2, 0, 1, 57, 'closed from ESTABLISHED'],
      ['outbound', CLIENT, 'client', 49914, 8080, 178, 0, 0, 0, 1, 0, 0, 'closed from ESTABLISHED'],
    ],
  );
  assert.equal(rows[0]!.time, 700_000);
  // s2 was accepted and c1 opened; neither closed: no rows yet, nothing unowned.
  assert.deepEqual([tr.counts.closed, tr.counts.closedUnowned], [2, 0]);
  // A connection established but never accepted closes without an owner: counted, no row.
  const lone = new ConnTracker(lookups, { outbound: false, lifetimes: true });
  lone.process([st(1, CLIENT, true, 'x', 3, 1, 8080, 5000, '10.0.0.2', '10.0.0.1'), st(2, CLIENT, true, 'x', 1, 7, 8080, 5000, '10.0.0.2', '10.0.0.1')]);
  assert.deepEqual(lone.finish(), []);
  assert.deepEqual([lone.counts.closed, lone.counts.closedUnowned], [0, 1]);
});
