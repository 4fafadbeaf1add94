// The recent-endpoints table (events from tracepoints in the sending task →
// owner of a local port) and the engine's use of it for sockets /proc no
// longer shows. Pure: no root, no tracefs.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { flowTuple } from '../../attribution/flow.ts';
import { AMBIGUOUS, RecentEndpoints, type EndpointEvent } from '../../attribution/recent-endpoints.ts';
import { SocketIndex, type Owner } from '../../attribution/socket-index.ts';
import { NettopEngine } from '../../probes/nettop/engine.ts';
import { RECV, XMIT } from '../../attribution/flow.ts';

const T0_MS = 1_700_000_000_000;
const T0 = T0_MS * 1000;
const MS = 1000;
const SEC = 1_000_000;

const a: Owner = { pid: 100, uid: 0, command: 'burst-a' };
const b: Owner = { pid: 200, uid: -1, command: 'burst-b' };

function ev(over: Partial<EndpointEvent>): EndpointEvent {
  return { proto: 'UDP', localIp: '0.0.0.0', localPort: 40000, remoteIp: '127.0.0.1', remotePort: 9999, timeUs: T0, owner: a, ...over };
}

/** Packets captured at t (a single packet: from t to t). */
const at = (t: RecentEndpoints, proto: 'UDP' | 'TCP', lip: string, lport: number, rip: string, rport: number, us: number) => t.lookup(flowTuple(proto, lip, lport, rip, rport), us, us);

test('recent endpoints: a packet finds the process that used its local port with its peer, wildcard source included', () => {
  const t = new RecentEndpoints();
  t.add(ev({}));
  assert.equal(at(t, 'UDP', '127.0.0.1', 40000, '127.0.0.1', 9999, T0 + 50), a);
  assert.equal(at(t, 'TCP', '127.0.0.1', 40000, '127.0.0.1', 9999, T0 + 50), null, 'another protocol');
  assert.equal(at(t, 'UDP', '127.0.0.1', 40001, '127.0.0.1', 9999, T0 + 50), null, 'another port');
  // Only the exact peer: another process (another namespace, say) may have used the same local port elsewhere.
  assert.equal(at(t, 'UDP', '127.0.0.1', 40000, '127.0.0.2', 53, T0 + 50), null);
  // IPv4-mapped addresses are the IPv4 ones; a bound source must match.
  t.add(ev({ localIp: '::ffff:10.0.0.1', localPort: 41000, remoteIp: '::ffff:10.0.0.2', owner: b }));
  assert.equal(at(t, 'UDP', '10.0.0.1', 41000, '10.0.0.2', 9999, T0 + 50), b);
  assert.equal(at(t, 'UDP', '10.0.0.3', 41000, '10.0.0.2', 9999, T0 + 50), null, 'another local address');
  assert.equal(t.counts.hits, 2);
});

test('recent endpoints: ephemeral port reuse — each packet goes to the last user before it, a span across the reuse to none', () => {
  const t = new RecentEndpoints();
  // a sends from port 40000 during [T0, T0+5ms]; exits; b gets the same port, to the same peer, at T0+20ms.
  t.add(ev({ timeUs: T0 }));
  const ea = t.add(ev({ timeUs: T0 + 1 * MS }));
  t.touch(ea, T0 + 5 * MS);
  t.add(ev({ timeUs: T0 + 20 * MS, owner: b }));
  assert.equal(t.size, 2);
  const q = (us: number) => at(t, 'UDP', '127.0.0.1', 40000, '127.0.0.1', 9999, us);
  assert.equal(q(T0 + 3 * MS), a, 'during a');
  assert.equal(q(T0 + 10 * MS), a, "after a's last send, before b");
  assert.equal(q(T0 + 21 * MS), b, 'after b began');
  // The event precedes its packet; within the slack (clock conversion, 1 ms) it still counts.
  assert.equal(q(T0 + 19.5 * MS), b);
  assert.equal(q(T0 + 18 * MS), a);
  assert.equal(q(T0 - 10 * MS), null, 'before any event');
  // Packets held together from T0+3ms to T0+25ms: some are a's, some b's — neither is named.
  assert.equal(t.lookup(flowTuple('UDP', '127.0.0.1', 40000, '127.0.0.1', 9999), T0 + 3 * MS, T0 + 25 * MS), AMBIGUOUS);
  assert.equal(t.lookup(flowTuple('UDP', '127.0.0.1', 40000, '127.0.0.1', 9999), T0 + 21 * MS, T0 + 25 * MS), b);
});

