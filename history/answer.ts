// A history question and its answer, as data (the same in the host, the CLI
// and the renderer), and the answer as text: CSV (RFC 4180, the issue's
// columns: the grouping's dimensions, the measures, FIRST_SEEN and LAST_SEEN),
// JSON (one object a line) or an aligned table. Pure.

import { csvField, isoMicros } from '../core/format.ts';
import type { Dim, Grouping, HistoryKind } from './plan.ts';

export interface RangeQuery {
  kind: HistoryKind;
  by: Grouping;
  /** Seconds since the epoch: [from, to). */
  from: number;
  to: number;
  /** Keep the first N groups by the kind's rank (0: all). */
  top?: number;
  /** Only series whose dimensions have these values (e.g. {ipSource: "10.0.0.2"} or {pid: 42}). */
  where?: Record<string, string | number>;
  /** Also give each group's timeline. */
  timeline?: boolean;
}

export interface Group {
  /** The grouping's dimension values, in `dims` order. */
  key: (string | number)[];
  /** Measure sums, in `measures` order. */
  m: number[];
  /** µs: the earliest and latest time the group was seen in the range. */
  first: number;
  last: number;
  /** [t (s), m0, m1, ...] per bucket with data, when asked. */
  points?: number[][];
}

/** A measure as data (what the renderer and the formats need of it). */
export interface MeasureInfo {
  csv: string;
  title: string;
}

export interface RangeAnswer {
  kind: HistoryKind;
  dims: Dim[];
  measures: MeasureInfo[];
  groups: Group[];
  /** The timeline's bucket, seconds (0 without one). */
  step: number;
}

type AnswerLike = Pick<RangeAnswer, 'dims' | 'measures' | 'groups'>;

export function answerHeader(a: AnswerLike): string[] {
  return [...a.dims.map((d) => d.csv), ...a.measures.map((m) => m.csv), 'FIRST_SEEN', 'LAST_SEEN'];
}

function values(g: AnswerLike['groups'][number]): (string | number)[] {
  return [...g.key, ...g.m, isoMicros(g.first), isoMicros(g.last)];
}

export function answerCsv(a: AnswerLike): string[] {
  return [answerHeader(a).map(csvField).join(','), ...a.groups.map((g) => values(g).map((v) => csvField(String(v))).join(','))];
}

export function answerJson(a: AnswerLike): string[] {
  const header = answerHeader(a);
  return a.groups.map((g) => {
    const v = values(g);
    return JSON.stringify(Object.fromEntries(header.map((h, i) => [h, v[i]])));
  });
}

export function answerTable(a: AnswerLike): string[] {
  const rows = [answerHeader(a), ...a.groups.map((g) => values(g).map(String))];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd());
}
