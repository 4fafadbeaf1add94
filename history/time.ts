// The CLI's and the GUI's ways of naming a time range: durations (30s, 15m,
// 2h, 7d) and times (ISO 8601, or local "YYYY-MM-DD HH:MM"). Pure.

const UNIT_S: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400, w: 604800 };

/** Seconds in a duration like 30s, 15m, 2h, 7d (or 1w); null if it is not one. */
export function parseDuration(text: string): number | null {
  const m = /^(\d{1,7})([smhdw])$/.exec(text.trim());
  return m ? Number(m[1]) * UNIT_S[m[2]!]! : null;
}

/** ms since the epoch of an ISO 8601 time or a local "YYYY-MM-DD HH:MM[:SS]"; null if neither. */
export function parseTime(text: string): number | null {
  const t = text.trim();
  const local = /^(\d{4})-(\d\d)-(\d\d)[ T](\d\d):(\d\d)(?::(\d\d))?$/.exec(t);
  if (local) {
    const [y, mo, d, h, mi, s] = local.slice(1).map((x) => Number(x ?? 0)) as [number, number, number, number, number, number];
    const date = new Date(y, mo - 1, d, h, mi, s);
    return Number.isNaN(date.getTime()) ? null : date.getTime();
  }
  if (!/^\d{4}-\d\d-\d\d(T[\d:.]+(Z|[+-]\d\d:?\d\d)?)?$/.test(t)) return null;
  const ms = Date.parse(t);
  return Number.isNaN(ms) ? null : ms;
}