test('recent endpoints: complete only up to the horizon; spans with lost events answer nothing', () => {
  const t = new RecentEndpoints();
  assert.equal(t.ready(T0), false, 'nothing read yet');
  t.horizonUs = T0 + 10 * MS;
  assert.equal(t.ready(T0 + 9 * MS), true);
  assert.equal(t.ready(T0 + 9.5 * MS), false, 'within the slack of the horizon: an event for it may be unread');
  assert.equal(t.completeUntilUs(), T0 + 9 * MS);
  t.add(ev({ timeUs: T0 + 1 * MS }));
  t.markLoss(T0 + 10 * MS, T0 + 20 * MS);
  t.markLoss(T0 + 15 * MS, T0 + 30 * MS); // overlapping spans merge
  assert.equal(at(t, 'UDP', '127.0.0.1', 40000, '127.0.0.1', 9999, T0 + 5 * MS), a);
  assert.equal(at(t, 'UDP', '127.0.0.1', 40000, '127.0.0.1', 9999, T0 + 25 * MS), null, 'the reuse of its port may have been lost');
  assert.equal(t.lookup(flowTuple('UDP', '127.0.0.1', 40000, '127.0.0.1', 9999), T0 + 5 * MS, T0 + 12 * MS), null);
  assert.equal(at(t, 'UDP', '127.0.0.1', 40000, '127.0.0.1', 9999, T0 + 35 * MS), a);
  assert.equal(t.counts.lossy, 2);
});

test('recent endpoints: entries expire, and the table is bounded with counted evictions', () => {
  const t = new RecentEndpoints({ maxKeys: 3, maxPerKey: 2, maxAgeUs: 5 * SEC });
  t.add(ev({ timeUs: T0 }));
  assert.equal(at(t, 'UDP', '127.0.0.1', 40000, '127.0.0.1', 9999, T0 + 6 * SEC), null, 'too old to match');
  t.expire(T0 + 6 * SEC);
  assert.equal(t.size, 0);
  assert.equal(t.counts.expired, 1);
  const g = t.generation;
  for (let p = 1; p <= 4; p++) t.add(ev({ localPort: p, timeUs: T0 + 7 * SEC + p }));
  assert.equal(t.size, 3);
  assert.equal(t.counts.evicted, 1, 'the least recently updated key went');
  assert.ok(t.generation > g, 'kept entries are invalidated');
  assert.equal(at(t, 'UDP', '127.0.0.1', 1, '127.0.0.1', 9999, T0 + 7 * SEC + 10), null);
  assert.equal(at(t, 'UDP', '127.0.0.1', 4, '127.0.0.1', 9999, T0 + 7 * SEC + 10), a);
  for (let r = 1; r <= 3; r++) t.add(ev({ localPort: 4, remotePort: r, timeUs: T0 + 8 * SEC + r }));
  assert.equal(t.size, 4, 'at most 2 entries per key');
  assert.equal(t.counts.evicted, 3);
  assert.equal(t.counts.events, 8);
});

