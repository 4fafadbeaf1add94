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

/**
 * The one CSV writer (RFC 4180), for the CLI, the GUI's export and copy, and history: a row's line, made without
 * per-cell work (measured: CSV formatting was the largest cost of `tcpdump --format csv` once decoding was fast):
 * the CSV columns picked once, the ISO date made once per second, only text cells checked for quoting.
 */
export function csvLineWriter<Row>(columns: readonly Column<Row>[]): (row: Row) => string {
  const cols = inCsv(columns);
  let sec = NaN;
  let prefix = '';
  const time = (us: number): string => {
    const whole = Math.floor(us);
    const s = Math.floor(whole / 1e6);
    if (s !== sec) {
      prefix = new Date(s * 1000).toISOString().slice(0, 19); // 2026-11-25T08:30:00
      sec = s;
    }
    return `${prefix}.${String(whole - s * 1e6).padStart(6, '0')}Z`;
  };
  return (row) => {
    let out = '';
    for (let i = 0; i < cols.length; i++) {
      const c = cols[i]!;
      const v: unknown = row[c.key];
      if (i) out += ',';
      switch (c.type) {
        case 'time':
          out += typeof v === 'number' ? time(v) : '';
          break;
        case 'flag':
          out += v ? '1' : '0';
          break;
        case 'int':
          out += typeof v === 'number' ? String(v) : '';
          break;
        case 'text':
          out += typeof v === 'string' ? csvField(v) : '';
          break;
      }
    }
    return out;
  };
}

export function csvLine<Row>(columns: readonly Column<Row>[], row: Row): string {
  return csvLineWriter(columns)(row);
}

/** A whole CSV document, CRLF line ends as RFC 4180 asks. */
export function toCsv<Row>(columns: readonly Column<Row>[], rows: Iterable<Row>): string {
  const line = csvLineWriter(columns);
  const lines = [csvHeader(columns)];
  for (const row of rows) lines.push(line(row));
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
