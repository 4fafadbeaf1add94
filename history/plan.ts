// What history records of each probe, derived from the probe's own column
// definitions: every text/int column that is not a measure (and not a cell the
// GUI derives, a TCP flag or a GUI-only detail) is a dimension, so a column a
// probe gains (dropwatch's PID, say) is recorded and queryable without a change
// here. A "kind" is one recorded table: a probe's rows summed per second and per
// dimension values, or the probes' counters (losses).

import type { Column } from '../core/probe.ts';
import { PROBES, type ProbeId } from '../probes/registry.ts';

export const HISTORY_KINDS = ['nettop', 'flows', 'dropwatch', 'tcp-connections', 'losses'] as const;
export type HistoryKind = (typeof HISTORY_KINDS)[number];

export const GROUPINGS = ['all', 'process', 'command', 'user', 'device', 'remote', 'location', 'reason', 'counter'] as const;
export type Grouping = (typeof GROUPINGS)[number];

/** A summed quantity: its CSV name, its title, and what one row adds. At most MAX_MEASURES per kind (m0..m3). */
export interface Measure {
  readonly csv: string;
  readonly title: string;
  readonly of: (row: Record<string, unknown>) => number;
}
export const MAX_MEASURES = 4;

/** A dimension: a column's key, CSV name, title and cell type. */
export interface Dim {
  readonly key: string;
  readonly csv: string;
  readonly title: string;
  readonly type: 'int' | 'text';
}

export interface KindPlan {
  readonly kind: HistoryKind;
  /** The probe whose rows feed it (losses: every probe's counters). */
  readonly probe: ProbeId | null;
  readonly title: string;
  readonly dims: readonly Dim[];
  readonly measures: readonly Measure[];
  /** The groupings `--by` offers: the dimension keys each one sums over, in output order. */
  readonly by: Partial<Record<Grouping, readonly string[]>>;
  /** What "top" sorts by: the sum of these measures (indexes). */
  readonly rank: readonly number[];
}

const num = (v: unknown) => (typeof v === 'number' ? v : 0);

function dimsOf(id: ProbeId, skip: readonly string[]): Dim[] {
  return (PROBES[id].columns as readonly Column<Record<string, unknown>>[])
    .filter((c) => (c.type === 'int' || c.type === 'text') && !c.notInCsv && !skip.includes(c.key))
    .map((c) => ({ key: c.key, csv: c.csv, title: c.title, type: c.type as 'int' | 'text' }));
}

/** A measure that sums one of the probe's int columns, named as the column. */
function sumOf(id: ProbeId, key: string): Measure {
  const c = PROBES[id].columns.find((x: { key: string }) => x.key === key) as Column<Record<string, unknown>>;
  return { csv: c.csv, title: c.title, of: (row) => num(row[key]) };
}

const count = (csv: string, title: string): Measure => ({ csv, title, of: () => 1 });

function plan(p: Omit<KindPlan, 'dims' | 'by'> & { skip: readonly string[]; by: Partial<Record<Grouping, readonly string[]>> }): KindPlan {
  const dims = p.probe ? dimsOf(p.probe, p.skip) : [];
  return { kind: p.kind, probe: p.probe, title: p.title, dims, measures: p.measures, by: { all: dims.map((d) => d.key), ...p.by }, rank: p.rank };
}

const nettopMeasures = ['xmitPk', 'recvPk', 'xmitBytes', 'recvBytes'];
const PROCESS = ['pid', 'uid', 'command', 'cmd', 'dev'];

export const PLANS: Record<HistoryKind, KindPlan> = {
  nettop: plan({
    kind: 'nettop',
    probe: 'nettop',
    title: 'Traffic per process',
    // KB columns are bytes / 1024: derived, not recorded.
    skip: [...nettopMeasures, 'xmitKb', 'recvKb'],
    measures: nettopMeasures.map((k) => sumOf('nettop', k)),
    by: { process: ['pid', 'uid', 'command', 'dev'], command: ['command'], user: ['uid'], device: ['dev'] },
    rank: [0, 1],
  }),
  // The packet probe's rows are too many to keep one by one: per second and per flow (addresses, ports, protocol,
  // device, and whatever process columns the probe has), packets and bytes.
  flows: plan({
    kind: 'flows',
    probe: 'tcpdump',
    title: 'Flows (from the packet probe)',
    skip: ['length'],
    measures: [count('PACKETS', 'Packets'), sumOf('tcpdump', 'length')],
    by: { process: PROCESS, command: ['command', 'cmd'], user: ['uid'], device: ['dev'], remote: ['src'] },
    rank: [0],
  }),
  dropwatch: plan({
    kind: 'dropwatch',
    probe: 'dropwatch',
    title: 'Drops',
    skip: ['count'],
    measures: [sumOf('dropwatch', 'count')],
    by: { location: ['location'], reason: ['reason'], process: PROCESS, command: ['command', 'cmd'] },
    rank: [0],
  }),
  'tcp-connections': plan({
    kind: 'tcp-connections',
    probe: 'tcp-connections',
    title: 'TCP connections',
    skip: [],
    measures: [count('CONNECTIONS', 'Connections')],
    by: { process: PROCESS, command: ['cmd', 'command'], user: ['uid'], remote: ['ipSource'] },
    rank: [0],
  }),
  losses: {
    kind: 'losses',
    probe: null,
    title: 'Counters and losses',
    dims: [
      { key: 'probe', csv: 'PROBE', title: 'Probe', type: 'text' },
      { key: 'counter', csv: 'COUNTER', title: 'Counter', type: 'text' },
      { key: 'loss', csv: 'LOSS', title: 'Loss', type: 'int' },
    ],
    measures: [{ csv: 'COUNT', title: 'Count', of: (row) => num(row.n) }],
    by: { all: ['probe', 'counter', 'loss'], counter: ['probe', 'counter', 'loss'] },
    rank: [0],
  },
};

/** The kind a probe's rows feed, if any (socket-trace's calls are not recorded). */
export const KIND_OF_PROBE: Partial<Record<ProbeId, HistoryKind>> = Object.fromEntries(
  HISTORY_KINDS.filter((k) => PLANS[k].probe).map((k) => [PLANS[k].probe!, k]),
);

/** The dimensions a grouping sums over for a kind (those the kind has), or null if the kind has none of them. */
export function groupDims(kind: HistoryKind, by: Grouping): Dim[] | null {
  const p = PLANS[kind];
  const keys = p.by[by];
  if (!keys) return null;
  const dims = keys.map((k) => p.dims.find((d) => d.key === k)).filter((d): d is Dim => !!d);
  return dims.length ? dims : null;
}
