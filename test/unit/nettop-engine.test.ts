// nettop's engine (flow cache, held packets, verdicts, intervals) and its seed
// printer, driven by socket snapshots built from real /proc text.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { flowTuple } from '../../attribution/flow.ts';
import { SocketIndex, type Owner } from '../../attribution/socket-index.ts';
import { NettopEngine, type EngineOptions } from '../../probes/nettop/engine.ts';
import { RECV, XMIT } from '../../attribution/flow.ts';
import { nettop, type NettopRow } from '../../probes/nettop/definition.ts';
import { linkHeaderLength } from '../../probes/nettop/link.ts';
import { csvHeader } from '../../core/format.ts';
import { fixtureSockets } from './nettop-fixtures.ts';
import { printNettop } from '../../probes/nettop/print.ts';

const T0_MS = 1_700_000_000_000;
const T0 = T0_MS * 1000; // µs
const SEC = 1_000_000;

const server: Owner = { pid: 4242, uid: 1000, command: 'server' };
const client: Owner = { pid: 4343, uid: 0, command: 'client' };

/** The fixture's sockets: 10744 (accepted end of :45001) held by `server`, 10743 (its client end) by `client`, the rest by 8095. */
function snapshot(owners: [number, Owner][] = [[10744, server], [10743, client], [10742, server]]): SocketIndex {
  return new SocketIndex(fixtureSockets(), new Map(owners));
}

function engine(clock: { now: number }, extra: Partial<EngineOptions> = {}) {
  const scans: number[] = [];
  const e = new NettopEngine({
    startUs: T0,
    intervalUs: 5 * SEC,
    now: () => clock.now,
    requestScan: () => scans.push(clock.now),
    ...extra,
  });
  return { e, scans };
}

const pick = (rows: NettopRow[]) => rows.map((r) => [r.pid, r.dev, r.xmitPk, r.recvPk, r.xmitBytes, r.recvBytes, r.command, r.uid]);

test('engine: on lo one packet is XMIT for the sending socket and RECV for the receiving one', () => {
  const clock = { now: T0_MS + 10 };
  const { e, scans } = engine(clock);
  e.setSnapshot(snapshot(), T0_MS);
  for (let i = 0; i < 200; i++) {
    const t = T0 + 1000 + i;
    // client 127.0.0.1:56428 → server 127.0.0.1:45001, 1042-byte frames
    e.side(t, 'lo', XMIT, flowTuple('TCP', '127.0.0.1', 56428, '127.0.0.1', 45001), 0x18, 1042);
    e.side(t, 'lo', RECV, flowTuple('TCP', '127.0.0.1', 45001, '127.0.0.1', 56428), 0x18, 1042);
  }
  const rows = e.takeInterval(0);
  assert.deepEqual(pick(rows), [
    [4242, 'lo', 0, 200, 0, 208400, 'server', 1000],
    [4343, 'lo', 200, 0, 208400, 0, 'client', 0],
  ]);
  assert.equal(rows[0]!.time, T0 + 5 * SEC);
  assert.equal(rows[0]!.recvKb, 203); // floor(208400 / 1024), as the seed
  assert.deepEqual(e.counts, { attributed: 400, kernel: 0, unknown: 0, held: 0, holdOverflow: 0, traced: 0, ambiguous: 0 });
  assert.equal(scans.length, 0, 'every packet was found in the snapshot or the flow cache: no rescan');
  assert.deepEqual(e.takeInterval(1), [], 'tables reset each interval');
});

