// nettop, as root, with processes too short-lived for /proc: each opens a
// socket, sends and exits within a few ms, so by the time a rescan runs its
// socket (and often the process) is gone. The tracepoints in the sending
// task's context (attribution/recent-endpoints-trace.node.ts), with the task
// events that tell who an exited task was (tracefs/tasks.node.ts), must still
// name them: exact packets and bytes on their own PIDs and commands, nothing
// of theirs in the unknown row — also when the socket is a thread's. With the
// tracepoints off, /proc alone must leave them on their PID or honestly
// unknown, never on another process. The CLI runs in a namespace of its own,
// where lo carries only this test's traffic. Traffic only on lo and in
// namespaces made and removed here.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { need } from '../helpers/env.ts';
import { nettopCli } from '../helpers/nettop-cli.ts';
import { referenceCapture, sides } from '../helpers/reference-capture.ts';
import { netprobesInstances, probeInstances, staleInstances, TRACEFS } from '../helpers/tracefs.ts';
import { nettopSource } from '../../probes/nettop/source.node.ts';
import type { NettopRow } from '../../probes/nettop/definition.ts';

const run = promisify(execFile);
const PEER = new URL('./nettop-peer.mjs', import.meta.url).pathname;
const CHILD = new URL('../helpers/tracefs-child.ts', import.meta.url).pathname;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
// The only sleeps here wait for time itself: past nettop's periodic /proc refresh (every 2 s), so the senders start
// in a span no periodic scan has covered. Nothing waits before a stop: stop drains the capture, reads every
// tracepoint event up to then and settles the held packets (probes/nettop/source.node.ts).

const cleanups: (() => Promise<void> | void)[] = [];
after(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A peer process: its PID, its first JSON line, and its exit. */
function spawnPeer(name: string, args: (string | number)[], netns?: string) {
  const argv = [PEER, name, ...args.map(String)];
  const child = netns
    ? spawn('ip', ['netns', 'exec', netns, process.execPath, ...argv], { stdio: ['pipe', 'pipe', 'inherit'] })
    : spawn(process.execPath, argv, { stdio: ['pipe', 'pipe', 'inherit'] });
  child.stdin!.on('error', () => {}); // a short-lived peer is gone before its stdin closes
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const first = new Promise<Record<string, unknown>>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`${name}: no report in 20 s`)), 20_000);
    createInterface({ input: child.stdout! }).once('line', (line) => {
      clearTimeout(t);
      resolve(JSON.parse(line) as Record<string, unknown>);
    });
  });
  cleanups.push(async () => {
    child.stdin!.end();
    const t = setTimeout(() => child.kill('SIGKILL'), 3000);
    await exited;
    clearTimeout(t);
  });
  return { pid: child.pid!, first, exited };
}

type Sum = { xmitPk: number; recvPk: number; xmitBytes: number; recvBytes: number; uids: Set<number>; commands: Set<string> };

function sums(rows: NettopRow[]): Map<string, Sum> {
  const out = new Map<string, Sum>();
  for (const r of rows) {
    const key = `${r.pid}@${r.dev}`;
    const s = out.get(key) ?? { xmitPk: 0, recvPk: 0, xmitBytes: 0, recvBytes: 0, uids: new Set<number>(), commands: new Set<string>() };
    s.xmitPk += r.xmitPk;
    s.recvPk += r.recvPk;
    s.xmitBytes += r.xmitBytes;
    s.recvBytes += r.recvBytes;
    s.uids.add(r.uid);
    s.commands.add(r.command);
    out.set(key, s);
  }
  return out;
}

/** The counts of one process on lo, checked to be its own: its command and uid. */
function of(all: Map<string, Sum>, pid: number, command: string) {
  const s = all.get(`${pid}@lo`);
  assert.ok(s, `no row for pid ${pid} (${command}); rows: ${JSON.stringify([...all.keys()])}`);
  assert.deepEqual([...s.commands], [command]);
  assert.deepEqual([...s.uids], [0], 'root, as forked (read from /proc, or handed down at fork to a process gone before)');
  return { xmitPk: s.xmitPk, recvPk: s.recvPk, xmitBytes: s.xmitBytes, recvBytes: s.recvBytes };
}

