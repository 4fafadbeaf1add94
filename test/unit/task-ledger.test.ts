// The task ledger: who a thread was at a trace time, from fork/rename/exit
// events read out of order, after it exited and after its tid was reused.
// Pure: no root, no tracefs.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CLONE_THREAD, TaskLedger } from '../../core/tracefs/task-ledger.ts';

const who = (l: TaskLedger, tid: number, ts: number) => {
  const life = l.at(tid, ts);
  return life ? { pid: l.processOf(life), command: l.commandOf(l.processOf(life), ts, life.command) } : null;
};

test('task ledger: a process that forks, renames itself, sends from a thread and exits is told after it is gone', () => {
  const l = new TaskLedger();
  l.seed(10, 10, 'bash', 0, 0);
  l.fork(100, 10, 500, 0, 'bash'); // a new process
  l.rename(110, 500, 'node'); // exec
  l.rename(120, 500, 'npt-sl-b4-0'); // prctl(PR_SET_NAME)
  l.fork(130, 500, 501, CLONE_THREAD, 'npt-sl-b4-0'); // a thread of it
  l.rename(131, 501, 'libuv-worker');
  l.exit(200, 501, 'libuv-worker');
  l.exit(210, 500, 'npt-sl-b4-0');
  assert.deepEqual(who(l, 500, 150), { pid: 500, command: 'npt-sl-b4-0' });
  assert.deepEqual(who(l, 501, 150), { pid: 500, command: 'npt-sl-b4-0' }, "a thread is its process, named as the process");
  assert.equal(l.at(500, 50), null, 'not yet forked');
  assert.equal(l.at(500, 300), null, 'exited');
  assert.deepEqual(who(l, 10, 150), { pid: 10, command: 'bash' });
});

test('task ledger: events read out of order (per-CPU buffers) build the same lives', () => {
  const l = new TaskLedger();
  l.seed(10, 10, 'bash', 0, 0);
  // The child's CPU is read first: its rename, its thread's exit and its own exit come before its fork.
  l.rename(120, 500, 'npt-sl-b6-1');
  l.exit(200, 501, 'node');
  l.exit(210, 500, 'npt-sl-b6-1');
  l.fork(130, 500, 501, CLONE_THREAD, 'node');
  l.fork(100, 10, 500, 0, 'bash');
  // The thread's fork was read before its parent's: its process is told through its parent once that is read.
  assert.deepEqual(who(l, 500, 150), { pid: 500, command: 'npt-sl-b6-1' });
  assert.deepEqual(who(l, 501, 150), { pid: 500, command: 'npt-sl-b6-1' });
  assert.equal(l.at(500, 250), null);
});

test('task ledger: a reused tid is another task; a lost exit is closed by the next fork of the tid', () => {
  const l = new TaskLedger();
  l.fork(100, 1, 700, 0, 'first');
  l.exit(200, 700, 'first');
  l.fork(300, 1, 700, 0, 'second');
  assert.deepEqual(who(l, 700, 150), { pid: 700, command: 'first' });
  assert.deepEqual(who(l, 700, 350), { pid: 700, command: 'second' });
  // A thread 701 of process 600 whose exit was lost, then 701 reused as a process of its own.
  l.fork(100, 1, 600, 0, 'srv');
  l.fork(110, 600, 701, CLONE_THREAD, 'srv');
  l.fork(400, 1, 701, 0, 'other');
  assert.deepEqual(who(l, 701, 200), { pid: 600, command: 'srv' });
  assert.deepEqual(who(l, 701, 450), { pid: 701, command: 'other' });
  // A seeded task (there at start) whose tid is forked again after the seed: its exit was lost.
  l.seed(800, 800, 'old', 0, 1000);
  l.fork(1500, 1, 800, 0, 'new');
  assert.deepEqual(who(l, 800, 900), { pid: 800, command: 'old' });
  assert.deepEqual(who(l, 800, 1600), { pid: 800, command: 'new' });
  // A thread forked before the seed, its fork read after: the same life, not a new one.
  l.seed(900, 800, 'new', 0, 2000);
  l.fork(1900, 800, 900, CLONE_THREAD, 'new');
  assert.equal(l.processOf(l.at(900, 2500)!), 800);
});

test('task ledger: an unknown process is not guessed; exited lives expire; the ledger is bounded', () => {
  const l = new TaskLedger({ maxTids: 100, keepNs: 1000 });
  l.exit(50, 42, 'gone'); // exited before we saw it fork: its process cannot be told
  assert.equal(l.processOf(l.at(42, 40)!), 0);
  for (let t = 1000; t < 1300; t++) {
    l.fork(t, 1, t, 0, 'churn');
    l.exit(t + 1, t, 'churn');
  }
  assert.ok(l.size <= 100, `${l.size} tids`);
  assert.ok(l.evicted > 0);
  l.expire(10_000);
  assert.equal(l.size, 0, 'every life ended long ago');
});

test("task ledger: a forked task has its parent's uid until it calls setuid, in either order of reading", () => {
  const l = new TaskLedger();
  l.seed(10, 10, 'sudo', 0, 0);
  l.fork(100, 10, 500, 0, 'sudo');
  assert.equal(l.at(500, 150)?.uid, 0, "its parent's");
  l.setuid(120, 500); // the child drops privileges: the uid it had is not its uid any more
  assert.equal(l.at(500, 150)?.uid, -1);
  // The child's setuid read before its fork: the fork does not hand down the parent's uid.
  l.setuid(220, 600);
  l.fork(200, 10, 600, 0, 'sudo');
  assert.equal(l.at(600, 250)?.uid, -1);
  assert.equal(l.at(600, 250)?.command, 'sudo');
  // Without setuid events, nothing is handed down.
  const m = new TaskLedger();
  m.inheritUid = false;
  m.seed(10, 10, 'bash', 1000, 0);
  m.fork(100, 10, 700, 0, 'bash');
  assert.equal(m.at(700, 150)?.uid, -1);
});