test('engine + recent endpoints: packets wait until the events up to their time are read; a sender gone before the scan is named; kernel verdicts stand', () => {
  const clock = { now: T0_MS + 10 };
  const recent = new RecentEndpoints();
  const scans: number[] = [];
  const e = new NettopEngine({ startUs: T0, intervalUs: 5 * SEC, now: () => clock.now, requestScan: () => scans.push(clock.now), recent });
  const empty = new SocketIndex([], new Map());
  e.setSnapshot(empty, T0_MS);
  recent.horizonUs = T0 + 1 * MS;
  // A short-lived UDP sender to a receiver this snapshot does not know either. Its event is not read yet.
  for (let i = 0; i < 40; i++) {
    e.side(T0 + 2 * MS + i, 'lo', XMIT, flowTuple('UDP', '127.0.0.1', 40000, '127.0.0.1', 9999), 0, 1042);
    e.side(T0 + 2 * MS + i, 'lo', RECV, flowTuple('UDP', '127.0.0.1', 9999, '127.0.0.1', 40000), 0, 1042);
  }
  assert.equal(e.heldCount, 2, 'both sides wait');
  assert.ok(scans.length >= 1);
  // The next read of the trace: its event, and complete past the packets. The sent side is named at once.
  recent.add(ev({ localPort: 40000, remotePort: 9999, timeUs: T0 + 1.5 * MS }));
  recent.horizonUs = T0 + 5 * MS;
  e.recentAdvanced();
  assert.equal(e.heldCount, 1, 'the received side waits for the rescan');
  // A TCP client whose packets arrive once it is gone: its event came before the scan that follows.
  recent.add(ev({ proto: 'TCP', localIp: '127.0.0.1', localPort: 50000, remotePort: 8080, timeUs: T0 + 3 * MS, owner: b }));
  e.side(T0 + 4 * MS, 'lo', RECV, flowTuple('TCP', '127.0.0.1', 50000, '127.0.0.1', 8080), 0x10, 100);
  // A SYN to a closed port nobody used: the kernel's, even when asked.
  e.side(T0 + 4 * MS, 'lo', RECV, flowTuple('TCP', '127.0.0.1', 1, '127.0.0.1', 50001), 0x02, 74);
  clock.now = T0_MS + 120;
  e.setSnapshot(empty, T0_MS + 110);
  assert.equal(e.heldCount, 0);
  const rows = e.takeInterval(0).map((r) => [r.pid, r.xmitPk, r.recvPk, r.uid, r.command]);
  assert.deepEqual(rows, [
    [0, 0, 41, 0, 'kernel'], // 40 datagrams to a port no socket holds (the receiver is not in /proc here), and the SYN
    [100, 40, 0, 0, 'burst-a'],
    [200, 0, 1, -1, 'burst-b'],
  ]);
  assert.equal(e.counts.unknown, 0);
  assert.equal(e.counts.traced, 2);
});

test('engine + recent endpoints: a process reusing the ports of an earlier one gets its own packets, even while its event is unread', () => {
  const clock = { now: T0_MS + 10 };
  const recent = new RecentEndpoints();
  const e = new NettopEngine({ startUs: T0, intervalUs: 5 * SEC, now: () => clock.now, requestScan: () => {}, recent });
  e.setSnapshot(new SocketIndex([], new Map()), T0_MS);
  recent.add(ev({ timeUs: T0 + 1 * MS, owner: a }));
  recent.horizonUs = T0 + 10 * MS;
  for (let i = 0; i < 5; i++) e.side(T0 + 2 * MS + i, 'lo', XMIT, flowTuple('UDP', '127.0.0.1', 40000, '127.0.0.1', 9999), 0, 1042);
  assert.equal(e.heldCount, 0, "a's packets: named at once");
  // b takes port 40000 to the same peer at T0+20ms; its packets are captured before its event is read.
  for (let i = 0; i < 7; i++) e.side(T0 + 21 * MS + i, 'lo', XMIT, flowTuple('UDP', '127.0.0.1', 40000, '127.0.0.1', 9999), 0, 1042);
  assert.equal(e.heldCount, 1, "b's packets wait: the cached verdict for a covers only what was read");
  recent.add(ev({ timeUs: T0 + 20 * MS, owner: b }));
  recent.horizonUs = T0 + 40 * MS;
  e.recentAdvanced();
  assert.equal(e.heldCount, 0);
  assert.deepEqual(e.takeInterval(0).map((r) => [r.pid, r.xmitPk]), [[200, 7], [100, 5]]);
});

