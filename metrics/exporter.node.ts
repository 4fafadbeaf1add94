// The exporter's metrics: each probe's rows summed into bounded series
// (series.ts), the probes' own losses, the series bookkeeping and build info,
// written in the Prometheus exposition format by prom-client. The series store
// is the one truth; prom-client's counters are filled from a snapshot of it at
// each scrape (their collect hooks), so every counter of a family shows the
// same moment.

import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import { PROBES, type ProbeId } from '../probes/registry.ts';
import { FAMILIES, labelValue, PREFIX, resolveFamily, type ResolvedFamily } from './families.ts';
import { SeriesStore, type SeriesLimits, type ShownSeries } from './series.ts';

export interface ExporterOptions {
  readonly probes: readonly ProbeId[];
  readonly limits: SeriesLimits;
  readonly version: string;
  /** Each running probe's cumulative counters (its definition's keys); null while it is not running. */
  readonly counters: (probe: ProbeId) => Record<string, number> | null;
  readonly now?: () => number;
}

/** One probe's rows, summed into its bounded series. */
class ProbeSeries {
  readonly store: SeriesStore;
  shown: ShownSeries[] = [];

  constructor(
    readonly family: ResolvedFamily,
    limits: SeriesLimits,
  ) {
    this.store = new SeriesStore(family.counters.length, family.keptInOther, limits);
  }

  add(rows: readonly object[], now: number): void {
    const f = this.family;
    for (const row of rows as readonly Record<string, unknown>[]) {
      if (f.where && row[f.where.key] !== f.where.equals) continue;
      const labels = f.labelKeys.map((k) => labelValue(row[k]));
      const values = f.counters.map((c) => (c.key ? (row[c.key] as number) : 1));
      let weight = 0;
      for (const k of f.rankKeys) weight += row[k] as number;
      this.store.add(labels, values, f.rankKeys.length ? weight : 1, now);
    }
  }
}

export class Exporter {
  readonly registry = new Registry();
  private readonly series = new Map<ProbeId, ProbeSeries>();
  private readonly now: () => number;

  constructor(private readonly opts: ExporterOptions) {
    this.now = opts.now ?? Date.now;
    for (const probe of opts.probes) {
      const spec = FAMILIES[probe];
      if (!spec) throw new Error(`no metrics are defined for ${probe}`);
      this.series.set(probe, new ProbeSeries(resolveFamily(spec), opts.limits));
    }
    this.register();
  }

  /** A probe's rows (an interval table, or stream rows), as its source gives them. */
  rows(probe: ProbeId, rows: readonly object[]): void {
    this.series.get(probe)?.add(rows, this.now());
  }

  /** The exposition text for one scrape. */
  async metrics(): Promise<string> {
    const now = this.now();
    for (const s of this.series.values()) s.shown = s.store.scrape(now);
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  private register(): void {
    const registers = [this.registry];
    // The families: one counter a value, filled from the snapshot taken for this scrape.
    for (const s of this.series.values()) {
      s.family.counters.forEach((c, i) => {
        new Counter({
          name: c.name,
          help: c.help,
          labelNames: s.family.labelNames,
          registers,
          collect() {
            this.reset();
            for (const series of s.shown) this.inc(labelsOf(s.family.labelNames, series.labels), series.values[i]!);
          },
        });
      });
    }
    const { probes, counters } = this.opts;
    const series = this.series;
    new Counter({
      name: `${PREFIX}lost_total`,
      help: "What a probe did not see or could not show (its definition's loss counters: kernel capture drops, ring-buffer overruns, shed rows, ...), by probe and cause.",
      labelNames: ['probe', 'cause'],
      registers,
      collect() {
        this.reset();
        for (const probe of probes) {
          const values = counters(probe);
          if (!values) continue;
          for (const c of PROBES[probe].counters) if (c.loss) this.inc({ probe, cause: c.key }, values[c.key] ?? 0);
        }
      },
    });
    new Gauge({
      name: `${PREFIX}probe_up`,
      help: '1 while the probe runs, 0 when it has stopped (see the exporter log for why).',
      labelNames: ['probe'],
      registers,
      collect() {
        for (const probe of probes) this.set({ probe }, counters(probe) ? 1 : 0);
      },
    });
    new Gauge({
      name: `${PREFIX}exporter_series`,
      help: "Series the exporter shows per probe: a label set's own (at most --top) and the `other` series for the rest.",
      labelNames: ['probe', 'kind'],
      registers,
      collect() {
        for (const [probe, s] of series) {
          this.set({ probe, kind: 'own' }, s.store.size.own);
          this.set({ probe, kind: 'other' }, s.store.size.other);
        }
      },
    });
    new Counter({
      name: `${PREFIX}exporter_series_changes_total`,
      help: 'Series created, expired (no traffic for --series-ttl) and evicted (by a busier label set when --top was reached), per probe.',
      labelNames: ['probe', 'change'],
      registers,
      collect() {
        this.reset();
        for (const [probe, s] of series) {
          const st = s.store.stats;
          this.inc({ probe, change: 'created' }, st.created);
          this.inc({ probe, change: 'expired' }, st.expired);
          this.inc({ probe, change: 'evicted' }, st.evicted);
        }
      },
    });
    new Counter({
      name: `${PREFIX}exporter_other_rows_total`,
      help: 'Rows counted in an `other` series because their label set had no series of its own (--top reached), per probe.',
      labelNames: ['probe'],
      registers,
      collect() {
        this.reset();
        for (const [probe, s] of series) this.inc({ probe }, s.store.stats.folded);
      },
    });
    new Gauge({
      name: `${PREFIX}build_info`,
      help: 'Always 1: the NetProbes version and the Node.js version that run the exporter.',
      labelNames: ['version', 'nodejs'],
      registers,
    }).set({ version: this.opts.version, nodejs: process.versions.node }, 1);
    // The exporter's own CPU time, memory and event-loop lag (process_*, nodejs_*).
    collectDefaultMetrics({ register: this.registry });
  }
}

function labelsOf(names: readonly string[], values: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i < names.length; i++) out[names[i]!] = values[i]!;
  return out;
}