/**
 * Each short-lived peer's packets are either all on its own PID, exactly as expected, or — when the tracepoint
 * event was not read in time — all in the explicit unknown row; never split, never on another process. The
 * unknown row must hold exactly the missed peers' packets. Returns how many peers were named.
 */
function accountFor(all: Map<string, Sum>, peers: { pid: number; name: string; expect: { xmitPk: number; recvPk: number; xmitBytes: number; recvBytes: number } }[]): number {
  const missed = { xmitPk: 0, recvPk: 0, xmitBytes: 0, recvBytes: 0 };
  let named = 0;
  for (const p of peers) {
    if (all.has(`${p.pid}@lo`)) {
      assert.deepEqual(of(all, p.pid, p.name), p.expect, p.name);
      named++;
    } else for (const k of Object.keys(missed) as (keyof typeof missed)[]) missed[k] += p.expect[k];
  }
  const u = all.get('-1@lo');
  const unknown = u ? { xmitPk: u.xmitPk, recvPk: u.recvPk, xmitBytes: u.xmitBytes, recvBytes: u.recvBytes } : { xmitPk: 0, recvPk: 0, xmitBytes: 0, recvBytes: 0 };
  assert.deepEqual(unknown, missed, 'the unknown row holds exactly the packets of the peers not named');
  return named;
}




/** An independent reference capture (test/helpers/reference-capture.ts), for TCP whose segment count is not known in advance. */
const tcpdump = (iface: string, filter: string, netns: string) => referenceCapture(iface, filter, { netns, onCleanup: (kill) => cleanups.push(kill) });

/** A fresh network namespace with lo up: nettop's capture there sees only this test's packets. */
async function namespace(): Promise<string> {
  const ns = `npt-sl-${randomBytes(3).toString('hex')}`;
  await run('ip', ['netns', 'add', ns]);
  cleanups.push(() => run('ip', ['netns', 'del', ns]).then(() => {}, () => {}));
  await run('ip', ['netns', 'exec', ns, 'ip', 'link', 'set', 'lo', 'up']);
  return ns;
}

/** `netprobes nettop --interval 1 --format csv` inside the namespace; its rows summed per PID and device. */
async function cli(ns: string, env: Record<string, string> = {}) {
  const run = await nettopCli(['--interval', '1'], { netns: ns, env, onCleanup: (kill) => cleanups.push(kill) });
  return {
    pid: run.pid,
    stop: async () => {
      const { rows, stderr } = await run.stop();
      return { rows, all: sums(rows), stderr };
    },
  };
}

/** Short-lived UDP senders, v4 and v6, to long-lived receivers; returns what each must show. */
async function udpBursts(ns: string, n: number) {
  const recv4 = spawnPeer('npt-sl-recv4', ['udp-recv', '127.0.0.1'], ns);
  const recv6 = spawnPeer('npt-sl-recv6', ['udp-recv', '::1'], ns);
  const [p4, p6] = (await Promise.all([recv4.first, recv6.first])).map((m) => m.port as number);
  await sleep(2500); // past nettop's periodic /proc refresh: nothing of the senders is in any snapshot
  const bursts = [
    ...[0, 1, 2].map((i) => ({ frame: 1042, name: `npt-sl-b4-${i}`, peer: spawnPeer(`npt-sl-b4-${i}`, ['udp-burst', '127.0.0.1', p4!, n, 1000], ns) })),
    ...[0, 1, 2].map((i) => ({ frame: 1062, name: `npt-sl-b6-${i}`, peer: spawnPeer(`npt-sl-b6-${i}`, ['udp-burst', '::1', p6!, n, 1000], ns) })),
  ];
  for (const b of bursts) assert.equal(await b.peer.exited, 0);
  return { recv4, recv6, bursts };
}

// ---- the tests -----------------------------------------------------------------------

