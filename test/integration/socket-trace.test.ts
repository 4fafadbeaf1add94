// socket-trace against a known child: a Python process that, once told to go,
// makes a fixed list of socket calls and exits at once. Its rows, under its
// TID, must be exactly those calls, balanced call/return, with sock_sendmsg /
// sock_recvmsg nested inside sendto / recvfrom.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { need } from '../helpers/env.ts';
import { globalTracingState, netprobesInstances, probeInstances, startSource, TRACEFS, until } from '../helpers/tracefs.ts';
import { closeAllTracefsInstances } from '../../kernel/tracefs/instance.node.ts';
import { socketTraceSource } from '../../probes/socket-trace/source.node.ts';
import { socketTrace, type SockRow } from '../../probes/socket-trace/definition.ts';
import { printSocketTrace } from '../../probes/socket-trace/print.ts';

const children: ChildProcess[] = [];
after(() => {
  for (const c of children) c.kill('SIGKILL');
});

const CHILD = `
import socket, sys, os
if len(sys.argv) > 1:
    open('/proc/self/comm', 'w').write(sys.argv[1])
print('ready', flush=True)
sys.stdin.readline()
r = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
r.bind(('127.0.0.1', 0))
addr = r.getsockname()
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(3):
    s.sendto(b'hello', addr)
data, _ = r.recvfrom(100)
s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 65536)
os.write(1, b'done\\n')
os._exit(0)
`;

// Node gives a child's stdio as socketpairs: the child's read() of "go" and its
// write() of "done" pass through sock_recvmsg / sock_sendmsg, outside any socket syscall.
const EXPECTED: [string, string, number][] = [
  ['call', 'sock_recvmsg', 1], ['return', 'sock_recvmsg', 1],
  ['call', 'sys_socket', 1], ['return', 'sys_socket', 1],
  ['call', 'sys_bind', 1], ['return', 'sys_bind', 1],
  ['call', 'sys_getsockname', 1], ['return', 'sys_getsockname', 1],
  ['call', 'sys_socket', 1], ['return', 'sys_socket', 1],
  ...[0, 1, 2].flatMap((): [string, string, number][] => [
    ['call', 'sys_sendto', 1], ['call', 'sock_sendmsg', 2], ['return', 'sock_sendmsg', 2], ['return', 'sys_sendto', 1],
  ]),
  ['call', 'sys_recvfrom', 1], ['call', 'sock_recvmsg', 2], ['return', 'sock_recvmsg', 2], ['return', 'sys_recvfrom', 1],
  ['call', 'sys_setsockopt', 1], ['return', 'sys_setsockopt', 1],
  ['call', 'sock_sendmsg', 1], ['return', 'sock_sendmsg', 1],
];
const lastSeen = (rows: SockRow[]) => rows.length >= 2 && rows[rows.length - 1]!.func === 'sock_sendmsg' && rows[rows.length - 3]?.func === 'sys_setsockopt';

async function child(comm?: string): Promise<{ p: ChildProcess; done: Promise<void> }> {
  const p = spawn('/usr/bin/python3', ['-c', CHILD, ...(comm ? [comm] : [])], { stdio: ['pipe', 'pipe', 'inherit'] });
  children.push(p);
  let out = '';
  p.stdout!.on('data', (d) => (out += d));
  await until(() => out.includes('ready'), 10_000, 'child ready');
  const done = new Promise<void>((r) => p.on('exit', () => r()));
  return { p, done };
}

function checkRows(rows: SockRow[], tid: number, comm: string): void {
  assert.deepEqual(rows.map((r) => [r.direction, r.func, r.depth]), EXPECTED);
  for (const r of rows) {
    assert.equal(r.tid, tid);
    assert.equal(r.pid, tid);
    assert.equal(r.comm, comm);
  }
  // thread_indent's clock: 0 at each outermost call, never decreasing inside one.
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i]!;
    if (r.direction === 'call' && r.depth === 1) assert.equal(r.relUs, 0);
    else assert.ok(r.relUs >= rows[i - 1]!.relUs);
    if (i) assert.ok(r.time >= rows[i - 1]!.time);
  }
}

test('--pid: a known child\'s socket calls, balanced, nested, under its TID', { timeout: 30_000 }, async (t) => {
  if (!need(t, 'root')) return;
  const before = globalTracingState();
  const c = await child();
  const pid = c.p.pid!;
  const run = await startSource(socketTraceSource, { ...socketTrace.defaults, pid });
  assert.match(run.running.description, /syscall tracepoints.*sock_send_length.*function tracer/);
  assert.match(run.running.description, new RegExp(`pid ${pid}`));
  try {
    c.p.stdin!.write('go\n');
    await c.done;
    await until(() => lastSeen(run.rows()), 5000, 'the last return');
  } finally {
    await run.running.stop();
  }
  const rows = run.rows();
  assert.ok(rows.every((r) => r.pid === pid), 'the kernel filter let only the child through');
  checkRows(rows, pid, 'python3');
  assert.deepEqual(run.errors, []);
  assert.equal(run.running.counters().overruns, 0);
  // The seed's lines
  assert.deepEqual(printSocketTrace().rows(rows.slice(10, 14)).map((l) => l.replace(/^ *\d+/, 'T')), [
    `T python3(${pid}): -> sys_sendto`,
    `T python3(${pid}):  -> sock_sendmsg`,
    `T python3(${pid}):  <- sock_sendmsg`,
    `T python3(${pid}): <- sys_sendto`,
  ]);
  assert.deepEqual(netprobesInstances(), []);
  assert.deepEqual(globalTracingState(), before);
});