test('engine without recent endpoints: the same sender is unknown (what the tracepoints fix)', () => {
  const clock = { now: T0_MS + 10 };
  const e = new NettopEngine({ startUs: T0, intervalUs: 5 * SEC, now: () => clock.now, requestScan: () => {} });
  e.setSnapshot(new SocketIndex([], new Map()), T0_MS);
  for (let i = 0; i < 40; i++) e.side(T0 + 2 * MS + i, 'lo', XMIT, flowTuple('UDP', '127.0.0.1', 40000, '127.0.0.1', 9999), 0, 1042);
  clock.now = T0_MS + 120;
  e.setSnapshot(new SocketIndex([], new Map()), T0_MS + 110);
  assert.deepEqual(e.takeInterval(0).map((r) => [r.pid, r.xmitPk]), [[-1, 40]]);
});

test('engine + recent endpoints: held packets of two processes that used the same ports in turn are split at the reuse, one by one', () => {
  const clock = { now: T0_MS + 10 };
  const recent = new RecentEndpoints();
  const e = new NettopEngine({ startUs: T0, intervalUs: 5 * SEC, now: () => clock.now, requestScan: () => {}, recent });
  e.setSnapshot(new SocketIndex([], new Map()), T0_MS);
  recent.horizonUs = T0;
  // a sends 3 datagrams from port 40000, exits; b takes the port to the same peer and sends 4; none read yet.
  for (let i = 0; i < 3; i++) e.side(T0 + 2 * MS + i, 'lo', XMIT, flowTuple('UDP', '127.0.0.1', 40000, '127.0.0.1', 9999), 0, 1042);
  for (let i = 0; i < 4; i++) e.side(T0 + 20 * MS + i, 'lo', XMIT, flowTuple('UDP', '127.0.0.1', 40000, '127.0.0.1', 9999), 0, 1042);
  assert.equal(e.heldCount, 1, 'one held flow');
  recent.add(ev({ timeUs: T0 + 1 * MS, owner: a }));
  recent.add(ev({ timeUs: T0 + 19 * MS, owner: b }));
  recent.horizonUs = T0 + 40 * MS;
  e.recentAdvanced();
  assert.equal(e.heldCount, 0);
  assert.deepEqual(e.takeInterval(0).map((r) => [r.pid, r.xmitPk]), [[200, 4], [100, 3]]);
  assert.equal(e.counts.ambiguous, 0);
  assert.equal(e.counts.unknown, 0);
});

test('engine + recent endpoints: too many held packets to split go to unknown, counted as ambiguous', () => {
  const clock = { now: T0_MS + 10 };
  const recent = new RecentEndpoints();
  const e = new NettopEngine({ startUs: T0, intervalUs: 5 * SEC, now: () => clock.now, requestScan: () => {}, recent });
  e.setSnapshot(new SocketIndex([], new Map()), T0_MS);
  recent.horizonUs = T0;
  for (let i = 0; i < 100; i++) e.side(T0 + 2 * MS + i * 200, 'lo', XMIT, flowTuple('UDP', '127.0.0.1', 40000, '127.0.0.1', 9999), 0, 1042);
  recent.add(ev({ timeUs: T0 + 1 * MS, owner: a }));
  recent.add(ev({ timeUs: T0 + 12 * MS, owner: b }));
  recent.horizonUs = T0 + 40 * MS;
  e.recentAdvanced();
  assert.deepEqual(e.takeInterval(0).map((r) => [r.pid, r.xmitPk]), [[-1, 100]]);
  assert.equal(e.counts.ambiguous, 100);
});