test('short-lived UDP senders (IPv4 and IPv6) that exit at once: every datagram on its own PID and command, exactly; none unknown', { timeout: 60_000 }, async (t) => {
  if (!need(t, 'root')) return;
  const ns = await namespace();
  const nettop = await cli(ns);
  const N = 40;
  const { recv4, recv6, bursts } = await udpBursts(ns, N);
  const { all, stderr } = await nettop.stop();
  t.diagnostic(stderr.trim());
  // 14 + 20 (or 40) + 8 + 1000 bytes a frame.
  for (const b of bursts) assert.deepEqual(of(all, b.peer.pid, b.name), { xmitPk: N, recvPk: 0, xmitBytes: N * b.frame, recvBytes: 0 }, b.name);
  assert.ok(!all.has('-1@lo'), 'no unknown row');
  assert.deepEqual(of(all, recv4.pid, 'npt-sl-recv4'), { xmitPk: 0, recvPk: 3 * N, xmitBytes: 0, recvBytes: 3 * N * 1042 });
  assert.deepEqual(of(all, recv6.pid, 'npt-sl-recv6'), { xmitPk: 0, recvPk: 3 * N, xmitBytes: 0, recvBytes: 3 * N * 1062 });
  assert.match(stderr, /traced [1-9]/); // the rest were alive at a /proc scan
  assert.match(stderr, /trace overruns 0\b/);
  assert.ok(!netprobesInstances(nettop.pid).length, 'the CLI removed its tracefs instance');
});

test("a short-lived sender whose socket is a worker thread's: on its process's PID and name, not the thread's", { timeout: 60_000 }, async (t) => {
  if (!need(t, 'root')) return;
  const ns = await namespace();
  const nettop = await cli(ns);
  const recv = spawnPeer('npt-sl-recvt', ['udp-recv', '127.0.0.1'], ns);
  const port = (await recv.first).port as number;
  await sleep(2500); // past the periodic /proc refresh
  const senders = [0, 1].map((i) => ({ name: `npt-sl-thr-${i}`, peer: spawnPeer(`npt-sl-thr-${i}`, ['udp-burst-thread', '127.0.0.1', port, 25, 1000], ns) }));
  for (const s of senders) assert.equal(await s.peer.exited, 0);
  const { all, stderr } = await nettop.stop();
  t.diagnostic(stderr.trim());
  for (const s of senders) assert.deepEqual(of(all, s.peer.pid, s.name), { xmitPk: 25, recvPk: 0, xmitBytes: 25 * 1042, recvBytes: 0 }, s.name);
  assert.ok(!all.has('-1@lo'), 'no unknown row');
  assert.deepEqual(of(all, recv.pid, 'npt-sl-recvt'), { xmitPk: 0, recvPk: 50, xmitBytes: 0, recvBytes: 50 * 1042 });
});

test('short-lived TCP clients (connect, send, close, exit): both directions on their PIDs exactly as tcpdump saw them; none unknown', { timeout: 60_000 }, async (t) => {
  if (!need(t, 'root')) return;
  const ns = await namespace();
  const nettop = await cli(ns);
  const server = spawnPeer('npt-sl-srv', ['tcp-server', '127.0.0.1'], ns);
  const server6 = spawnPeer('npt-sl-srv6', ['tcp-server', '::1'], ns);
  const [port, port6] = (await Promise.all([server.first, server6.first])).map((m) => m.port as number);
  await sleep(2500); // past the periodic /proc refresh
  const truth = await tcpdump('lo', `tcp port ${port} or tcp port ${port6}`, ns);
  const clients = [0, 1, 2].map((i) => {
    const [host, p] = i === 2 ? ['::1', port6!] : ['127.0.0.1', port!];
    return { name: `npt-sl-tcp-${i}`, peer: spawnPeer(`npt-sl-tcp-${i}`, ['tcp-burst', host, p, 3000], ns) };
  });
  const localPorts: number[] = [];
  for (const c of clients) {
    localPorts.push((await c.peer.first).localPort as number);
    assert.equal(await c.peer.exited, 0);
  }
  const frames = await truth.stop();
  const { all, stderr } = await nettop.stop();
  t.diagnostic(stderr.trim());
  clients.forEach((c, i) => {
    const s = sides(frames, localPorts[i]!);
    assert.ok(s.xmitPk >= 3 && s.recvPk >= 2, JSON.stringify(s));
    assert.deepEqual(of(all, c.peer.pid, c.name), s, c.name);
  });
  assert.ok(!all.has('-1@lo'), 'no unknown row');
});

