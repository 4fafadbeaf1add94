// How long history is kept and how large its file may grow: the tiers, the
// defaults, the bounds a setting must keep to (checked where it is saved and at
// the window's request), and the sentence that says it. Pure: the window, the
// CLI and the writers share it.

export const TIERS = ['raw', 'minute', 'hour'] as const;
export type Tier = (typeof TIERS)[number];

export interface Retention {
  /** Seconds each tier is kept. */
  readonly keep: Record<Tier, number>;
  /** Bytes the database may use; over it, the oldest raw seconds go first, then minutes, then hours. */
  readonly maxBytes: number;
}

const DAY = 86_400;
export const DEFAULT_RETENTION: Retention = { keep: { raw: 7 * DAY, minute: 90 * DAY, hour: 730 * DAY }, maxBytes: 1 << 30 };

/** A tier is kept at least a minute and at most 100 years; the file may use at least 1 MiB. */
export const RETENTION_BOUNDS = { minKeepS: 60, maxKeepS: 100 * 365 * DAY, minBytes: 1 << 20, maxBytes: 2 ** 50 } as const;

export const validKeep = (v: unknown): v is number => Number.isInteger(v) && (v as number) >= RETENTION_BOUNDS.minKeepS && (v as number) <= RETENTION_BOUNDS.maxKeepS;
export const validBytes = (v: unknown): v is number => Number.isInteger(v) && (v as number) >= RETENTION_BOUNDS.minBytes && (v as number) <= RETENTION_BOUNDS.maxBytes;

const span = (s: number) => (s % DAY === 0 ? `${s / DAY} days` : s % 3600 === 0 ? `${s / 3600} hours` : s % 60 === 0 ? `${s / 60} minutes` : `${s} s`);

export function describeRetention(r: Retention): string {
  return `history keeps each second's sums ${span(r.keep.raw)}, each minute's ${span(r.keep.minute)}, each hour's ${span(r.keep.hour)}, in at most ${Math.round(r.maxBytes / 2 ** 20)} MiB`;
}
