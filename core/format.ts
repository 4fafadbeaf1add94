// Turning cell values into text: one definition for the GUI, the CSV export and the CLI.

import type { CellType, Column } from './probe.ts';

/** µs since the epoch → ISO 8601 UTC with microseconds, e.g. 2026-11-25T08:30:00.123456Z. */
export function isoMicros(us: number): string {
  const ms = Math.floor(us / 1000);
  const iso = new Date(ms).toISOString(); // ...T08:30:00.123Z
  const micros = String(Math.floor(us) % 1000).padStart(3, '0');
  return `${iso.slice(0, -1)}${micros}Z`;
}

export function formatCell(type: CellType, value: unknown): string {
  switch (type) {
    case 'time':
      return typeof value === 'number' ? isoMicros(value) : '';
    case 'flag':
      return value ? '1' : '0';
    case 'int':
      return typeof value === 'number' ? String(value) : '';
    case 'text':
      return typeof value === 'string' ? value : '';
  }
}

/** RFC 4180: quote a field that holds a comma, quote, CR or LF; double inner quotes. */
export function csvField(text: string): string {
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

const inCsv = <Row>(columns: readonly Column<Row>[]) => columns.filter((c) => !c.notInCsv);

export function csvHeader<Row>(columns: readonly Column<Row>[]): string {
  return inCsv(columns).map((c) => csvField(c.csv)).join(',');
}

export function csvLine<Row>(columns: readonly Column<Row>[], row: Row): string {
  return inCsv(columns).map((c) => csvField(formatCell(c.type, row[c.key]))).join(',');
}

/** A whole CSV document, CRLF line ends as RFC 4180 asks. */
export function toCsv<Row>(columns: readonly Column<Row>[], rows: Iterable<Row>): string {
  const lines = [csvHeader(columns)];
  for (const row of rows) lines.push(csvLine(columns, row));
  return lines.join('\r\n') + '\r\n';
}

/** One JSON object per row, keyed by the CSV names, cells formatted as in CSV except numbers and flags. */
export function jsonLine<Row>(columns: readonly Column<Row>[], row: Row): string {
  const out: Record<string, unknown> = {};
  for (const c of columns) {
    const v = row[c.key];
    out[c.csv] = c.type === 'time' ? formatCell('time', v) : c.type === 'flag' ? (v ? 1 : 0) : v;
  }
  return JSON.stringify(out);
}

/** printf's %Ns (right) and %-Ns (left): pad, never truncate. */
export const padL = (v: string | number, n: number): string => String(v).padStart(n);
export const padR = (v: string | number, n: number): string => String(v).padEnd(n);
