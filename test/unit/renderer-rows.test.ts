// The renderer's row path without a browser: the ring never holds more than its
// capacity and numbers rows by arrival; the filtered view tests only new rows
// and lets dropped rows go; the sorted view, fed batch by batch, always equals a
// full sort of what is held (ties in arrival order) — checked against one on
// random data, including while the ring drops its oldest rows.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { arraySource, FilteredView, listToArray, RowRing, SortedView } from '../../renderer/ui/rows.ts';

interface R {
  n: number;
  k: number;
}

test('the ring keeps the newest rows, numbered by arrival, and says when one was dropped', () => {
  const ring = new RowRing<number>(3);
  assert.deepEqual([1, 2, 3].map((v) => ring.push(v)), [false, false, false]);
  assert.equal(ring.push(4), true);
  assert.deepEqual(ring.toArray(), [2, 3, 4]);
  assert.deepEqual([ring.start, ring.end, ring.length], [1, 4, 3]);
  assert.equal(ring.bySeq(1), 2);
  assert.equal(ring.at(-1), 4);
  assert.equal(ring.at(3), undefined);
  ring.clear();
  assert.deepEqual([ring.start, ring.end, ring.length], [4, 4, 0]);
  ring.push(5);
  assert.deepEqual([...ring], [5]);
});

test('the filtered view tests each row once and lets dropped rows go', () => {
  const ring = new RowRing<R>(100);
  let tests = 0;
  const even = (r: R) => (tests++, r.n % 2 === 0);
  const view = new FilteredView<R>();
  for (let i = 0; i < 60; i++) ring.push({ n: i, k: 0 });
  view.update(ring, even);
  assert.equal(view.length, 30);
  assert.equal(view.rejected, 30);
  for (let i = 60; i < 150; i++) ring.push({ n: i, k: 0 });
  view.update(ring, even);
  assert.equal(tests, 150, 'every row tested once');
  assert.deepEqual(listToArray(view).map((r) => r.n), Array.from({ length: 50 }, (_, i) => 50 + 2 * i));
  assert.equal(view.rejected, 50);
  const before = view.generation;
  view.update(ring, null);
  assert.equal(view.length, 100);
  assert.notEqual(view.generation, before, 'a new test starts over');
});

test('the sorted view, merged batch by batch as the ring drops rows, equals a full sort', () => {
  let seed = 7;
  const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  for (const dir of [1, -1] as const) {
    const ring = new RowRing<R>(500);
    const filtered = new FilteredView<R>();
    const sorted = new SortedView<R>();
    const keep = (r: R) => r.k % 3 !== 0;
    let n = 0;
    for (let frame = 0; frame < 40; frame++) {
      const batch = Math.floor(rand() * 60);
      for (let i = 0; i < batch; i++) ring.push({ n: n++, k: Math.floor(rand() * 20) });
      const shown = listToArray(sorted.update(filtered.update(ring, keep), { key: 'k', dir }));
      const expected = ring.toArray().filter(keep).sort((a, b) => (a.k - b.k) * dir || a.n - b.n);
      assert.deepEqual(shown, expected, `frame ${frame}`);
    }
    assert.ok(ring.start > 0, 'the ring dropped rows during the run');
  }
});

test('a new array is a new source (an interval table, a paused snapshot)', () => {
  const view = new FilteredView<number>();
  view.update(arraySource([1, 2, 3]), null);
  assert.equal(view.length, 3);
  view.update(arraySource([4]), null);
  assert.deepEqual(listToArray(view), [4]);
});

test('since start: rows summed per key once each, the latest table\'s increase, a zero for a quiet table', async () => {
  const { SinceStart } = await import('../../renderer/ui/since-start.ts');
  interface D {
    time: number;
    loc: string;
    count: number;
  }
  const sum = new SinceStart<D>({ label: 'Since start', key: (r) => r.loc, add: (t, r) => ({ ...r, count: (t?.count ?? 0) + r.count }), weight: (r) => r.count, unit: 'drops' });
  const history = new RowRing<D>(3);
  history.push({ time: 1, loc: 'a', count: 2 });
  history.push({ time: 1, loc: 'b', count: 1 });
  sum.update(history, 1);
  sum.update(history, 1); // a second frame with nothing new adds nothing
  assert.equal(sum.totals.get('a')!.row.count, 2);
  sum.update(history, 2); // an empty table
  assert.deepEqual(sum.totals.get('a')!.trend, [2, 0]);
  assert.equal(sum.totals.get('a')!.latest, 0);
  history.push({ time: 3, loc: 'a', count: 5 });
  history.push({ time: 3, loc: 'a', count: 1 }); // the ring drops the first row; the total keeps it
  sum.update(history, 3);
  const a = sum.totals.get('a')!;
  assert.equal(a.row.count, 8);
  assert.equal(a.latest, 6);
  assert.deepEqual(a.trend, [2, 0, 6]);
  assert.deepEqual(sum.totals.get('b')!.trend, [1, 0, 0]);
});

test('the last minute: the tables since a time summed per key, heaviest first; older tables and hidden rows left out', async () => {
  const { recentTotals } = await import('../../renderer/ui/since-start.ts');
  interface D {
    time: number;
    loc: string;
    count: number;
  }
  const def = { label: '', key: (r: D) => r.loc, add: (t: D | undefined, r: D) => ({ ...r, count: (t?.count ?? 0) + r.count }), weight: (r: D) => r.count, unit: 'drops' };
  const history = new RowRing<D>(10);
  history.push({ time: 1, loc: 'a', count: 100 }); // before the window
  history.push({ time: 5, loc: 'a', count: 2 });
  history.push({ time: 5, loc: 'own', count: 50 });
  history.push({ time: 6, loc: 'b', count: 3 });
  history.push({ time: 7, loc: 'a', count: 4 });
  const rows = recentTotals(history, def, 5, (r) => r.loc !== 'own');
  assert.deepEqual(rows.map((r) => [r.loc, r.count]), [['a', 6], ['b', 3]]);
  assert.deepEqual(recentTotals(history, def, 8), []);
});
