// Drops attributed to the process, against the kernel's own count: a UDP
// socket with a 4 KiB receive buffer that never reads is sent 2,000 datagrams
// on lo; `netprobes dropwatch --format csv` must show SOCKET_RCVBUFF drops with
// that process's PID and command, summing exactly to the socket's own `drops`
// counter in /proc/net/udp.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { readFileSync } from 'node:fs';
import { spawn, type ChildProcess } from 'node:child_process';
import { need } from '../helpers/env.ts';
import { netprobes, waitForOutput } from '../helpers/run.ts';
import { readSocketTables } from '../../kernel/procfs/proc.node.ts';
import { parseCsv } from '../helpers/csv.ts';

const children: ChildProcess[] = [];
after(() => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
});

// Binds a UDP socket with SO_RCVBUF 4096 on 127.0.0.1, prints its port, and never reads.
const SINK = `
import ctypes, socket, sys, time
ctypes.CDLL(None).prctl(15, b'np16-sink', 0, 0, 0)  # PR_SET_NAME: a command no other process has
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
s.bind(('127.0.0.1', 0))
print(s.getsockname()[1], flush=True)
time.sleep(120)
`;

function startSink(): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn('/usr/bin/python3', ['-c', SINK], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  return new Promise((resolve, reject) => {
    child.stdout!.once('data', (d) => resolve({ child, port: Number(String(d).trim()) }));
    child.on('exit', (code) => reject(new Error(`sink exited with ${code}`)));
  });
}

async function send(port: number, n: number): Promise<void> {
  const s = dgram.createSocket('udp4');
  const payload = Buffer.alloc(200, 0x61);
  for (let i = 0; i < n; i++) await new Promise<void>((r, j) => s.send(payload, port, '127.0.0.1', (e) => (e ? j(e) : r())));
  await new Promise<void>((r) => s.close(() => r()));
}

test('dropwatch --format csv: SOCKET_RCVBUFF drops carry the receiver\'s PID and command, summing to its socket\'s drops counter', { timeout: 60_000 }, async (t) => {
  if (!need(t, 'root')) return;
  const sink = await startSink();
  const pid = sink.child.pid!;
  const comm = readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  const run = netprobes(['dropwatch', '--format', 'csv', '--interval', '1', '--duration', '6']);
  // The header is printed once the tracepoint is on.
  await waitForOutput(run.child, /TIME,COUNT,LOCATION,REASON,PROTOCOL,PID,COMMAND/);
  await send(sink.port, 2000);
  const out = await run.done;
  assert.equal(out.code, 0, out.stderr);
  // The kernel's own count, read once dropwatch has ended (every drop it could count is done) while the socket still exists.
  const socket = readSocketTables('/proc/net', (f) => f === 'udp').sockets.find((s) => s.localPort === sink.port);
  assert.ok(socket, 'the sink socket is in /proc/net/udp');
  const kernelDrops = socket.drops!;
  assert.ok(kernelDrops > 1500, `the socket dropped ${kernelDrops} of 2000 (a 4 KiB buffer holds a few)`);
  const rows = parseCsv(out.stdout);
  assert.deepEqual(rows[0], ['TIME', 'COUNT', 'LOCATION', 'REASON', 'PROTOCOL', 'PID', 'COMMAND']);
  const mine = rows.slice(1).filter((r) => r[3] === 'SOCKET_RCVBUFF' && r[5] === String(pid));
  t.diagnostic(`socket drops counter ${kernelDrops}; rows ${JSON.stringify(mine)}`);
  assert.ok(mine.length > 0, `SOCKET_RCVBUFF rows for PID ${pid}:\n${out.stdout}`);
  for (const r of mine) assert.equal(r[6], comm);
  assert.equal(
    mine.reduce((n, r) => n + Number(r[1]), 0),
    kernelDrops,
    'the drops attributed to the sink equal its socket\'s own drops counter',
  );
  // Nothing of it went to an unknown owner.
  assert.ok(!rows.slice(1).some((r) => r[3] === 'SOCKET_RCVBUFF' && r[6] === '?'), out.stdout);
  assert.match(out.stderr, /drops at a local socket: \d+ attributed to their process, 0 not/);
  sink.child.kill('SIGKILL');
});

test('dropwatch --explain: the table names the process and says what to do', { timeout: 60_000 }, async (t) => {
  if (!need(t, 'root')) return;
  const sink = await startSink();
  const pid = sink.child.pid!;
  const run = netprobes(['dropwatch', '--explain', '--interval', '1', '--duration', '4']);
  await waitForOutput(run.child, /Monitoring for dropped packets/); // printed once the tracepoint is on
  await send(sink.port, 300);
  const out = await run.done;
  assert.equal(out.code, 0, out.stderr);
  assert.match(out.stdout, new RegExp(`^\\d+ packets dropped at \\S+\\n(?:    .*\\n)*    \\d+ SOCKET_RCVBUFF np16-sink \\(PID ${pid}\\): Np16-sink \\(PID ${pid}\\) does not read its socket fast enough: its receive buffer was full.*What to do: raise SO_RCVBUF`, 'm'));
  sink.child.kill('SIGKILL');
});
