// The task ledger names an event as its task was named when it happened, also when a later rename was read first
// (the e2e Socket calls test's client renames itself for its calls, then back, within one poll). Pure: no root.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TaskLedger } from '../../core/tracefs/task-ledger.ts';

test('task ledger: each event has the name its process had then, however many renames were read since', () => {
  const l = new TaskLedger();
  l.seed(10, 10, 'node', 0, 0);
  l.fork(100, 10, 500, 0, 'node');
  l.rename(110, 500, 'python3'); // exec
  l.rename(120, 500, 'np19-calls'); // prctl(PR_SET_NAME)
  l.rename(130, 500, 'python3'); // and back
  assert.deepEqual([105, 115, 125, 135].map((ts) => l.commandOf(500, ts, '?')), ['node', 'python3', 'np19-calls', 'python3']);
});

test('task ledger: a rename read late (another CPU\'s buffer) still names the events between it and the next', () => {
  const l = new TaskLedger();
  l.fork(100, 10, 500, 0, 'node');
  l.rename(130, 500, 'python3');
  l.rename(120, 500, 'np19-calls'); // read after the later one
  l.rename(110, 500, 'python3');
  assert.deepEqual([105, 115, 125, 135].map((ts) => l.commandOf(500, ts, '?')), ['node', 'python3', 'np19-calls', 'python3']);
});

test('task ledger: a fork read after its child\'s rename names the child until the rename', () => {
  const l = new TaskLedger();
  l.rename(120, 500, 'np19-calls');
  l.fork(100, 10, 500, 0, 'node');
  assert.deepEqual([110, 125].map((ts) => l.commandOf(500, ts, '?')), ['node', 'np19-calls']);
});

test('task ledger: the names kept per life are bounded, the newest kept', () => {
  const l = new TaskLedger();
  l.fork(0, 10, 500, 0, 'n0');
  for (let i = 1; i <= 20; i++) l.rename(i * 10, 500, `n${i}`);
  assert.equal(l.at(500, 0)!.earlier!.length, 8);
  assert.deepEqual([125, 195, 205].map((ts) => l.commandOf(500, ts, '?')), ['n12', 'n19', 'n20']);
});