test('engine: a socket newer than the snapshot is held, rescanned once, and attributed', () => {
  const clock = { now: T0_MS + 100 };
  const { e, scans } = engine(clock);
  e.setSnapshot(new SocketIndex([], new Map()), T0_MS); // scanned before the socket existed
  for (let i = 0; i < 50; i++) e.side(T0 + 50_000 + i, 'lo', RECV, flowTuple('UDP', '127.0.0.1', 45003, '127.0.0.1', 5000), 0, 1042);
  assert.equal(scans.length, 1, 'one rescan for the whole burst');
  assert.equal(e.heldCount, 1);
  assert.deepEqual(e.takeInterval(-1), []);
  clock.now = T0_MS + 150;
  e.setSnapshot(snapshot([[10748, server]]), T0_MS + 120);
  assert.equal(e.heldCount, 0);
  assert.deepEqual(pick(e.takeInterval(0)), [[4242, 'lo', 0, 50, 0, 52100, 'server', 1000]]);
  assert.equal(e.counts.held, 50);
});

test('engine: when a snapshot newer than the packet has no owner, kernel or unknown — never a guess', () => {
  const clock = { now: T0_MS + 1000 };
  const { e, scans } = engine(clock);
  e.setSnapshot(snapshot(), T0_MS + 500);
  const t = T0 + 600_000 - 500_000; // captured before the snapshot's scan began
  // A datagram to a closed port: the kernel answers it (ICMP port unreachable).
  e.side(t, 'lo', RECV, flowTuple('UDP', '127.0.0.1', 9, '127.0.0.1', 40000), 0, 1042);
  // Sent from a socket that is gone: someone sent it, we cannot say who.
  e.side(t, 'lo', XMIT, flowTuple('UDP', '127.0.0.1', 40000, '127.0.0.1', 9), 0, 1042);
  // A SYN to a port nobody listens on, and the RST the kernel sends back.
  e.side(t, 'eth0', RECV, flowTuple('TCP', '127.0.0.1', 9, '127.0.0.1', 40001), 0x02, 74);
  e.side(t, 'eth0', XMIT, flowTuple('TCP', '127.0.0.1', 9, '127.0.0.1', 40001), 0x14, 54);
  // Data of a connection in TIME_WAIT whose owner we never saw.
  e.side(t, 'lo', XMIT, flowTuple('TCP', '127.0.0.1', 56998, '127.0.0.1', 45007), 0x18, 100);
  // Forwarded: not one of our addresses.
  e.side(t, 'eth0', RECV, flowTuple('UDP', '192.0.2.1', 53, '192.0.2.2', 4000), 0, 80);
  e.kernel(t, 'eth0', RECV, 60); // ARP
  e.unknown(t, 'eth0', RECV, 256); // TCP cut by the snap length
  assert.equal(scans.length, 0);
  assert.deepEqual(pick(e.takeInterval(0)), [
    [0, 'eth0', 1, 3, 54, 214, 'kernel', 0],
    [-1, 'lo', 2, 0, 1142, 0, 'unknown', -1],
    [0, 'lo', 0, 1, 0, 1042, 'kernel', 0],
    [-1, 'eth0', 0, 1, 0, 256, 'unknown', -1],
  ]);
  assert.deepEqual([e.counts.kernel, e.counts.unknown, e.counts.attributed], [5, 3, 0]);
});

test('engine: held packets still unresolved by a scan that began before them wait for the next one', () => {
  const clock = { now: T0_MS + 100 };
  const { e, scans } = engine(clock);
  e.setSnapshot(new SocketIndex([], new Map()), T0_MS);
  e.side(T0 + 200_000, 'lo', RECV, flowTuple('UDP', '127.0.0.1', 9, '127.0.0.1', 1), 0, 100);
  e.setSnapshot(new SocketIndex([], new Map()), T0_MS + 150); // began before the packet
  assert.equal(e.heldCount, 1);
  assert.equal(scans.length, 2, 'asked again');
  e.setSnapshot(new SocketIndex([], new Map()), T0_MS + 250);
  assert.equal(e.heldCount, 0);
  assert.deepEqual(pick(e.takeInterval(0)), [[0, 'lo', 0, 1, 0, 100, 'kernel', 0]]);
});

