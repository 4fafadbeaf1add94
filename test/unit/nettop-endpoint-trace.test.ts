// nettop's endpoint tracer, its pure part (endpoint-trace-logic.ts), on a page
// recorded on kernel 6.18 (CPU 1, fib/fib6/sock filters as the tracer sets
// them, no task-context filter so the softirq events are in): python3 (pid
// 15908) sent 3 UDP datagrams 127.0.0.1:59806 → :33811, one over IPv6
// [::1]:50347 → :54285, then connected TCP 58222 → 40359 on lo, accepted and
// closed. 16 records: 7 in softirq context, 3 repeats of the same UDP lookup.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseEventFormat, parseHeaderPage, type EventFormat } from '../../core/tracefs/format.ts';
import { walkPage, type PageLayout } from '../../core/tracefs/page.ts';
import type { Life } from '../../core/tracefs/task-ledger.ts';
import { flowTuple } from '../../attribution/flow.ts';
import { RecentEndpoints } from '../../attribution/recent-endpoints.ts';
import { COMMIT_MARGIN_US, ENDPOINT_EVENTS, EndpointTraceLogic, endpointFilters, type EndpointDecode, type TaskResolver } from '../../attribution/endpoint-trace-logic.ts';

const fx = (name: string) => readFileSync(join(__dirname, '..', 'fixtures', 'tracefs', name));
const hp = parseHeaderPage(fx('header_page').toString());
const layout: PageLayout = { timestampOffset: hp.timestamp.offset, commitOffset: hp.commit.offset, commitSize: hp.commit.size, dataOffset: hp.data.offset };
const FORMATS: Record<string, EventFormat> = {
  fib: parseEventFormat(fx('fib_table_lookup.format').toString()),
  fib6: parseEventFormat(fx('fib6_table_lookup.format').toString()),
  sock: parseEventFormat(fx('inet_sock_set_state.format').toString()),
};
const PID = 15908;
const CPU = 1;

/** The page's records, each as its own buffer, in order. */
interface RecordedEvent {
  buf: Buffer;
  tsNs: number;
}
const page = fx('endpoints-cpu1.page');
const RECORDS: RecordedEvent[] = [];
walkPage(page, 0, page.length, layout, (buf, off, len, tsNs) => RECORDS.push({ buf: Buffer.from(buf.subarray(off, off + len)), tsNs }));

/** Trace ns → epoch µs: a fixed offset. */
const OFFSET_US = 1_700_000_000_000_000;
const clock = Object.assign((tsNs: number) => Math.round(tsNs / 1000 + OFFSET_US), { recalibrate() {} });

const python: Life = { tid: PID, tgid: PID, command: 'python3', commandNs: 0, uid: 1000, startNs: -Infinity, exitNs: Infinity };

interface FakeTask {
  pid: number;
  live: boolean;
  netns: string | null;
}
function resolver(task: () => FakeTask): TaskResolver {
  return {
    lifeAt: (tid) => (tid === PID ? python : null),
    get: (tid) => {
      const t = task();
      return tid === PID ? { pid: t.pid, uid: 1000, command: 'python3', live: t.live } : { pid: -1, uid: -1, command: '?', live: false };
    },
    netns: () => task().netns,
  };
}

function setUp(task: () => FakeTask = () => ({ pid: PID, live: true, netns: 'net:[1]' })) {
  const table = new RecentEndpoints();
  const logic = new EndpointTraceLogic(table, resolver(task), clock, 'net:[1]');
  const decoders = new Map<number, EndpointDecode>();
  for (const { system } of ENDPOINT_EVENTS) decoders.set(FORMATS[system]!.id, logic.decoder(system, FORMATS[system]!));
  const feed = (records: RecordedEvent[]) => {
    for (const { buf, tsNs } of records) decoders.get(buf.readUInt16LE(0))!(buf, 0, buf.length, tsNs, CPU);
  };
  return { table, logic, feed };
}

