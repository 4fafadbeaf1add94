// Each probe's rows in the renderer, outside React: bounded (the oldest go
// first, and how many went is counted and shown), a per-second rate series for
// badges and sparklines, and a version number that views re-render on at most
// once per animation frame.

import { useSyncExternalStore } from 'react';
import type { AnyProbe, ProbeId, PROBES } from '../../probes/registry.ts';
import { rowDecoder, type ProbeDefinition, type RowTuple } from '../../core/probe.ts';
import { RowRing, type RowList } from './rows.ts';
import { everySecond, type Points } from './series.ts';

/** Rows a stream probe keeps; interval probes keep this many rows of history. */
export const MAX_ROWS = 100_000;
/** Seconds of rate history kept for sparklines. */
export const RATE_SECONDS = 300;

/** A probe's row type, from its definition in the registry. */
export type RowOfProbe<K extends ProbeId> = (typeof PROBES)[K] extends ProbeDefinition<infer Row, infer _Options, infer _Id> ? Row : never;

/** One typed store per probe. */
export type Stores = { [K in ProbeId]: ProbeStore<RowOfProbe<K>> };

export class ProbeStore<Row extends object = object> {
  /** Stream: the newest MAX_ROWS rows, oldest first, in a ring that never copies. */
  readonly stream = new RowRing<Row>(MAX_ROWS);
  /** Interval: the latest table. */
  table: Row[] = [];
  /** Interval probes: every table's rows, oldest first (bounded like the stream). */
  readonly history = new RowRing<Row>(MAX_ROWS);
  /** Interval probes: the end of each table received (µs), empty tables too, so a chart knows an interval had nothing. */
  readonly tableTimes: number[] = [];
  received = 0;
  /** Interval probes: tables received (empty ones too). */
  tablesReceived = 0;
  /** Rows dropped from the bounded history. */
  notKept = 0;
  /** Rows the host could not deliver to this front end (it was falling behind). */
  undelivered = 0;
  counters: Record<string, number> = {};
  /**
   * Per wall-clock second (stream: rows received; interval: events per second of the table), the last
   * RATE_SECONDS seconds: [second, count], and of those NetProbes' own (`own`).
   */
  readonly rate: { t: number[]; n: number[]; own: number[] } = { t: [], n: [], own: [] };
  /** NetProbes' own rows among those held (the stream, or the latest table). */
  ownHeld = 0;
  /** The first and the newest second anything came from the probe since the last clear (rows or counters): what charts count as measured. */
  firstSecond: number | null = null;
  lastSecond: number | null = null;
  version = 0;
  private listeners = new Set<() => void>();
  private frame: number | null = null;
  private isOwn: ((row: object) => boolean) | null = null;

  /** Tuples from the wire become typed rows here, once. */
  private readonly decode: (tuple: RowTuple) => Row;

  constructor(readonly probe: AnyProbe) {
    this.decode = rowDecoder(probe.columns) as (tuple: RowTuple) => Row;
  }

  /** The rows a tab shows: the stream's ring, or the latest table. */
  get rows(): RowList<Row> & Iterable<Row> {
    return this.probe.kind === 'interval' ? this.table : this.stream;
  }

  /** Which rows are NetProbes' own (from the host's list of its processes and ports); recounts those held. */
  setOwn(isOwn: ((row: object) => boolean) | null): void {
    this.isOwn = isOwn;
    let n = 0;
    if (isOwn) for (const r of this.rows) if (isOwn(r)) n++;
    this.ownHeld = n;
    this.changed();
  }

  private heard(): void {
    const sec = Math.floor(Date.now() / 1000);
    this.firstSecond ??= sec;
    this.lastSecond = sec;
  }

  addRows(tuples: readonly RowTuple[]): void {
    this.heard();
    const rows = new Array<Row>(tuples.length);
    for (let i = 0; i < tuples.length; i++) rows[i] = this.decode(tuples[i]!);
    this.received += rows.length;
    const own = this.isOwn;
    if (this.probe.kind === 'interval') {
      this.countTable(rows);
      this.table = rows;
      this.ownHeld = own ? rows.reduce((n, r) => n + (own(r) ? 1 : 0), 0) : 0;
      for (const r of rows) if (this.history.push(r)) this.notKept++;
    } else {
      let ownNew = 0;
      for (const r of rows) {
        const leaving = this.stream.length === this.stream.capacity ? this.stream.at(0)! : null;
        if (this.stream.push(r)) {
          this.notKept++;
          if (own?.(leaving!)) this.ownHeld--;
        }
        if (own?.(r)) ownNew++;
      }
      this.ownHeld += ownNew;
      this.countRate(rows.length, ownNew);
    }
    this.changed();
  }

  setCounters(c: Record<string, number>): void {
    this.heard();
    this.counters = c;
    this.changed();
  }

  addUndelivered(n: number): void {
    this.undelivered += n;
    this.changed();
  }

  clear(): void {
    this.stream.clear();
    this.table = [];
    this.history.clear();
    this.tableTimes.length = 0;
    this.tablesReceived = 0;
    this.received = 0;
    this.notKept = 0;
    this.undelivered = 0;
    this.ownHeld = 0;
    this.firstSecond = this.lastSecond = null;
    this.rate.t.length = 0;
    this.rate.n.length = 0;
    this.rate.own.length = 0;
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
    this.tableTimes.push(end);
    this.tablesReceived++;
    if (this.tableTimes.length > RATE_SECONDS) this.tableTimes.shift();
    const seconds = prev !== null && end > prev ? (end - prev) / 1e6 : 1;
    this.rate.t.push(Math.floor(end / 1e6));
    const weight = this.probe.rate.weight;
    let events = 0;
    let own = 0;
    for (const row of rows) {
      const w = weight ? weight(row as never) : 1;
      events += w;
      if (this.isOwn?.(row)) own += w;
    }
    this.rate.n.push(events / seconds);
    this.rate.own.push(own / seconds);
    if (this.rate.t.length > RATE_SECONDS) {
      this.rate.t.shift();
      this.rate.n.shift();
      this.rate.own.shift();
    }
  }

  private lastTableEnd: number | null = null;

  private countRate(n: number, own: number): void {
    const sec = Math.floor(Date.now() / 1000);
    const { t, n: counts } = this.rate;
    if (t[t.length - 1] === sec) {
      counts[counts.length - 1]! += n;
      this.rate.own[counts.length - 1]! += own;
    } else {
      t.push(sec);
      counts.push(n);
      this.rate.own.push(own);
      if (t.length > RATE_SECONDS) {
        t.shift();
        counts.shift();
        this.rate.own.shift();
      }
    }
  }
}

/**
 * A stream probe's rows per second for a chart: every second of the shared window, zero where nothing came while
 * the probe was heard from, NetProbes' own rows left out while hidden.
 */
export function streamPoints(store: ProbeStore<object>, hideOwn: boolean, running: boolean, now = Math.floor(Date.now() / 1000)): Points {
  const { t, n, own } = store.rate;
  const values = hideOwn ? n.map((v, i) => v - own[i]!) : n;
  // Seconds still being counted are not shown yet: the newest point is the last whole second.
  const until = running ? now - 1 : (store.lastSecond ?? -Infinity);
  return everySecond(t, [values], now - 1, store.firstSecond ?? Infinity, until);
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
