// Sums waiting to be written: per kind, second and series (its dimensions'
// JSON), bounded. The recorder adds to it on the caller's turn; the writer
// takes the whole lot once a second (in the host, or sent to the CLI's writer
// process). Pure.

import { MAX_MEASURES, type HistoryKind } from './plan.ts';
import type { HistorySink } from './recorder.ts';

export interface Sum {
  kind: HistoryKind;
  /** Second since the epoch. */
  t: number;
  dims: string;
  /** MAX_MEASURES sums. */
  m: number[];
  /** µs. */
  first: number;
  last: number;
}

/** Sums held between two writes, at most this many (kind, second, series). */
export const MAX_PENDING = 200_000;

export class SumBuffer implements HistorySink {
  private pending = new Map<string, Sum>();
  /** Adds not kept because the buffer was full: counted, and shown as history's own loss. */
  shed = 0;

  add(kind: HistoryKind, t: number, dims: string, measures: readonly number[], firstUs: number, lastUs: number): void {
    const key = `${kind}\x1f${t}\x1f${dims}`;
    const p = this.pending.get(key);
    if (p) {
      for (let i = 0; i < measures.length; i++) p.m[i]! += measures[i]!;
      if (firstUs < p.first) p.first = firstUs;
      if (lastUs > p.last) p.last = lastUs;
      return;
    }
    if (this.pending.size >= MAX_PENDING) {
      this.shed++;
      return;
    }
    const m = new Array<number>(MAX_MEASURES).fill(0);
    for (let i = 0; i < Math.min(measures.length, MAX_MEASURES); i++) m[i] = measures[i]!;
    this.pending.set(key, { kind, t, dims, m, first: firstUs, last: lastUs });
  }

  get size(): number {
    return this.pending.size;
  }

  /** Everything held, emptied. */
  take(): Sum[] {
    const out = [...this.pending.values()];
    this.pending = new Map();
    return out;
  }
}
