// Reading history. Totals over a range are exact wherever the tiers are kept:
// whole hours come from `hour`, the whole minutes at either end from `minute`,
// the seconds at either end from `raw` (a week's "top processes" reads ~168
// rows a series, not 604,800). Timelines read one tier, chosen by the range.

import type { Db, Tier } from './db.node.ts';
import { TIER_SECONDS } from './db.node.ts';
import { groupDims, PLANS } from './plan.ts';
import type { Group, RangeAnswer, RangeQuery } from './answer.ts';

export class QueryError extends Error {}

/** [lo, hi) pieces of [from, to) that each tier answers: hours inside, then minutes, then seconds at the ends. */
export function tierPieces(from: number, to: number): { tier: Tier; lo: number; hi: number }[] {
  const out: { tier: Tier; lo: number; hi: number }[] = [];
  const split = (lo: number, hi: number, tiers: readonly Tier[]): void => {
    if (lo >= hi) return;
    const [tier, ...finer] = tiers;
    const step = TIER_SECONDS[tier!];
    const a = Math.ceil(lo / step) * step;
    const b = Math.floor(hi / step) * step;
    if (!finer.length || a >= b) {
      if (!finer.length) out.push({ tier: tier!, lo, hi });
      else split(lo, hi, finer);
      return;
    }
    out.push({ tier: tier!, lo: a, hi: b });
    split(lo, a, finer);
    split(b, hi, finer);
  };
  split(from, to, ['hour', 'minute', 'raw']);
  return out;
}

/** The tier and bucket a timeline over [from, to) uses: ≤ 5 min per second, ≤ 3 days per minute, else per hour. */
export function timelineStep(from: number, to: number): { tier: Tier; step: number } {
  const span = to - from;
  const tier: Tier = span <= 300 ? 'raw' : span <= 3 * 86400 ? 'minute' : 'hour';
  const base = TIER_SECONDS[tier];
  return { tier, step: Math.max(base, Math.ceil(span / MAX_POINTS / base) * base) };
}
const MAX_POINTS = 720;

