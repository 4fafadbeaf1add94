// Writing history: the sums of a second or so (sums.ts) in one transaction, to
// the three tiers at once; retention, the size cap and "clear history".

import type Database from 'better-sqlite3';
import { TIER_SECONDS, TIERS, usedBytes, type Db, type Tier } from './db.node.ts';
import type { Sum } from './sums.ts';
import { DEFAULT_RETENTION, type Retention } from './retention.ts';


/** Series ids remembered between writes. */
const MAX_SERIES_CACHE = 100_000;

export interface StoreStats {
  /** (kind, second, series) sums written. */
  written: number;
  writes: number;
  /** The last write's duration, ms. */
  lastWriteMs: number;
}

export class HistoryStore {
  private readonly seriesIds = new Map<string, number>();
  readonly stats: StoreStats = { written: 0, writes: 0, lastWriteMs: 0 };
  private readonly upsertSeries;
  private readonly upsertTier: Record<Tier, Database.Statement>;

  constructor(
    readonly db: Db,
    readonly file: string,
    public retention: Retention = DEFAULT_RETENTION,
  ) {
    this.upsertSeries = db.prepare<[string, string, number], { id: number }>(
      'INSERT INTO series (kind, dims, last) VALUES (?, ?, ?) ON CONFLICT (kind, dims) DO UPDATE SET last = max(last, excluded.last) RETURNING id',
    );
    this.upsertTier = Object.fromEntries(
      TIERS.map((tier) => [
        tier,
        db.prepare(
          `INSERT INTO ${tier} (t, series, first, last, m0, m1, m2, m3) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT (t, series) DO UPDATE SET first = min(first, excluded.first), last = max(last, excluded.last),
             m0 = m0 + excluded.m0, m1 = m1 + excluded.m1, m2 = m2 + excluded.m2, m3 = m3 + excluded.m3`,
        ),
      ]),
    ) as Record<Tier, Database.Statement>;
  }

  /** Writes sums, in one transaction, to every tier. */
  write(batch: readonly Sum[]): void {
    if (!batch.length) return;
    const started = performance.now();
    this.db.transaction(() => {
      for (const p of batch) {
        const sKey = `${p.kind}\x1f${p.dims}`;
        let id = this.seriesIds.get(sKey);
        // The series' `last` (for retention) is brought forward once per series and write, not per second.
        if (id === undefined || p.t > (this.seriesLast.get(id) ?? 0)) {
          id = this.upsertSeries.get(p.kind, p.dims, p.t)!.id;
          if (this.seriesIds.size >= MAX_SERIES_CACHE) this.forgetSeries();
          this.seriesIds.set(sKey, id);
          this.seriesLast.set(id, p.t);
        }
        for (const tier of TIERS) {
          const step = TIER_SECONDS[tier];
          this.upsertTier[tier].run(p.t - (p.t % step), id, p.first, p.last, p.m[0], p.m[1], p.m[2], p.m[3]);
        }
      }
    })();
    this.stats.written += batch.length;
    this.stats.writes++;
    this.stats.lastWriteMs = performance.now() - started;
  }
  private readonly seriesLast = new Map<number, number>();

  /** Drops what is older than each tier keeps, then the oldest data while over the size cap. */
  enforce(nowSec = Math.floor(Date.now() / 1000)): { deleted: number; bytes: number } {
    let deleted = 0;
    this.db.transaction(() => {
      for (const tier of TIERS) deleted += this.db.prepare(`DELETE FROM ${tier} WHERE t < ?`).run(nowSec - this.retention.keep[tier]).changes;
      // A series no tier refers to any more: its last second is older than the longest-kept tier.
      const oldest = nowSec - Math.max(...Object.values(this.retention.keep));
      if (this.db.prepare('DELETE FROM series WHERE last < ?').run(oldest).changes) this.forgetSeries();
    })();
    // Over the cap: a tenth of the oldest tier's time span at a time, raw first (its data is also in the rollups).
    for (let round = 0; round < 200 && usedBytes(this.db, this.file) > this.retention.maxBytes; round++) {
      const tier = TIERS.find((t) => this.db.prepare(`SELECT 1 FROM ${t} LIMIT 1`).get());
      if (!tier) break;
      const { lo, hi } = this.db.prepare(`SELECT min(t) AS lo, max(t) AS hi FROM ${tier}`).get() as { lo: number; hi: number };
      const cut = lo + Math.max(TIER_SECONDS[tier], Math.ceil((hi - lo + 1) / 10));
      deleted += this.db.prepare(`DELETE FROM ${tier} WHERE t < ?`).run(cut).changes;
      this.compact();
    }
    return { deleted, bytes: usedBytes(this.db, this.file) };
  }

  /** Gives free pages back to the file system and empties the WAL. */
  compact(): void {
    this.db.pragma('incremental_vacuum');
    this.db.pragma('wal_checkpoint(TRUNCATE)');
  }

  /** Deletes all history (the "Clear history" button, `history --clear`). */
  clear(): void {
    this.db.transaction(() => {
      for (const t of [...TIERS, 'series']) this.db.exec(`DELETE FROM ${t}`);
    })();
    this.forgetSeries();
    this.compact();
  }

  private forgetSeries(): void {
    this.seriesIds.clear();
    this.seriesLast.clear();
  }

  close(): void {
    this.db.close();
  }
}
