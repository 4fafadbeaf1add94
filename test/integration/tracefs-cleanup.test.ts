// Every way out of a process that runs a tracefs probe leaves no instance and
// no enabled event behind. After SIGKILL its reaper removes them at once; and
// where no reaper runs (it was killed too), the next start removes what was left.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';
import { need } from '../helpers/env.ts';
import { globalTracingState, netprobesInstances, staleInstances, TRACEFS, until } from '../helpers/tracefs.ts';
import { processStartTime, TracefsInstance, removeStaleInstances, tracefsRoot } from '../../kernel/tracefs/instance.node.ts';
import { SUPERVISED_ENV } from '../../kernel/tracefs/reaper.node.ts';

const CHILD = join(__dirname, '..', 'helpers', 'tracefs-child.ts');

/** Starts the child; resolves with it and its instance names once its probe runs. */
async function child(probe: string, mode: 'wait' | 'throw', opts: { reaper: boolean } = { reaper: true }) {
  // Without its reaper, as when the reaper was killed too (the variable is how the collector's supervisor, which reaps itself, turns it off).
  const env = opts.reaper ? process.env : { ...process.env, [SUPERVISED_ENV]: '1' };
  const p = spawn(process.execPath, ['--import', 'tsx', CHILD, probe, mode], { stdio: ['ignore', 'pipe', 'pipe'], env });
  let out = '';
  let err = '';
  p.stdout.on('data', (d) => (out += d));
  p.stderr.on('data', (d) => (err += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => p.on('exit', (code, signal) => r({ code, signal })));
  await until(() => out.includes('\n') || p.exitCode !== null, 20_000, `child ready (stderr: ${err})`);
  const names = out.trim().replace(/^ready ?/, '').split(' ').filter(Boolean);
  return { p, names, exited, stderr: () => err };
}

/** Each probe's event, and whether it also follows task events in a helper instance (tasks.node.ts). */
const TASKS: Record<string, boolean> = { dropwatch: false, 'tcp-connections': true, 'socket-trace': true };

const EVENT: Record<string, string> = {
  dropwatch: 'events/skb/kfree_skb/enable',
  'tcp-connections': 'events/sock/inet_sock_set_state/enable',
  'socket-trace': 'events/syscalls/sys_enter_socket/enable',
};

for (const probe of Object.keys(EVENT)) {
  test(`${probe}: SIGKILL: its reaper removes its instances and their events within 3 s, with no new start`, { timeout: 60_000 }, async (t) => {
    if (!need(t, 'root')) return;
    const before = globalTracingState();
    const c = await child(probe, 'wait');
    assert.equal(c.names.length, TASKS[probe] ? 2 : 1, c.names.join(' '));
    const dirs = c.names.map((n) => `${TRACEFS}/instances/${n}`);
    const dir = dirs.find((d) => !d.endsWith('-tasks'))!;
    assert.equal(readFileSync(`${dir}/${EVENT[probe]}`, 'utf8').trim(), '1');
    c.p.kill('SIGKILL');
    assert.equal((await c.exited).signal, 'SIGKILL');
    await until(() => dirs.every((d) => !existsSync(d)), 3000, 'the reaper removed the instances');
    assert.deepEqual(staleInstances(), []);
    assert.deepEqual(globalTracingState(), before);
  });

  test(`${probe}: SIGKILL with no reaper leaves an instance; the next start removes it and its enabled events`, { timeout: 60_000 }, async (t) => {
    if (!need(t, 'root')) return;
    const before = globalTracingState();
    const c = await child(probe, 'wait', { reaper: false });
    assert.equal(c.names.length, TASKS[probe] ? 2 : 1, c.names.join(' '));
    const dirs = c.names.map((n) => `${TRACEFS}/instances/${n}`);
    const dir = dirs.find((d) => !d.endsWith('-tasks'))!;
    assert.equal(readFileSync(`${dir}/${EVENT[probe]}`, 'utf8').trim(), '1');
    c.p.kill('SIGKILL');
    assert.equal((await c.exited).signal, 'SIGKILL');
    assert.ok(dirs.every((d) => existsSync(d)), 'a killed process cannot clean up: its instances are still there');
    assert.equal(readFileSync(`${dir}/${EVENT[probe]}`, 'utf8').trim(), '1', 'and its event is still enabled');

    const inst = TracefsInstance.create(); // a start
    assert.ok(dirs.every((d) => !existsSync(d)), "the start removed the dead owner's instances");
    assert.deepEqual(netprobesInstances(), [inst.name]);
    assert.deepEqual(staleInstances(), [], 'no instance of a dead owner is left');
    inst.close();
    assert.deepEqual(netprobesInstances(), []);
    assert.deepEqual(globalTracingState(), before);
  });
}

for (const how of ['SIGTERM', 'SIGINT', 'SIGHUP', 'throw'] as const) {
  test(`${how}: the process removes its instance on the way out`, { timeout: 60_000 }, async (t) => {
    if (!need(t, 'root')) return;
    const before = globalTracingState();
    const c = await child('dropwatch', how === 'throw' ? 'throw' : 'wait');
    assert.equal(c.names.length, 1);
    const dir = `${TRACEFS}/instances/${c.names[0]}`;
    if (how !== 'throw') c.p.kill(how);
    const end = await c.exited;
    if (how === 'throw') {
      assert.equal(end.code, 1, 'an uncaught exception still kills the process');
      assert.match(c.stderr(), /boom \(on purpose\)/);
    } else assert.equal(end.signal, how, 'the process still dies of the signal');
    assert.ok(!existsSync(dir), `${dir} removed`);
    assert.deepEqual(staleInstances(), []);
    assert.deepEqual(netprobesInstances(), []);
    assert.deepEqual(globalTracingState(), before);
  });
}

test('stale instances of live owners are kept; names that are not ours are ignored', async (t) => {
  if (!need(t, 'root')) return;
  const root = tracefsRoot();
  // A live owner other than this process (a sleeping child), one that has exited, and one whose PID now belongs to
  // another process (same PID, another start time), each with an instance named as NetProbes names them; and a name
  // that is not ours at all, with a PID that is not running.
  const alive = spawn('sleep', ['60'], { stdio: 'ignore' });
  const gone = spawn('true', [], { stdio: 'ignore' });
  const goneStart = processStartTime(gone.pid!);
  await new Promise((r) => gone.once('exit', r));
  const aliveStart = processStartTime(alive.pid!)!;
  const names = {
    liveOwner: `netprobes-${alive.pid}-${aliveStart}-0`,
    ownTool: `netprobes-${process.pid}-${processStartTime(process.pid)}-999`,
    exited: `netprobes-${gone.pid}-${goneStart ?? '1'}-0`,
    reused: `netprobes-${alive.pid}-${Number(aliveStart) - 1}-1`,
    foreign: `othertool-${gone.pid}`,
  };
  const dir = (n: string) => join(root, 'instances', n);
  try {
    for (const n of Object.values(names)) mkdirSync(dir(n));
    assert.deepEqual(removeStaleInstances().sort(), [names.exited, names.reused].sort());
    for (const n of [names.liveOwner, names.ownTool, names.foreign]) assert.ok(existsSync(dir(n)), `${n} kept`);
    for (const n of [names.exited, names.reused]) assert.ok(!existsSync(dir(n)), `${n} removed`);
    // Opening an instance clears what is stale too, and leaves the rest.
    mkdirSync(dir(names.exited));
    const inst = TracefsInstance.create();
    try {
      assert.ok(!existsSync(dir(names.exited)), 'a stale instance is removed when a new one opens');
      for (const n of [names.liveOwner, names.ownTool, names.foreign]) assert.ok(existsSync(dir(n)), `${n} still kept`);
      assert.deepEqual(removeStaleInstances(), [], 'our own live instance is not stale');
      assert.ok(existsSync(inst.dir));
    } finally {
      inst.close();
    }
    assert.ok(!existsSync(inst.dir));
    inst.close(); // idempotent
  } finally {
    alive.kill();
    for (const n of Object.values(names)) if (existsSync(dir(n))) rmdirSync(dir(n));
  }
});
