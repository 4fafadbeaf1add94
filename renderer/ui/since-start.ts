// An interval probe's tables summed since start: one row per key (a process on
// a device, a drop location and reason), with what the latest table added and a
// trend of the last tables. Fed from the store's history ring by sequence
// number, so each row is added once, however many frames pass, and the totals
// outlive the bounded history. Empty tables count (the store counts every
// table): a key quiet in a table gets a zero there. Pure: test/unit/renderer-rows.test.ts.

import type { RowSource } from './rows.ts';

/** What a view says about summing its rows. */
export interface SinceStartDef<Row> {
  label: string;
  /** Rows with the same key are summed into one. */
  key: (row: Row) => string;
  /** `total` plus `row` (total undefined: the first row of its key). */
  add: (total: Row | undefined, row: Row) => Row;
  /** The number the latest-table and trend columns show (bytes, drops). */
  weight: (row: Row) => number;
  /** What the weight is, for the columns' titles: "bytes", "drops". */
  unit: string;
}

export interface Total<Row> {
  row: Row;
  /** What the latest table added. */
  latest: number;
  /** The last TREND tables' weights, oldest first. */
  trend: number[];
}

export const TREND = 60;

export class SinceStart<Row extends { time: number }> {
  readonly totals = new Map<string, Total<Row>>();
  private seen = 0;
  private tables = 0;
  /** Bumped on every change, for memoized views. */
  version = 0;

  constructor(private readonly def: SinceStartDef<Row>) {}

  /** Adds the rows of `history` not yet added; `tables` is how many tables the store has received in all. */
  update(history: RowSource<Row>, tables: number): void {
    const newTables = tables - this.tables;
    if (newTables <= 0 && history.end <= this.seen) return;
    this.tables = tables;
    const from = Math.max(this.seen, history.start);
    // The new rows by table (their time), in order; each table gets a slot in every trend.
    const times: number[] = [];
    for (let s = from; s < history.end; s++) {
      const t = history.bySeq(s).time;
      if (times[times.length - 1] !== t) times.push(t);
    }
    const slots = Math.max(newTables, times.length);
    for (const total of this.totals.values()) {
      total.latest = 0;
      for (let i = 0; i < Math.min(slots, TREND); i++) total.trend.push(0);
      if (total.trend.length > TREND) total.trend.splice(0, total.trend.length - TREND);
    }
    // Tables with rows take the newest slots, in order (an empty table between two in one update is a guess at its place).
    let slot = slots - times.length;
    let time = NaN;
    for (let s = from; s < history.end; s++) {
      const row = history.bySeq(s);
      if (row.time !== time) {
        if (!Number.isNaN(time)) slot++;
        time = row.time;
      }
      const key = this.def.key(row);
      let total = this.totals.get(key);
      if (!total) {
        total = { row: this.def.add(undefined, row), latest: 0, trend: new Array<number>(Math.min(slots, TREND)).fill(0) };
        this.totals.set(key, total);
      } else total.row = this.def.add(total.row, row);
      const w = this.def.weight(row);
      const back = slots - 1 - slot;
      if (back < total.trend.length) total.trend[total.trend.length - 1 - back]! += w;
      if (slot === slots - 1) total.latest += w;
    }
    this.seen = history.end;
    this.version++;
  }

  clear(): void {
    this.totals.clear();
    this.version++;
  }
}

/**
 * The rows of the tables that ended at or after `since` (µs), summed per key, heaviest first: what the
 * Overview lists as "the last minute", so a burst that ended a few tables ago is still there to see.
 * Walks back from the newest row and stops at the first older table.
 */
export function recentTotals<Row extends { time: number }>(history: RowSource<Row>, def: SinceStartDef<Row>, since: number, keep: (row: Row) => boolean = () => true): Row[] {
  const sums = new Map<string, Row>();
  for (let s = history.end - 1; s >= history.start; s--) {
    const row = history.bySeq(s);
    if (row.time < since) break;
    if (!keep(row)) continue;
    const key = def.key(row);
    sums.set(key, def.add(sums.get(key), row));
  }
  return [...sums.values()].sort((a, b) => def.weight(b) - def.weight(a));
}