const at = (table: RecentEndpoints, proto: 'UDP' | 'TCP', lip: string, lport: number, rip: string, rport: number, tsNs: number) =>
  table.lookup(flowTuple(proto, lip, lport, rip, rport), clock(tsNs), clock(tsNs));

test('endpoint trace: the recorded page decodes to its endpoints; softirq records skipped, repeats folded', () => {
  assert.equal(RECORDS.length, 16);
  const { table, logic, feed } = setUp();
  feed(RECORDS);
  assert.deepEqual(logic.counts, { read: 16, irq: 7, gone: 0, foreign: 0, unresolved: 0 });
  assert.equal(logic.pending.length, 7, '9 in task context, 2 of them repeats of the first');
  const udp = logic.pending[0]!;
  assert.deepEqual(
    { ...udp },
    { cpu: CPU, tid: PID, tsNs: RECORDS[0]!.tsNs, lastNs: RECORDS[2]!.tsNs, proto: 'UDP', localIp: '127.0.0.1', localPort: 59806, remoteIp: '127.0.0.1', remotePort: 33811 },
  );
  assert.deepEqual(
    logic.pending.map((p) => `${p.proto} ${p.localIp}:${p.localPort} ${p.remoteIp}:${p.remotePort}`),
    [
      'UDP 127.0.0.1:59806 127.0.0.1:33811',
      'UDP ::1:50347 ::1:54285',
      'TCP 127.0.0.1:58222 127.0.0.1:40359', // connect's route lookup
      'TCP 127.0.0.1:58222 127.0.0.1:40359', // SYN_SENT
      'TCP 127.0.0.1:58222 127.0.0.1:40359', // FIN_WAIT1: close
      'TCP 127.0.0.1:40359 127.0.0.1:58222', // the server's close
      'TCP 127.0.0.1:40359 127.0.0.1:58222',
    ],
  );

  logic.resolve(false);
  assert.equal(logic.pending.length, 0);
  assert.equal(table.counts.events, 8, '7 entries and the UDP repeats as one touch');
  const owner = { pid: PID, uid: 1000, command: 'python3' };
  assert.deepEqual(at(table, 'UDP', '127.0.0.1', 59806, '127.0.0.1', 33811, RECORDS[1]!.tsNs), owner);
  assert.deepEqual(at(table, 'UDP', '::1', 50347, '::1', 54285, RECORDS[3]!.tsNs), owner);
  assert.deepEqual(at(table, 'TCP', '127.0.0.1', 58222, '127.0.0.1', 40359, RECORDS[4]!.tsNs), owner);
  assert.deepEqual(at(table, 'TCP', '127.0.0.1', 40359, '127.0.0.1', 58222, RECORDS[15]!.tsNs), owner);
  assert.equal(at(table, 'UDP', '127.0.0.1', 59806, '127.0.0.1', 9, RECORDS[1]!.tsNs), null, 'another peer');
});

test('endpoint trace: a repeat in the next read only touches the entry the previous read resolved', () => {
  const { table, logic, feed } = setUp();
  feed(RECORDS.slice(0, 1));
  logic.resolve(false);
  assert.equal(table.counts.events, 1);
  feed(RECORDS.slice(1, 3));
  assert.equal(logic.pending.length, 0, 'no new pending event');
  assert.equal(table.counts.events, 3);
  assert.equal(table.size, 1);
  // Once the table dropped an entry (a new generation), a repeat is a new event again.
  table.generation++;
  feed(RECORDS.slice(2, 3));
  assert.equal(logic.pending.length, 1);
});

test('endpoint trace: a task not known yet is asked again at the next read, then counted unresolved', () => {
  let task: FakeTask = { pid: -1, live: false, netns: null };
  const { table, logic, feed } = setUp(() => task);
  feed(RECORDS.slice(0, 4));
  logic.resolve(false);
  assert.equal(logic.pending.length, 2, 'deferred: its fork may come with the next read');
  assert.equal(logic.counts.unresolved, 0);
  logic.resolve(false);
  assert.equal(logic.pending.length, 0);
  assert.equal(logic.counts.unresolved, 2);
  assert.equal(table.size, 0);
  // The last read defers nothing; a task known by then (its fork read) is named, as exited: gone.
  feed(RECORDS.slice(4, 5));
  task = { pid: PID, live: false, netns: null };
  logic.resolve(true);
  assert.equal(logic.counts.gone, 1);
  assert.equal(table.size, 1);
});