test('engine: owners are kept while their socket lives and for a while after, then forgotten', () => {
  const clock = { now: T0_MS };
  const { e } = engine(clock, { limits: { positiveTtlMs: 5000 } });
  e.setSnapshot(snapshot(), T0_MS);
  e.side(T0 + 1, 'lo', XMIT, flowTuple('TCP', '127.0.0.1', 56428, '127.0.0.1', 45001), 0x10, 66);
  // The connection closes; the next scan no longer lists it. Its FIN still goes to its process.
  const gone = new SocketIndex([], new Map());
  clock.now = T0_MS + 2000;
  e.setSnapshot(gone, T0_MS + 2000);
  e.side(T0 + 2_100_000, 'lo', XMIT, flowTuple('TCP', '127.0.0.1', 56428, '127.0.0.1', 45001), 0x11, 66);
  // Past the TTL the entry expires; a packet of that flow is then judged afresh.
  clock.now = T0_MS + 8000;
  e.setSnapshot(gone, T0_MS + 8000);
  assert.equal(e.flowCount, 0);
  e.side(T0 + 4_000_000, 'lo', XMIT, flowTuple('TCP', '127.0.0.1', 56428, '127.0.0.1', 45001), 0x18, 66);
  assert.deepEqual(pick(e.takeInterval(0)), [
    [4343, 'lo', 2, 0, 132, 0, 'client', 0],
    [-1, 'lo', 1, 0, 66, 0, 'unknown', -1],
  ]);
});

test('engine: a kernel verdict is revised when a socket appears on that port', () => {
  const clock = { now: T0_MS + 10 };
  const { e } = engine(clock);
  e.setSnapshot(new SocketIndex([], new Map()), T0_MS + 5);
  e.side(T0 + 1000, 'lo', RECV, flowTuple('UDP', '127.0.0.1', 45003, '127.0.0.1', 5000), 0, 100); // closed port
  e.setSnapshot(snapshot([[10748, server]]), T0_MS + 20); // a server bound it meanwhile
  e.side(T0 + 30_000, 'lo', RECV, flowTuple('UDP', '127.0.0.1', 45003, '127.0.0.1', 5000), 0, 100);
  assert.deepEqual(pick(e.takeInterval(0)), [
    [0, 'lo', 0, 1, 0, 100, 'kernel', 0],
    [4242, 'lo', 0, 1, 0, 100, 'server', 1000],
  ]);
});

test('engine: intervals follow capture time; stragglers go to the next open table', () => {
  const clock = { now: T0_MS };
  const { e } = engine(clock);
  e.setSnapshot(snapshot(), T0_MS);
  const send = (t: number) => e.side(t, 'lo', XMIT, flowTuple('TCP', '127.0.0.1', 56428, '127.0.0.1', 45001), 0x10, 66);
  send(T0 + 4_999_999); // interval 0
  send(T0 + 5_000_000); // interval 1
  send(T0 + 5_000_001);
  const first = e.takeInterval(0);
  assert.deepEqual(first.map((r) => [r.xmitPk, r.time]), [[1, T0 + 5 * SEC]]);
  send(T0 + 4_999_000); // arrives after interval 0 went out: counted in interval 1
  send(T0 + 60 * SEC); // a clock jump forward: at most the interval after the next
  assert.deepEqual(e.takeInterval(1).map((r) => [r.xmitPk, r.time]), [[3, T0 + 10 * SEC]]);
  assert.deepEqual(e.takeInterval(2).map((r) => r.xmitPk), [1]);
});

test('engine: rows sorted by packets, then bytes, pid and device', () => {
  const clock = { now: T0_MS };
  const { e } = engine(clock);
  e.setSnapshot(snapshot(), T0_MS);
  e.kernel(T0 + 1, 'eth0', RECV, 10);
  e.kernel(T0 + 1, 'lo', RECV, 10);
  e.kernel(T0 + 1, 'lo', XMIT, 10);
  e.unknown(T0 + 1, 'eth0', RECV, 500);
  assert.deepEqual(e.takeInterval(0).map((r) => [r.pid, r.dev]), [[0, 'lo'], [-1, 'eth0'], [0, 'eth0']]);
});

