// Which Prometheus metrics each probe's rows feed, declared by the probes' own
// CSV column names (the documented, stable names), never by a second copy of
// their rows' fields: a label or a value is a column, looked up in the probe's
// definition when the exporter starts. A column a probe gains later (dropwatch's
// COMMAND, say) feeds its label as soon as it exists; until then an optional
// label is left out. Pure: no Node, no prom-client.

import type { CellType, Column } from '../core/probe.ts';
import { PROBES, type ProbeId } from '../probes/registry.ts';

/** Every metric's name begins with this. */
export const PREFIX = 'netprobes_';

export interface LabelSpec {
  /** The Prometheus label. */
  readonly label: string;
  /** The probe's column that gives its value (CSV name). */
  readonly csv: string;
  /** Left out while the probe has no such column (a column another change adds). */
  readonly optional?: true;
  /** Kept in the `other` series (a label of few values, e.g. the device): the long tail is still split by it. */
  readonly keptInOther?: true;
}

export interface CounterSpec {
  /** The metric's name without PREFIX, e.g. `process_transmit_bytes_total`. */
  readonly name: string;
  readonly help: string;
  /** The column whose value each row adds; absent: each row counts one. */
  readonly csv?: string;
}

export interface FamilySpec {
  readonly probe: ProbeId;
  readonly labels: readonly LabelSpec[];
  readonly counters: readonly CounterSpec[];
  /** The columns whose sum ranks a label set for the top N (default: every counter's column, or 1 a row). */
  readonly rankBy?: readonly string[];
  /** Only rows whose column has this value count (tcp-connections: accepted ones). */
  readonly where?: { readonly csv: string; readonly equals: string };
}

/** The probes the exporter can run, and what their rows become. The metric names. */
export const FAMILIES: Partial<Record<ProbeId, FamilySpec>> = {
  nettop: {
    probe: 'nettop',
    labels: [
      { label: 'pid', csv: 'PID' },
      { label: 'comm', csv: 'COMMAND' },
      { label: 'uid', csv: 'UID' },
      { label: 'device', csv: 'DEV', keptInOther: true },
    ],
    counters: [
      { name: 'process_transmit_bytes_total', csv: 'XMIT_BYTES', help: 'Bytes sent by the process (frame lengths with the link-layer header, as the device sees them).' },
      { name: 'process_receive_bytes_total', csv: 'RECV_BYTES', help: 'Bytes received by the process (frame lengths with the link-layer header).' },
      { name: 'process_transmit_packets_total', csv: 'XMIT_PK', help: 'Packets sent by the process.' },
      { name: 'process_receive_packets_total', csv: 'RECV_PK', help: 'Packets received by the process.' },
    ],
    rankBy: ['XMIT_BYTES', 'RECV_BYTES'],
  },
  dropwatch: {
    probe: 'dropwatch',
    labels: [
      { label: 'location', csv: 'LOCATION' },
      { label: 'reason', csv: 'REASON' },
      { label: 'protocol', csv: 'PROTOCOL', keptInOther: true },
      { label: 'comm', csv: 'COMMAND', optional: true },
    ],
    counters: [{ name: 'drops_total', csv: 'COUNT', help: 'Packets the kernel dropped (skb:kfree_skb), by kernel function, drop reason and protocol.' }],
  },
  'tcp-connections': {
    probe: 'tcp-connections',
    labels: [
      { label: 'port', csv: 'PORT' },
      { label: 'comm', csv: 'CMD' },
    ],
    counters: [{ name: 'tcp_accepts_total', help: 'TCP connections a local process accepted, by local port and command.' }],
    where: { csv: 'DIRECTION', equals: 'accepted' },
  },
};

export const EXPORTABLE = Object.keys(FAMILIES) as ProbeId[];

/** A family resolved against its probe's columns: row keys to read, in label order. */
export interface ResolvedFamily {
  readonly probe: ProbeId;
  readonly labelNames: readonly string[];
  /** For each label, the row key it reads and how to turn the cell into text. */
  readonly labelKeys: readonly string[];
  /** Per label, whether the `other` series keeps its value. */
  readonly keptInOther: readonly boolean[];
  readonly counters: readonly { name: string; help: string; key: string | null }[];
  readonly rankKeys: readonly string[];
  readonly where: { key: string; equals: string } | null;
}

export class FamilyError extends Error {}

/** Looks up every column a family names in its probe's definition; throws FamilyError for a missing required one. */
export function resolveFamily(spec: FamilySpec, columns: readonly Column<object>[] = PROBES[spec.probe].columns as readonly Column<object>[]): ResolvedFamily {
  const find = (csv: string, types: readonly CellType[]): string | null => {
    const c = columns.find((col) => col.csv === csv);
    if (!c) return null;
    if (!types.includes(c.type)) throw new FamilyError(`${spec.probe}: column ${csv} is ${c.type}, not ${types.join(' or ')}`);
    return c.key;
  };
  const need = (csv: string, types: readonly CellType[]): string => {
    const key = find(csv, types);
    if (key === null) throw new FamilyError(`${spec.probe} has no column ${csv}`);
    return key;
  };
  const labels = spec.labels.flatMap((l) => {
    const key = l.optional ? find(l.csv, ['int', 'text', 'flag']) : need(l.csv, ['int', 'text', 'flag']);
    return key === null ? [] : [{ ...l, key }];
  });
  const counters = spec.counters.map((c) => ({ name: PREFIX + c.name, help: c.help, key: c.csv ? need(c.csv, ['int']) : null }));
  const rankKeys = spec.rankBy ? spec.rankBy.map((csv) => need(csv, ['int'])) : counters.flatMap((c) => (c.key ? [c.key] : []));
  return {
    probe: spec.probe,
    labelNames: labels.map((l) => l.label),
    labelKeys: labels.map((l) => l.key),
    keptInOther: labels.map((l) => !!l.keptInOther),
    counters,
    rankKeys,
    where: spec.where ? { key: need(spec.where.csv, ['text']), equals: spec.where.equals } : null,
  };
}

/** A cell as a label value. */
export function labelValue(cell: unknown): string {
  if (typeof cell === 'boolean') return cell ? '1' : '0';
  return String(cell);
}
