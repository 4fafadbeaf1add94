import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Indenter, type TraceEvent } from '../../probes/socket-trace/indent.ts';
import { socketTrace } from '../../probes/socket-trace/definition.ts';
import { csvHeader } from '../../core/format.ts';
import { seedLine } from '../../probes/socket-trace/print.ts';

const who = (tid: number) => ({ pid: tid === 11 ? 10 : tid, command: tid === 11 ? 'worker' : 'python3' });
const us = (ns: number) => ns / 1000;
const e = (kind: TraceEvent['kind'], tsUs: number, tid: number, func: string): TraceEvent => ({ kind, tsNs: tsUs * 1000, tid, func });

test('thread_indent numbering and indentation, per thread, sock events nested', () => {
  const ind = new Indenter(who, us, 0);
  const rows = ind.process([
    e('enter', 100, 10, 'sys_sendto'),
    e('enter', 101, 11, 'sys_recvfrom'),
    e('inner', 104, 10, 'sock_sendmsg'),
    e('exit', 108, 10, 'sys_sendto'),
    e('inner', 120, 11, 'sock_recvmsg'),
    e('exit', 125, 11, 'sys_recvfrom'),
    e('enter', 200, 10, 'sys_socket'),
    e('exit', 203, 10, 'sys_socket'),
  ]);
  assert.deepEqual(rows.filter((r) => r.tid === 10).map(seedLine), [
    '     0 python3(10): -> sys_sendto',
    '     4 python3(10):  -> sock_sendmsg',
    '     4 python3(10):  <- sock_sendmsg',
    '     8 python3(10): <- sys_sendto',
    '     0 python3(10): -> sys_socket',
    '     3 python3(10): <- sys_socket',
  ]);
  assert.deepEqual(rows.filter((r) => r.tid === 11).map((r) => [r.pid, r.comm, r.relUs, r.depth, r.direction, r.func]), [
    [10, 'worker', 0, 1, 'call', 'sys_recvfrom'],
    [10, 'worker', 19, 2, 'call', 'sock_recvmsg'],
    [10, 'worker', 19, 2, 'return', 'sock_recvmsg'],
    [10, 'worker', 24, 1, 'return', 'sys_recvfrom'],
  ]);
  assert.equal(rows[0]!.time, 100);
});

test('a return whose call was before the start is skipped and counted', () => {
  const ind = new Indenter(who, us, 0);
  assert.deepEqual(ind.process([e('exit', 5, 10, 'sys_accept4'), e('inner', 6, 10, 'sock_recvmsg')]).map((r) => r.depth), [1, 1]);
  assert.equal(ind.counts.unmatched, 1);
});

test('a lost return (the thread enters its next syscall) closes the open call without a row, counted', () => {
  const ind = new Indenter(who, us, 1);
  const rows = ind.process([
    e('enter', 0, 10, 'sys_sendto'),
    e('inner', 1, 10, 'sock_sendmsg'),
    // the exit of sys_sendto was lost in the kernel
    e('enter', 10, 10, 'sys_sendto'), // rate limited: shed, whole
    e('inner', 11, 10, 'sock_sendmsg'),
    e('exit', 12, 10, 'sys_sendto'),
    e('enter', 2_000_000, 10, 'sys_recvfrom'),
    e('exit', 2_000_005, 10, 'sys_recvfrom'),
  ]);
  assert.equal(ind.counts.unreturned, 1);
  assert.equal(ind.counts.rateShed, 1, 'the second sendto was a top-level call again, not nested in the first');
  assert.deepEqual(rows.map((r) => [r.depth, r.direction, r.func, r.relUs]), [
    [1, 'call', 'sys_sendto', 0],
    [2, 'call', 'sock_sendmsg', 1],
    [2, 'return', 'sock_sendmsg', 1],
    [1, 'call', 'sys_recvfrom', 0],
    [1, 'return', 'sys_recvfrom', 5],
  ]);
  assert.equal(ind.counts.unmatched, 0);
});

test('rate limit sheds whole top-level calls and counts them', () => {
  const ind = new Indenter(who, us, 2);
  const evs: TraceEvent[] = [];
  for (let i = 0; i < 5; i++) evs.push(e('enter', i * 10, 10, 'sys_sendto'), e('inner', i * 10 + 1, 10, 'sock_sendmsg'), e('exit', i * 10 + 2, 10, 'sys_sendto'));
  const rows = ind.process(evs);
  assert.equal(rows.length, 8); // two calls of four rows
  assert.equal(ind.counts.rateShed, 3);
  // A second later the bucket is full again.
  assert.equal(ind.process([e('enter', 2_000_000, 10, 'sys_bind'), e('exit', 2_000_001, 10, 'sys_bind')]).length, 2);
});

test('definition: CSV columns as issue 4 states', () => {
  assert.equal(csvHeader(socketTrace.columns), 'TIME,REL_US,COMM,PID,TID,DEPTH,DIRECTION,FUNCTION');
  assert.deepEqual(socketTrace.options.parse(socketTrace.defaults), socketTrace.defaults);
  assert.throws(() => socketTrace.options.parse({ ...socketTrace.defaults, comm: 'a"b' }));
  assert.throws(() => socketTrace.options.parse({ ...socketTrace.defaults, comm: 'x'.repeat(16) }));
});
