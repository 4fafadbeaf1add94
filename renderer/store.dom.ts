// Each probe's rows in the renderer, outside React: bounded (the oldest go
// first, and how many went is counted and shown), with a version number that
// views re-render on at most once per animation frame.

import { useSyncExternalStore } from 'react';
import type { AnyProbe } from '../electron/probes/registry.ts';

/** Rows a stream probe keeps; interval probes keep this many rows of history. */
export const MAX_ROWS = 100_000;

export class ProbeStore {
  /** Stream: every row kept, oldest first. Interval: the latest table. */
  rows: object[] = [];
  /** Interval probes: every table's rows, oldest first (bounded like rows). */
  history: object[] = [];
  received = 0;
  /** Rows dropped from the bounded history. */
  notKept = 0;
  /** Rows the host could not deliver to this front end (it was falling behind). */
  undelivered = 0;
  counters: Record<string, number> = {};
  /** Interval probes: the end of the latest interval, µs. */
  lastTableAt: number | null = null;
  version = 0;
  private listeners = new Set<() => void>();
  private frame: number | null = null;

  constructor(readonly probe: AnyProbe) {}

  addRows(rows: object[]): void {
    this.received += rows.length;
    if (this.probe.kind === 'interval') {
      this.rows = rows;
      const first = rows[0] as { time?: number } | undefined;
      this.lastTableAt = first?.time ?? Date.now() * 1000;
      this.history = appendBounded(this.history, rows, (n) => (this.notKept += n));
    } else {
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
    this.lastTableAt = null;
    this.changed();
  }

  subscribe = (l: () => void): (() => void) => {
    this.listeners.add(l);
    return () => void this.listeners.delete(l);
  };

  private changed(): void {
    if (this.frame !== null) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = null;
      this.version++;
      for (const l of this.listeners) l();
    });
  }
}

function appendBounded(into: object[], rows: object[], dropped: (n: number) => void): object[] {
  for (const r of rows) into.push(r);
  if (into.length > MAX_ROWS) {
    // Drop a tenth at once so the copy happens rarely.
    const cut = into.length - MAX_ROWS + MAX_ROWS / 10;
    dropped(cut);
    return into.slice(cut);
  }
  return into;
}

export function useStore(store: ProbeStore): number {
  return useSyncExternalStore(store.subscribe, () => store.version);
}
