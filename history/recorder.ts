// From probe rows to history: each row of a recorded probe becomes one add to
// its kind's sum for that second and that set of dimension values; each
// counters message becomes the counters' increase since the last one (the
// losses kind), so the past is as honest as the present. Pure: the sink is the
// store (store.node.ts), or a test's array.

import { PROBES, type ProbeId } from '../probes/registry.ts';
import { KIND_OF_PROBE, PLANS, type HistoryKind } from './plan.ts';

export interface HistorySink {
  add(kind: HistoryKind, t: number, dims: string, measures: readonly number[], firstUs: number, lastUs: number): void;
}

interface Run {
  /** An interval probe's interval, µs: a row's time is its end, so it covers [time - span, time]. */
  spanUs: number;
  counters: Record<string, number>;
}

/** Dimension values → their series JSON, remembered (JSON.stringify per packet row was most of the recorder's cost). */
const MAX_DIMS_CACHE = 50_000;

export class Recorder {
  private readonly runs = new Map<ProbeId, Run>();
  private readonly dimsJson = new Map<string, string>();

  constructor(private readonly sink: HistorySink) {}

  /** A probe (re)started with these options: its interval and its counters start again. */
  started(probe: ProbeId, options: object): void {
    const interval = (options as { interval?: unknown }).interval;
    this.runs.set(probe, { spanUs: typeof interval === 'number' && PROBES[probe].kind === 'interval' ? interval * 1e6 : 0, counters: {} });
  }

  /** Rows of the probe, as objects keyed by its column keys. */
  rows(probe: ProbeId, rows: readonly Record<string, unknown>[]): void {
    const kind = KIND_OF_PROBE[probe];
    if (!kind) return;
    const plan = PLANS[kind];
    const span = this.runs.get(probe)?.spanUs ?? 0;
    const measures = new Array<number>(plan.measures.length);
    const dims = plan.dims;
    for (const row of rows) {
      const time = typeof row.time === 'number' ? row.time : Date.now() * 1000;
      let key = kind;
      for (let i = 0; i < dims.length; i++) key += `\x1f${row[dims[i]!.key] as string | number}`;
      let json = this.dimsJson.get(key);
      if (json === undefined) {
        const o: Record<string, unknown> = {};
        for (const d of dims) o[d.key] = row[d.key];
        json = JSON.stringify(o);
        if (this.dimsJson.size >= MAX_DIMS_CACHE) this.dimsJson.clear();
        this.dimsJson.set(key, json);
      }
      for (let i = 0; i < measures.length; i++) measures[i] = plan.measures[i]!.of(row);
      this.sink.add(kind, Math.floor(time / 1e6), json, measures, time - span, time);
    }
  }

  /** A probe's cumulative counters: their increase since the last message is recorded. */
  counters(probe: ProbeId, counters: Record<string, number>, nowUs = Date.now() * 1000): void {
    let run = this.runs.get(probe);
    if (!run) this.runs.set(probe, (run = { spanUs: 0, counters: {} }));
    const def = PROBES[probe];
    for (const c of def.counters) {
      const now = counters[c.key] ?? 0;
      const before = run.counters[c.key] ?? 0;
      const delta = now >= before ? now - before : now; // lower than before: a new run of the probe
      run.counters[c.key] = now;
      if (delta > 0) this.sink.add('losses', Math.floor(nowUs / 1e6), JSON.stringify({ probe, counter: c.key, loss: c.loss ? 1 : 0 }), [delta], nowUs, nowUs);
    }
  }
}