export function queryRange(db: Db, q: RangeQuery): RangeAnswer {
  const plan = PLANS[q.kind];
  const dims = groupDims(q.kind, q.by);
  if (!dims) throw new QueryError(`--by ${q.by} does not apply to ${q.kind} (it offers ${Object.keys(plan.by).join(', ')})`);
  const nm = plan.measures.length;
  const measures = plan.measures.map(({ csv, title }) => ({ csv, title }));
  const pieces = tierPieces(q.from, q.to);
  if (!pieces.length) return { kind: q.kind, dims, measures, groups: [], step: 0 };
  // The series asked about: all of the kind's, or (a filter) those whose dimensions match, found in SQL first so the
  // tiers are read through their series index, not over every series in the range.
  const where = Object.entries(q.where ?? {}).filter(([k]) => plan.dims.some((d) => d.key === k));
  const seriesSql = where.length
    ? `SELECT id FROM series WHERE kind = ? ${where.map(([k]) => `AND json_extract(dims, '$.${k}') = ?`).join(' ')}`
    : 'SELECT id FROM series WHERE kind = ?';
  const ids = db
    .prepare<unknown[], { id: number }>(seriesSql)
    .all(q.kind, ...where.map(([, v]) => v))
    .map((r) => r.id);
  if (!ids.length) return { kind: q.kind, dims, measures, groups: [], step: 0 };
  const idsJson = JSON.stringify(ids);
  const sums = `sum(m0) AS m0, sum(m1) AS m1, sum(m2) AS m2, sum(m3) AS m3, min(first) AS first, max(last) AS last`;
  const pieceSql = (p: { tier: string; lo: number; hi: number }) =>
    `SELECT series, m0, m1, m2, m3, first, last FROM ${p.tier} WHERE t >= ${p.lo} AND t < ${p.hi}${where.length ? ' AND series IN (SELECT value FROM json_each(@ids))' : ''}`;
  const sql = `SELECT series, ${sums} FROM (${pieces.map(pieceSql).join(' UNION ALL ')})
    ${where.length ? '' : 'WHERE series IN (SELECT value FROM json_each(@ids))'} GROUP BY series`;
  type Sum = { series: number; m0: number; m1: number; m2: number; m3: number; first: number; last: number };
  const perSeries = db.prepare<[{ ids: string }], Sum>(sql).all({ ids: idsJson });

  const dimsOf = new Map<number, Record<string, string | number>>();
  for (const r of db.prepare<[string], { id: number; dims: string }>('SELECT id, dims FROM series WHERE id IN (SELECT value FROM json_each(?))').iterate(JSON.stringify(perSeries.map((s) => s.series)))) {
    dimsOf.set(r.id, JSON.parse(r.dims) as Record<string, string | number>);
  }
  const groups = new Map<string, Group & { series: number[] }>();
  for (const s of perSeries) {
    const d = dimsOf.get(s.series);
    if (!d) continue;
    const key = dims.map((x) => d[x.key] ?? (x.type === 'int' ? -1 : ''));
    const k = JSON.stringify(key);
    let g = groups.get(k);
    if (!g) groups.set(k, (g = { key, m: new Array<number>(nm).fill(0), first: s.first, last: s.last, series: [] }));
    const m = [s.m0, s.m1, s.m2, s.m3];
    for (let i = 0; i < nm; i++) g.m[i]! += m[i]!;
    g.first = Math.min(g.first, s.first);
    g.last = Math.max(g.last, s.last);
    g.series.push(s.series);
  }
  const rank = (g: Group) => plan.rank.reduce((n, i) => n + g.m[i]!, 0);
  let list = [...groups.values()].sort((a, b) => rank(b) - rank(a) || b.last - a.last);
  if (q.top) list = list.slice(0, q.top);

  let step = 0;
  if (q.timeline && list.length) {
    const t = timelineStep(q.from, q.to);
    step = t.step;
    const groupOf = new Map<number, number>();
    list.forEach((g, i) => g.series.forEach((s) => groupOf.set(s, i)));
    const points = list.map(() => new Map<number, number[]>());
    const rows = db
      .prepare<[number, number, string], { b: number; series: number; m0: number; m1: number; m2: number; m3: number }>(
        `SELECT (t / ${step}) * ${step} AS b, series, sum(m0) AS m0, sum(m1) AS m1, sum(m2) AS m2, sum(m3) AS m3 FROM ${t.tier}
         WHERE t >= ? AND t < ? AND series IN (SELECT value FROM json_each(?)) GROUP BY b, series`,
      )
      .all(q.from, q.to, JSON.stringify([...groupOf.keys()]));
    for (const r of rows) {
      const byT = points[groupOf.get(r.series)!]!;
      let p = byT.get(r.b);
      if (!p) byT.set(r.b, (p = [r.b, ...new Array<number>(nm).fill(0)]));
      const m = [r.m0, r.m1, r.m2, r.m3];
      for (let i = 0; i < nm; i++) p[i + 1]! += m[i]!;
    }
    list.forEach((g, i) => (g.points = [...points[i]!.values()].sort((a, b) => a[0]! - b[0]!)));
  }
  return { kind: q.kind, dims, measures, groups: list.map(({ series: _s, ...g }) => g), step };
}

/** The oldest and newest second held (from the hour tier, kept longest), null when empty. */
export function historyExtent(db: Db): { oldest: number | null; newest: number | null } {
  const ext = db.prepare('SELECT min(t) AS lo, max(t) AS hi FROM hour').get() as { lo: number | null; hi: number | null };
  const newest = (db.prepare('SELECT max(t) AS hi FROM raw').get() as { hi: number | null }).hi ?? ext.hi;
  return { oldest: ext.lo, newest };
}
