// Each probe's rows in the renderer, outside React: bounded (the oldest go
// first, and how many went is counted and shown), a per-second rate series for
// badges and sparklines, and a version number that views re-render on at most
// once per animation frame.

import { useSyncExternalStore } from 'react';
import type { AnyProbe, ProbeId, PROBES } from '../../probes/registry.ts';
import { rowDecoder, type ProbeDefinition, type RowTuple } from '../../core/probe.ts';

/** Rows a stream probe keeps; interval probes keep this many rows of history. */
export const MAX_ROWS = 100_000;
/** Seconds of rate history kept for sparklines. */
export const RATE_SECONDS = 300;

/** A probe's row type, from its definition in the registry. */
export type RowOfProbe<K extends ProbeId> = (typeof PROBES)[K] extends ProbeDefinition<infer Row, infer _Options, infer _Id> ? Row : never;

/** One typed store per probe. */
export type Stores = { [K in ProbeId]: ProbeStore<RowOfProbe<K>> };

export class ProbeStore<Row extends object = object> {
  /** Stream: every row kept, oldest first. Interval: the latest table. */
  rows: Row[] = [];
  /** Interval probes: every table's rows, oldest first (bounded like rows). */
  history: Row[] = [];
  received = 0;
  /** Rows dropped from the bounded history. */
  notKept = 0;
  /** Rows the host could not deliver to this front end (it was falling behind). */
  undelivered = 0;
  counters: Record<string, number> = {};
  /** Rows received per wall-clock second, the last RATE_SECONDS seconds: [second, count]. */
  readonly rate: { t: number[]; n: number[] } = { t: [], n: [] };
  version = 0;
  private listeners = new Set<() => void>();
  private frame: number | null = null;

  /** Tuples from the wire become typed rows here, once. */
  private readonly decode: (tuple: RowTuple) => Row;

  constructor(readonly probe: AnyProbe) {
    this.decode = rowDecoder(probe.columns) as (tuple: RowTuple) => Row;
  }

  addRows(tuples: readonly RowTuple[]): void {
    const rows = new Array<Row>(tuples.length);
    for (let i = 0; i < tuples.length; i++) rows[i] = this.decode(tuples[i]!);
    this.received += rows.length;
    if (this.probe.kind === 'interval') {
      this.countTable(rows);
      this.rows = rows;
      this.history = appendBounded(this.history, rows, (n) => (this.notKept += n));
    } else {
      this.countRate(rows.length);
      this.rows = appendBounded(this.rows, rows, (n) => (this.notKept += n));
    }
    this.changed();
  }

  setCounters(c: Record<string, number>): void {
    this.counters = c;
    this.changed();
  }

  addUndelivered(n: number): void {
    this.undelivered += n;
    this.changed();
  }

  clear(): void {
    this.rows = [];
    this.history = [];
    this.received = 0;
    this.notKept = 0;
    this.undelivered = 0;
    this.rate.t.length = 0;
    this.rate.n.length = 0;
    this.lastTableEnd = null;
    this.changed();
  }

  /** Stream probes: rows per second over the last 5 s. Interval probes: events (packets, drops) per second in the last table. */
  perSecond(now = Date.now()): number {
    if (this.probe.kind === 'interval') return Math.round(this.rate.n[this.rate.n.length - 1] ?? 0);
    const sec = Math.floor(now / 1000);
    let sum = 0;
    for (let i = this.rate.t.length - 1; i >= 0 && this.rate.t[i]! > sec - 6; i--) if (this.rate.t[i]! < sec) sum += this.rate.n[i]!;
    return Math.round(sum / 5);
  }

  subscribe = (l: () => void): (() => void) => {
    this.listeners.add(l);
    return () => void this.listeners.delete(l);
  };

  /** Notify views (at most once per frame). */
  changed(): void {
    if (this.frame !== null) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = null;
      this.version++;
      for (const l of this.listeners) l();
    });
  }

  /** One point per table: its events per second over the interval it covers. */
  private countTable(rows: Row[]): void {
    const end = (rows[0] as { time?: number } | undefined)?.time ?? Date.now() * 1000;
    const prev = this.lastTableEnd;
    this.lastTableEnd = end;
    const seconds = prev !== null && end > prev ? (end - prev) / 1e6 : 1;
    this.rate.t.push(Math.floor(end / 1e6));
    const weight = this.probe.rate.weight;
    let events = 0;
    for (const row of rows) events += weight ? weight(row as never) : 1;
    this.rate.n.push(events / seconds);
    if (this.rate.t.length > RATE_SECONDS) {
      this.rate.t.shift();
      this.rate.n.shift();
    }
  }

  private lastTableEnd: number | null = null;

  private countRate(n: number): void {
    const sec = Math.floor(Date.now() / 1000);
    const { t, n: counts } = this.rate;
    if (t[t.length - 1] === sec) counts[counts.length - 1]! += n;
    else {
      t.push(sec);
      counts.push(n);
      if (t.length > RATE_SECONDS) {
        t.shift();
        counts.shift();
      }
    }
  }
}

/** An interval table's events: packets (nettop), drops (dropwatch), else rows. */

function appendBounded<Row>(into: Row[], rows: Row[], dropped: (n: number) => void): Row[] {
  for (const r of rows) into.push(r);
  if (into.length > MAX_ROWS) {
    // Drop a tenth at once so the copy happens rarely.
    const cut = into.length - MAX_ROWS + MAX_ROWS / 10;
    dropped(cut);
    return into.slice(cut);
  }
  return into;
}

export function useStore(store: ProbeStore<object>): number {
  return useSyncExternalStore(store.subscribe, () => store.version);
}

/** Re-render every `ms` (for badges and rates that change with time, not only with rows). */
export function useTick(ms: number): number {
  return useSyncExternalStore(
    (l) => {
      const t = setInterval(l, ms);
      return () => clearInterval(t);
    },
    () => Math.floor(Date.now() / ms),
  );
}

/**
 * A row filter over a growing array: while the rows are the same array with
 * more appended, only the new rows are tested, so a filter costs per new row,
 * not per row kept, on every batch.
 */
export class IncrementalFilter {
  private source: readonly object[] | null = null;
  private key: unknown = null;
  private tested = 0;
  private kept: object[] = [];

  apply(source: readonly object[], test: ((row: object) => boolean) | null, key: unknown): readonly object[] {
    if (!test) return source;
    if (source !== this.source || key !== this.key || source.length < this.tested) {
      this.source = source;
      this.key = key;
      this.tested = 0;
      this.kept = [];
    }
    for (let i = this.tested; i < source.length; i++) if (test(source[i]!)) this.kept.push(source[i]!);
    this.tested = source.length;
    return this.kept;
  }
}
