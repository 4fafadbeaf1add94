// A history answer as text: CSV (RFC 4180, the columns: the grouping's
// dimensions, the measures, FIRST_SEEN and LAST_SEEN), JSON (one object a
// line) or an aligned table. One definition for the CLI and the GUI's export.

import { csvField, isoMicros } from '../core/format.ts';
import type { Dim } from './plan.ts';

export interface AnswerLike {
  dims: readonly Dim[];
  measures: readonly { csv: string; title: string }[];
  groups: readonly { key: readonly (string | number)[]; m: readonly number[]; first: number; last: number }[];
}

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