test('--comm: filtered in the kernel by thread name', { timeout: 30_000 }, async (t) => {
  if (!need(t, 'root')) return;
  const comm = `npst${process.pid % 100000}`;
  const c = await child(comm);
  const run = await startSource(socketTraceSource, { ...socketTrace.defaults, comm });
  try {
    c.p.stdin!.write('go\n');
    await c.done;
    await until(() => lastSeen(run.rows()), 5000, 'the last return');
  } finally {
    await run.running.stop();
  }
  checkRows(run.rows(), c.p.pid!, comm);
});

test('--rate: whole calls shed and counted, the rest balanced', { timeout: 30_000 }, async (t) => {
  if (!need(t, 'root')) return;
  const c = await child();
  const run = await startSource(socketTraceSource, { ...socketTrace.defaults, pid: c.p.pid!, rate: 3 });
  try {
    c.p.stdin!.write('go\n');
    await c.done;
    await until(() => run.running.counters().rateShed! + run.rows().filter((r) => r.depth === 1 && r.direction === 'return').length >= 11, 5000, 'all 11 calls');
  } finally {
    await run.running.stop();
  }
  const rows = run.rows();
  const top = rows.filter((r) => r.depth === 1 && r.direction === 'call').length;
  assert.equal(top, 3, 'a burst of 3 admitted');
  assert.equal(run.running.counters().rateShed, 8);
  let depth = 0;
  for (const r of rows) {
    depth += r.direction === 'call' ? 1 : -1;
    assert.ok(depth >= 0);
  }
  assert.equal(depth, 0);
});

// Honest numbers under load: a child named uniquely makes N sendto() calls as fast as Python goes, while this
// process's event loop — and so the probe's reader — is blocked (execFileSync) and the ring is shrunk to 8 KiB, so
// the kernel must overwrite events. Every event the child caused is then either seen (its rows) or counted lost:
//   events seen = call rows + return rows + unmatched returns + sock_* rows / 2 (each is a call and a return)
//   events seen + ring overruns + unparsed = 2 per syscall + 1 sock_send_length per sendto, exactly.
const BURST = `
import socket, sys
open('/proc/self/comm', 'w').write(sys.argv[1])
r = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
r.bind(('127.0.0.1', 0))
addr = r.getsockname()
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(int(sys.argv[2])):
    s.sendto(b'x', addr)
s.close()  # else the unclosed-socket warning's repr calls getsockname and getpeername
r.close()
`;
const BURST_EVENTS = (n: number) => 2 * 4 + 3 * n; // socket, bind, getsockname, socket; then enter, sock_send_length, exit per sendto

function seenEvents(rows: SockRow[], unmatched: number): number {
  const sys = rows.filter((r) => r.func.startsWith('sys_')).length;
  const sock = rows.filter((r) => r.func.startsWith('sock_')).length;
  assert.equal(sock % 2, 0);
  return sys + unmatched + sock / 2;
}

async function burst(n: number, shrink: boolean, closeFirst: boolean) {
  const comm = `npsb${process.pid % 100000}`;
  const run = await startSource(socketTraceSource, { ...socketTrace.defaults, comm, rate: 0 });
  const [inst] = probeInstances();
  if (shrink) writeFileSync(`${TRACEFS}/instances/${inst}/buffer_size_kb`, '8');
  execFileSync('/usr/bin/python3', ['-c', BURST, comm, String(n)], { stdio: ['ignore', 'ignore', 'inherit'], timeout: 60_000 });
  // As a SIGINT or SIGTERM does in the CLI and the collector: the exit handlers close the instance before the
  // probe's stop runs. What was still in the ring, and the kernel's loss counts, must not vanish with it.
  if (closeFirst) closeAllTracefsInstances();
  await run.running.stop();
  const c = run.running.counters();
  const rows = run.rows().filter((r) => r.comm === comm);
  assert.equal(rows.length, run.rows().length, 'only the child, filtered in the kernel');
  return { rows, c, seen: seenEvents(rows, c.unmatched!), lost: c.overruns! + c.unparsed! };
}

test('every event of a burst is shown or counted lost, exactly, when the ring overflows (stopped by a signal)', { timeout: 90_000 }, async (t) => {
  if (!need(t, 'root')) return;
  const n = 20_000;
  const { rows, c, seen, lost } = await burst(n, true, true);
  assert.ok(c.overruns! > 0, 'an 8 KiB ring with a blocked reader overflows');
  assert.equal(seen + lost, BURST_EVENTS(n), `seen ${seen} + lost ${lost}`);
  const calls = rows.filter((r) => r.func === 'sys_sendto' && r.direction === 'call').length;
  assert.ok(calls < n && calls + lost >= n, `sendto calls shown ${calls}, lost ${lost}`);
  // Depth stays sane across lost events: a syscall is never shown inside another.
  assert.ok(rows.every((r) => (r.func.startsWith('sys_') ? r.depth === 1 : r.depth <= 2)));
  assert.deepEqual(netprobesInstances(), []);
});

test('a burst with room in the ring: every sendto call shown, balanced, nothing lost', { timeout: 90_000 }, async (t) => {
  if (!need(t, 'root')) return;
  const n = 5_000;
  const { rows, c, seen, lost } = await burst(n, false, false);
  // 15,008 events of a few dozen bytes each in an 8 MiB-per-CPU ring, filtered to the child's name in the kernel:
  // room enough whatever else the machine runs, so nothing may be lost and the rows are exactly the calls.
  assert.equal(lost, 0);
  assert.equal(seen, BURST_EVENTS(n));
  assert.equal(rows.filter((r) => r.func === 'sys_sendto' && r.direction === 'call').length, n);
  assert.equal(rows.filter((r) => r.func === 'sys_sendto' && r.direction === 'return').length, n);
  assert.equal(c.unmatched, 0);
  assert.equal(c.unreturned, 0);
});
