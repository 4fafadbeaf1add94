// The disposable store behind every cleanup: each item disposed once, in the
// order added, async ones awaited, errors reported without stopping the rest,
// and disposeNow() for the process's 'exit' where no later turn comes.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DisposableStore, toDisposable } from '../../core/lifecycle.ts';

test('lifecycle: dispose runs each item once, in order, awaiting async ones', async () => {
  const store = new DisposableStore();
  const done: string[] = [];
  store.add(toDisposable(() => void done.push('a')));
  store.add(toDisposable(async () => {
    await new Promise((r) => setTimeout(r, 10));
    done.push('b');
  }));
  store.add(toDisposable(() => void done.push('c')));
  const finished = store.dispose();
  assert.deepEqual(done, ['a'], 'synchronous items before the first async one are done at once');
  await finished;
  assert.deepEqual(done, ['a', 'b', 'c']);
  await store.dispose();
  assert.deepEqual(done, ['a', 'b', 'c'], 'each item once');
  assert.equal(store.isDisposed, true);
  store.add(toDisposable(() => void done.push('late')));
  assert.deepEqual(done, ['a', 'b', 'c', 'late'], 'added to a disposed store: disposed at once');
});

test('lifecycle: errors are reported and the rest still disposed; delete forgets an item', async () => {
  const store = new DisposableStore();
  const errors: unknown[] = [];
  store.onError = (e) => errors.push(e);
  const done: string[] = [];
  store.add(toDisposable(() => {
    throw new Error('sync');
  }));
  store.add(toDisposable(() => Promise.reject(new Error('async'))));
  const forgotten = store.add(toDisposable(() => void done.push('forgotten')));
  store.delete(forgotten);
  store.add(toDisposable(() => void done.push('last')));
  await store.dispose();
  assert.deepEqual(errors.map((e) => (e as Error).message), ['sync', 'async']);
  assert.deepEqual(done, ['last']);
});

test('lifecycle: disposeNow disposes what is left without waiting, nested stores too', () => {
  const store = new DisposableStore();
  const inner = store.add(new DisposableStore());
  const done: string[] = [];
  inner.add(toDisposable(() => void done.push('inner')));
  store.add(toDisposable(async () => {
    done.push('async started');
    await new Promise(() => {}); // never finishes
  }));
  store.add(toDisposable(() => void done.push('after')));
  store.disposeNow();
  assert.deepEqual(done, ['inner', 'async started', 'after']);
  assert.equal(store.size, 0);
});
