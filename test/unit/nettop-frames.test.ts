// nettop's per-frame step on real frames: test/fixtures/nettop/any-sll2.pcap,
// captured here with `tcpdump -i any -y LINUX_SLL2 -s 128` while
//   lo:   UDP 127.0.0.1:45101 → :45102, 1000 bytes; an IPv6 TCP connection
//         [::1]:45242 → [::1]:45103 (handshake, 100 bytes, close: 9 segments);
//         UDP :45101 → :45104 (closed) and the ICMP port unreachable
//   veth (ifindex 40): ARP request and reply, UDP 10.249.7.1:45105 → 10.249.7.2
//         (sent), the ICMP port unreachable (received)
// Frame lengths in the capture include the 20-byte cooked header; nettop counts
// the device's own: 14-byte Ethernet headers on lo and on the veth.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SocketIndex, type Owner } from '../../attribution/socket-index.ts';
import { NettopEngine } from '../../probes/nettop/engine.ts';
import { FrameCounter } from '../../probes/nettop/frames.ts';
import { FlowMemo } from '../../probes/nettop/fastpath.ts';
import { procSocket, readSll2Pcap } from './nettop-fixtures.ts';

const frames = readSll2Pcap('any-sll2.pcap');
const owner = (pid: number, command: string): Owner => ({ pid, uid: 1000 + pid, command });
const sock = procSocket;

function setup() {
  const t0 = frames[0]!.timeUs;
  const last = frames[frames.length - 1]!.timeUs;
  const clock = { now: Math.ceil(last / 1000) + 1 };
  const engine = new NettopEngine({ startUs: t0 - 1, intervalUs: 60_000_000, now: () => clock.now, requestScan: () => assert.fail('no rescan expected') });
  const index = new SocketIndex(
    [
      sock('UDP', '127.0.0.1', 45101, '0.0.0.0', 0, 1),
      sock('UDP', '127.0.0.1', 45102, '0.0.0.0', 0, 2),
      sock('TCP', '::1', 45242, '::1', 45103, 3, 1),
      sock('TCP', '::1', 45103, '::1', 45242, 4, 1),
      sock('TCP', '::1', 45103, '::', 0, 5, 10),
      sock('UDP', '10.249.7.1', 45105, '0.0.0.0', 0, 6),
    ],
    new Map([
      [1, owner(1, 'sender')],
      [2, owner(2, 'receiver')],
      [3, owner(3, 'client')],
      [4, owner(4, 'server')],
      [5, owner(4, 'server')],
      [6, owner(6, 'veth-sender')],
    ]),
    new Set(['10.249.7.1']),
  );
  engine.setSnapshot(index, clock.now); // newer than every frame: verdicts are final
  const counter = new FrameCounter(engine, (i) => (i === 1 ? 'lo' : i === 40 ? 'npt0' : `if${i}`));
  const feed = () => {
    for (const f of frames) counter.frame(f.data, 0, f.data.length, f.wireLen, f.timeUs);
  };
  return { engine, counter, feed };
}

const EXPECTED = [
  // pid, dev, xmitPk, recvPk, xmitBytes, recvBytes
  [3, 'lo', 5, 3, 94 + 86 + 186 + 86 + 86, 94 + 86 + 86], // the TCP client: SYN, ACK, data, FIN, ACK sent
  [4, 'lo', 3, 5, 94 + 86 + 86, 94 + 86 + 186 + 86 + 86], // its server (the accepted socket)
  [0, 'npt0', 1, 2, 42, 42 + 570], // ARP request out; ARP reply and the ICMP error in
  [0, 'lo', 1, 2, 170, 142 + 170], // closed port: the datagram received, the ICMP error sent and received
  [1, 'lo', 2, 0, 1042 + 142, 0],
  [2, 'lo', 0, 1, 0, 1042],
  [6, 'npt0', 1, 0, 542, 0],
];

test('frames: real SLL2 frames counted per owner, device and direction, with device frame lengths', () => {
  const { engine, counter, feed } = setup();
  feed();
  const rows = engine.takeInterval(0);
  assert.deepEqual(rows.map((r) => [r.pid, r.dev, r.xmitPk, r.recvPk, r.xmitBytes, r.recvBytes]), EXPECTED);
  assert.deepEqual([counter.frames, counter.malformed], [frames.length, 0]);
  assert.deepEqual(engine.counts, { attributed: 2 + 1 + 8 + 8 + 1, kernel: 6, unknown: 0, held: 0, holdOverflow: 0, traced: 0, ambiguous: 0 });
  const r1 = rows.find((r) => r.pid === 1)!;
  assert.deepEqual([r1.uid, r1.command], [1001, 'sender']);
});

test('frames: the fast path counts exactly what the full path counts', () => {
  const { engine, counter, feed } = setup();
  feed();
  const afterFirst = counter.memoHits;
  feed(); // every header again, in the same generation: counted through the memo
  assert.ok(counter.memoHits - afterFirst >= 9, `memo hits: ${counter.memoHits - afterFirst}`);
  const rows = engine.takeInterval(0);
  assert.deepEqual(
    rows.map((r) => [r.pid, r.dev, r.xmitPk, r.recvPk, r.xmitBytes, r.recvBytes]),
    EXPECTED.map(([pid, dev, ...n]) => [pid, dev, ...(n as number[]).map((x) => x * 2)]),
  );
});

test('fast path: only plain IPv4/IPv6 TCP/UDP headers are memoised, and only within a generation and interval', () => {
  const memo = new FlowMemo();
  const udp4 = frames[0]!.data;
  const tcp6 = frames[1]!.data;
  const arp = frames[11]!.data;
  assert.equal(memo.prepare(udp4, 0, udp4.length), true);
  assert.equal(memo.prepare(tcp6, 0, tcp6.length), true);
  assert.equal(memo.prepare(arp, 0, arp.length), false);
  const frag = Uint8Array.from(udp4);
  frag[20 + 6] = 0x20; // IPv4 MF
  assert.equal(memo.prepare(frag, 0, frag.length), false);
  const ext = Uint8Array.from(tcp6);
  ext[20 + 6] = 0; // IPv6 hop-by-hop header first
  assert.equal(memo.prepare(ext, 0, ext.length), false);
  assert.equal(memo.prepare(udp4, 0, 30), false, 'too short');
  // store / hit
  const acc = { pid: 1, uid: 0, command: 'x', cgroup: '', dev: 'lo', xmitPk: 0, recvPk: 0, xmitBytes: 0, recvBytes: 0 };
  memo.prepare(udp4, 0, udp4.length);
  memo.store(7, 0, 1000, acc, null);
  assert.equal(memo.hit(7, 0, 999), true);
  assert.equal(memo.first, acc);
  assert.equal(memo.hit(8, 0, 999), false, 'another generation');
  assert.equal(memo.hit(7, 1, 999), false, 'another interval');
  assert.equal(memo.hit(7, 0, 1001), false, 'expired');
  const other = Uint8Array.from(udp4);
  other[20 + 23] = other[20 + 23]! ^ 1; // another destination port
  memo.prepare(other, 0, other.length);
  assert.equal(memo.hit(7, 0, 999), false, 'another flow');
});