test("endpoint trace: another namespace's task is foreign, and its repeats are skipped in the decoder", () => {
  const { table, logic, feed } = setUp(() => ({ pid: PID, live: true, netns: 'net:[2]' }));
  feed(RECORDS.slice(0, 1));
  logic.resolve(false);
  assert.equal(logic.counts.foreign, 1);
  feed(RECORDS.slice(1, 3));
  assert.equal(logic.pending.length, 0);
  assert.equal(logic.counts.foreign, 3);
  assert.equal(table.size, 0);
});

test('endpoint trace: the horizon after a complete read, held before an unresolved event; losses mark a span', () => {
  let task: FakeTask = { pid: -1, live: false, netns: null };
  const { table, logic, feed } = setUp(() => task);
  feed(RECORDS.slice(0, 1));
  logic.resolve(false); // deferred
  const doneNs = RECORDS[15]!.tsNs + 1e6;
  logic.completeRead(doneNs, { missedPages: 0 });
  assert.equal(table.horizonUs, clock(RECORDS[0]!.tsNs), 'not past the event left for the next read');
  task = { pid: PID, live: true, netns: null };
  logic.resolve(false);
  logic.completeRead(doneNs, { missedPages: 0 });
  assert.equal(table.horizonUs, clock(doneNs) - COMMIT_MARGIN_US);
  const before = table.horizonUs;
  assert.deepEqual(at(table, 'UDP', '127.0.0.1', 59806, '127.0.0.1', 33811, RECORDS[0]!.tsNs), { pid: PID, uid: 1000, command: 'python3' });

  // A page flagged as following overwritten events: the span since the previous complete read is lost.
  const laterNs = doneNs + 40e6;
  logic.completeRead(laterNs, { missedPages: 1 });
  const horizon = clock(laterNs) - COMMIT_MARGIN_US;
  assert.equal(table.horizonUs, horizon);
  const lossy = table.counts.lossy;
  table.add({ proto: 'UDP', localIp: '0.0.0.0', localPort: 1, remoteIp: '127.0.0.1', remotePort: 2, timeUs: before + 10, owner: { pid: 1, uid: 0, command: 'x' } });
  assert.equal(table.lookup(flowTuple('UDP', '127.0.0.1', 1, '127.0.0.1', 2), before + 20, before + 20), null);
  assert.equal(table.counts.lossy, lossy + 1);
  // The same count again marks nothing; the kernel's count, when its stats were read, reaches a second back.
  logic.completeRead(laterNs + 40e6, { missedPages: 1, statsOverruns: 0 });
  table.add({ proto: 'UDP', localIp: '0.0.0.0', localPort: 3, remoteIp: '127.0.0.1', remotePort: 4, timeUs: horizon + 10_000, owner: { pid: 1, uid: 0, command: 'x' } });
  assert.deepEqual(table.lookup(flowTuple('UDP', '127.0.0.1', 3, '127.0.0.1', 4), horizon + 20_000, horizon + 20_000), { pid: 1, uid: 0, command: 'x' });
  logic.completeRead(laterNs + 80e6, { missedPages: 1, statsOverruns: 5 });
  assert.equal(table.lookup(flowTuple('UDP', '127.0.0.1', 3, '127.0.0.1', 4), horizon + 20_000, horizon + 20_000), null, 'within the second before');
});

test('endpoint trace: the kernel filters, with the task-context test first', () => {
  assert.deepEqual(endpointFilters('protocol == 6'), ['protocol == 6 && !(common_flags & 88)', 'protocol == 6']);
  assert.deepEqual(
    ENDPOINT_EVENTS.map((e) => `${e.system}:${e.event}`),
    ['fib:fib_table_lookup', 'fib6:fib6_table_lookup', 'sock:inet_sock_set_state'],
  );
});
