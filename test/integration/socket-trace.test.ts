// socket-trace against a known child: a Python process that, once told to go,
// makes a fixed list of socket calls and exits at once. Its rows, under its
// TID, must be exactly those calls, balanced call/return, with sock_sendmsg /
// sock_recvmsg nested inside sendto / recvfrom.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { need } from '../helpers/env.ts';
import { globalTracingState, netprobesInstances, startSource, until } from '../helpers/tracefs.ts';
import { socketTraceSource } from '../../electron/probes/socket-trace/source.node.ts';
import { socketTrace, type SockRow } from '../../electron/probes/socket-trace/definition.ts';

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
  assert.deepEqual(socketTrace.printer().rows(rows.slice(10, 14)).map((l) => l.replace(/^ *\d+/, 'T')), [
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
