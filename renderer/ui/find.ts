// The find bar's language, the same in every tab and in serve's URL: words that
// must all match. `field:value` matches the columns that field names in this
// tab (process:, pid:, port:, host:, dev:, reason:), `COLUMN=value` one column
// by its CSV name exactly, any other word any cell containing it (ignoring
// case). Which columns a field covers is read from the probe's column keys, so
// a column another probe gains (a PID, a COMMAND) is searchable at once. A
// field this tab has no column for is left out (a shared `port:443` does not
// empty the Drops tab) and named by `unusedFields`. Pure: test/unit/find.test.ts.

import type { Column } from '../../core/probe.ts';
import { formatCell } from '../../core/format.ts';

/** Field → the column keys it searches, and how: exact (numbers, names) or contains (text). */
export const FIELDS: Record<string, { keys: readonly string[]; exact: boolean }> = {
  process: { keys: ['command', 'comm', 'cmd'], exact: false },
  pid: { keys: ['pid'], exact: true },
  port: { keys: ['sport', 'dport', 'port', 'remotePort'], exact: true },
  host: { keys: ['src', 'dst', 'ipSource'], exact: false },
  dev: { keys: ['dev'], exact: true },
  reason: { keys: ['reason'], exact: false },
};

/** The fields that apply to a probe's columns. */
export function fieldsOf(columns: readonly Column<object>[]): string[] {
  return Object.keys(FIELDS).filter((f) => columns.some((c) => FIELDS[f]!.keys.includes(c.key)));
}

/** Fields written in `text` that this probe has no column for. */
export function unusedFields(columns: readonly Column<object>[], text: string): string[] {
  const have = new Set(fieldsOf(columns));
  return words(text)
    .map((w) => /^([a-z]+):/.exec(w)?.[1])
    .filter((f): f is string => !!f && f in FIELDS && !have.has(f));
}

const words = (text: string) => text.trim().split(/\s+/).filter(Boolean);

/** A test for the rows `text` asks for, or null when it asks for nothing. */
export function rowMatcher(columns: readonly Column<object>[], text: string): ((row: object) => boolean) | null {
  const cell = (c: Column<object>, r: object) => formatCell(c.type, (r as Record<string, unknown>)[c.key]);
  const tests: ((r: object) => boolean)[] = [];
  for (const w of words(text)) {
    const field = /^([a-z]+):(.*)$/.exec(w);
    if (field && field[1]! in FIELDS) {
      const { keys, exact } = FIELDS[field[1]!]!;
      const cols = columns.filter((c) => keys.includes(c.key));
      if (!cols.length) continue;
      const value = field[2]!.toLowerCase();
      if (!value) continue;
      tests.push(exact ? (r) => cols.some((c) => cell(c, r).toLowerCase() === value) : (r) => cols.some((c) => cell(c, r).toLowerCase().includes(value)));
      continue;
    }
    const eq = /^([A-Za-z_]+)=(.*)$/.exec(w);
    const col = eq && columns.find((c) => c.csv.toLowerCase() === eq[1]!.toLowerCase());
    if (col) {
      const value = eq[2];
      tests.push((r) => cell(col, r) === value);
      continue;
    }
    const needle = w.toLowerCase();
    tests.push((r) => columns.some((c) => cell(c, r).toLowerCase().includes(needle)));
  }
  if (!tests.length) return null;
  return (r) => tests.every((t) => t(r));
}
