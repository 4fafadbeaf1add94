// What a chart is given, made honest: every second (or every interval a table
// came for) is a point, and a point without events is zero, not a line drawn
// across from the last event. Before a probe's first measurement and after it
// stopped there is no data (null), which is not the same as zero. Values are
// shown in human units. Pure (no DOM): unit tested in test/unit/series.test.ts.

/** Seconds every chart shows, ending now: the same time axis in every tab. */
export const CHART_SECONDS = 120;

export interface Points {
  /** Seconds since the epoch, one per point. */
  x: number[];
  /** Per series, one value per x: null where nothing was measured. */
  ys: (number | null)[][];
}

/**
 * One point per second from `now - CHART_SECONDS + 1` to `now`, from per-second sums (`t` seconds ascending,
 * `values[s][i]` for second t[i]): a second without an entry is 0 if it lies within [measuredFrom, measuredTo],
 * null outside it.
 */
export function everySecond(t: readonly number[], values: readonly (readonly number[])[], now: number, measuredFrom: number, measuredTo: number): Points {
  const x: number[] = [];
  const first = now - CHART_SECONDS + 1;
  for (let s = first; s <= now; s++) x.push(s);
  const ys = values.map(() => new Array<number | null>(x.length));
  for (let i = 0; i < x.length; i++) {
    const measured = x[i]! >= measuredFrom && x[i]! <= measuredTo;
    for (const y of ys) y[i] = measured ? 0 : null;
  }
  for (let i = 0; i < t.length; i++) {
    const k = t[i]! - first;
    if (k < 0 || k >= x.length) continue;
    values.forEach((v, s) => (ys[s]![k] = (ys[s]![k] ?? 0) + v[i]!));
  }
  return { x, ys };
}

/**
 * One point per table of an interval probe (its end time, in seconds), from the rows of every table: a table
 * without rows for a series is 0 there. `at(row)` gives a row's table time (µs) and `add(row)` its series and value.
 */
export function perTable<Row>(tableTimes: readonly number[], rows: Iterable<Row>, series: readonly string[], at: (row: Row) => number, add: (row: Row) => [string, number] | null, now: number): Points {
  const from = (now - CHART_SECONDS + 1) * 1e6;
  const times = tableTimes.filter((t) => t >= from);
  const index = new Map(times.map((t, i) => [t, i]));
  const seriesIndex = new Map(series.map((s, i) => [s, i]));
  const ys = series.map(() => new Array<number | null>(times.length).fill(0));
  for (const r of rows) {
    const i = index.get(at(r));
    if (i === undefined) continue;
    const v = add(r);
    if (!v) continue;
    const s = seriesIndex.get(v[0]);
    if (s !== undefined) ys[s]![i]! += v[1];
  }
  return { x: times.map((t) => t / 1e6), ys };
}

/** 1234 → "1.2k", 4532318 → "4.5M". */
export function humanCount(n: number): string {
  const a = Math.abs(n);
  if (a >= 1e9) return `${trim(n / 1e9)}G`;
  if (a >= 1e6) return `${trim(n / 1e6)}M`;
  if (a >= 1e4) return `${Math.round(n / 1e3)}k`;
  if (a >= 1e3) return `${trim(n / 1e3)}k`;
  return Number.isInteger(n) ? String(n) : trim(n);
}

/** 4532318 → "4.5 MB" (decimal units, as network rates are given). */
export function humanBytes(n: number): string {
  const a = Math.abs(n);
  if (a >= 1e9) return `${trim(n / 1e9)} GB`;
  if (a >= 1e6) return `${trim(n / 1e6)} MB`;
  if (a >= 1e3) return `${trim(n / 1e3)} KB`;
  return `${Math.round(n)} B`;
}

/** "just now", "12 s ago", "3 min ago", "2 h ago". */
export function ago(thenMs: number, nowMs: number): string {
  const s = Math.max(0, Math.round((nowMs - thenMs) / 1000));
  if (s < 2) return 'just now';
  if (s < 90) return `${s} s ago`;
  if (s < 90 * 60) return `${Math.round(s / 60)} min ago`;
  return `${Math.round(s / 3600)} h ago`;
}

function trim(n: number): string {
  return n.toFixed(Math.abs(n) >= 100 ? 0 : 1).replace(/\.0$/, '');
}