test('engine: every table is bounded', () => {
  const clock = { now: T0_MS + 10 };
  const { e } = engine(clock, { limits: { maxPending: 3, maxFlows: 10 } });
  e.setSnapshot(new SocketIndex([], new Map()), T0_MS);
  for (let port = 1; port <= 5; port++) e.side(T0 + 20_000, 'lo', RECV, flowTuple('UDP', '127.0.0.1', port, '127.0.0.1', 1), 0, 100);
  assert.equal(e.heldCount, 3);
  assert.equal(e.counts.holdOverflow, 2);
  e.setSnapshot(new SocketIndex([], new Map()), T0_MS + 50);
  for (let port = 100; port < 200; port++) e.side(T0 + 40_000, 'lo', RECV, flowTuple('UDP', '127.0.0.1', port, '127.0.0.1', 1), 0, 100);
  assert.equal(e.flowCount, 10);
  const rows = e.takeInterval(0);
  assert.deepEqual(pick(rows), [
    [0, 'lo', 0, 103, 0, 10300, 'kernel', 0],
    [-1, 'lo', 0, 2, 0, 200, 'unknown', -1],
  ]);
});

test('link: frame lengths as the device sees them', () => {
  assert.equal(linkHeaderLength(772), 14); // lo
  assert.equal(linkHeaderLength(1), 14); // Ethernet, veth
  assert.equal(linkHeaderLength(65534), 0); // tun
  assert.equal(linkHeaderLength(776), 0); // sit
});

test('definition: CSV columns and nettop.stp layout', () => {
  assert.equal(csvHeader(nettop.columns), 'TIME,PID,UID,DEV,XMIT_PK,RECV_PK,XMIT_KB,RECV_KB,COMMAND,XMIT_BYTES,RECV_BYTES');
  const p = printNettop();
  const rows: NettopRow[] = [
    { time: 0, pid: 2886, uid: 4, dev: 'eth0', xmitPk: 79, recvPk: 0, xmitKb: 5, recvKb: 0, command: 'cups-polld', xmitBytes: 5200, recvBytes: 0, cgroup: 'cups.service' },
    { time: 0, pid: 0, uid: 0, dev: 'eth0', xmitPk: 3, recvPk: 32, xmitKb: 0, recvKb: 3, command: 'kernel', xmitBytes: 200, recvBytes: 3100, cgroup: '' },
    { time: 0, pid: -1, uid: -1, dev: 'lo', xmitPk: 1, recvPk: 0, xmitKb: 0, recvKb: 0, command: 'unknown', xmitBytes: 66, recvBytes: 0, cgroup: '' },
  ];
  assert.deepEqual(p.begin(), []);
  // printf("%5d %5d %-7s %7d %7d %7d %7d %-15s\n") — the seed's own lines, trailing padding included.
  assert.deepEqual(p.rows(rows), [
    '  PID   UID DEV     XMIT_PK RECV_PK XMIT_KB RECV_KB COMMAND        ',
    ' 2886     4 eth0         79       0       5       0 cups-polld     ',
    '    0     0 eth0          3      32       0       3 kernel         ',
    '   -1    -1 lo            1       0       0       0 unknown        ',
    '',
  ]);
  assert.deepEqual(p.rows([]), ['  PID   UID DEV     XMIT_PK RECV_PK XMIT_KB RECV_KB COMMAND        ', '']);
  assert.deepEqual(nettop.options.parse({ interval: 5, ifaces: ['lo'] }), { interval: 5, ifaces: ['lo'] });
  assert.throws(() => nettop.options.parse({ interval: 61, ifaces: [] }));
  assert.throws(() => nettop.options.parse({ interval: 0, ifaces: [] }));
  assert.deepEqual(nettop.options.parse(nettop.defaults), { interval: 5, ifaces: [] });
});