test('with the tracepoints off (NETPROBES_NETTOP_TRACE=0), /proc alone, said in the source line: a sender that exits at once is on its PID or honestly unknown, never another', { timeout: 60_000 }, async (t) => {
  if (!need(t, 'root')) return;
  const saved = process.env.NETPROBES_NETTOP_TRACE;
  process.env.NETPROBES_NETTOP_TRACE = '0';
  try {
    const running = await nettopSource({ interval: 1, ifaces: [] }, { row: () => {}, rows: () => {}, fail: (e) => assert.fail(e) });
    await running.stop();
    assert.match(running.description, /socket owners from \/proc only \(short-lived sockets may be unknown: tracepoints turned off by NETPROBES_NETTOP_TRACE=0\)/);
    assert.deepEqual(netprobesInstances(), [], 'no tracefs instance');
  } finally {
    if (saved === undefined) delete process.env.NETPROBES_NETTOP_TRACE;
    else process.env.NETPROBES_NETTOP_TRACE = saved;
  }
  const ns = await namespace();
  const nettop = await cli(ns, { NETPROBES_NETTOP_TRACE: '0' });
  const { bursts } = await udpBursts(ns, 40);
  const { all, stderr } = await nettop.stop();
  t.diagnostic(stderr.trim());
  const named = bursts.reduce((n, b) => n + (all.get(`${b.peer.pid}@lo`)?.xmitPk ?? 0), 0);
  const unknown = all.get('-1@lo')?.xmitPk ?? 0;
  t.diagnostic(`with /proc alone: ${named} of ${6 * 40} datagrams named, ${unknown} unknown`);
  assert.equal(named + unknown, 6 * 40);
  accountFor(all, bursts.map((b) => ({ pid: b.peer.pid, name: b.name, expect: { xmitPk: 40, recvPk: 0, xmitBytes: 40 * b.frame, recvBytes: 0 } })));
});

test('tracefs is left clean: stop, SIGTERM, and after SIGKILL the next start removes the instance', { timeout: 60_000 }, async (t) => {
  if (!need(t, 'root')) return;
  const running = await nettopSource({ interval: 1, ifaces: [] }, { row: () => {}, rows: () => {}, fail: (e) => assert.fail(e) });
  const [mine] = probeInstances();
  assert.ok(mine, 'an instance while running');
  assert.equal(readFileSync(`${TRACEFS}/instances/${mine}/events/fib/fib_table_lookup/enable`, 'utf8').trim(), '1');
  const tasks = netprobesInstances().find((n) => n.endsWith('-tasks'));
  assert.ok(tasks, 'and one following task events');
  for (const ev of ['task/task_newtask', 'task/task_rename', 'sched/sched_process_exit']) {
    assert.equal(readFileSync(`${TRACEFS}/instances/${tasks}/events/${ev}/enable`, 'utf8').trim(), '1', ev);
  }
  await running.stop();
  assert.deepEqual(netprobesInstances(), []);
  assert.ok(!existsSync(`${TRACEFS}/instances/${mine}`));
  for (const how of ['SIGTERM', 'SIGKILL'] as const) {
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD, 'nettop', 'wait'], { stdio: ['ignore', 'pipe', 'inherit'] });
    const exited = new Promise<NodeJS.Signals | null>((r) => child.once('exit', (_c, sig) => r(sig)));
    cleanups.push(() => void child.kill('SIGKILL'));
    const line = await new Promise<string>((r) => createInterface({ input: child.stdout! }).once('line', r));
    const names = line.replace(/^ready ?/, '').split(' ').filter(Boolean);
    assert.equal(names.length, 2, `the probe's instance and the task events' (${line})`);
    const there = () => names.filter((n) => existsSync(`${TRACEFS}/instances/${n}`));
    assert.deepEqual(there(), names);
    child.kill(how);
    assert.equal(await exited, how);
    if (how === 'SIGTERM') {
      assert.deepEqual(there(), [], 'removed on SIGTERM');
    } else {
      assert.deepEqual(there(), names, 'SIGKILL cannot clean up');
      const next = await nettopSource({ interval: 1, ifaces: [] }, { row: () => {}, rows: () => {}, fail: (e) => assert.fail(e) });
      assert.deepEqual(there(), [], "the next start removed the dead owner's instances");
      await next.stop();
    }
  }
  assert.deepEqual(staleInstances(), []);
  assert.deepEqual(netprobesInstances(), []);
});
