// The history database: one SQLite file (better-sqlite3), in WAL mode, owned
// by the user. Opening it checks it is a database we can read; a file that is
// not (corrupt, truncated, someone else's format) is moved aside with a clear
// message and a new one started. The schema is versioned (PRAGMA user_version)
// and migrated forward in one transaction per step.
//
// Storage: `series` names each distinct set of dimension values of a kind (a
// process on a device, a flow, a drop location and reason) once; `raw`,
// `minute` and `hour` hold per-second, per-minute and per-hour sums of up to
// four measures per series. Every write goes to all three tiers at once (an
// upsert that adds), so the rollups are always current and a query over any
// range is exact wherever its tier is still kept.

import Database from 'better-sqlite3';
import { chownSync, closeSync, existsSync, mkdirSync, openSync, readSync, renameSync, statSync } from 'node:fs';
import path from 'node:path';

export type Db = Database.Database;
import { TIERS, type Tier } from './retention.ts';

export { TIERS, type Tier };
export const TIER_SECONDS: Record<Tier, number> = { raw: 1, minute: 60, hour: 3600 };

/** Each step takes the schema from version i to i + 1. Never edit a released step: add one. */
const MIGRATIONS: readonly string[] = [
  `CREATE TABLE series (id INTEGER PRIMARY KEY, kind TEXT NOT NULL, dims TEXT NOT NULL, last INTEGER NOT NULL DEFAULT 0, UNIQUE (kind, dims));
   ${TIERS.map(
     (t) => `CREATE TABLE ${t} (t INTEGER NOT NULL, series INTEGER NOT NULL, first INTEGER NOT NULL, last INTEGER NOT NULL,
       m0 INTEGER NOT NULL DEFAULT 0, m1 INTEGER NOT NULL DEFAULT 0, m2 INTEGER NOT NULL DEFAULT 0, m3 INTEGER NOT NULL DEFAULT 0,
       PRIMARY KEY (t, series)) WITHOUT ROWID;`,
   ).join('\n')}
   -- a process's timeline over days reads the rollups by series (raw is read by time only: it is the big one)
   CREATE INDEX minute_by_series ON minute (series, t);
   CREATE INDEX hour_by_series ON hour (series, t);`,
];
export const SCHEMA_VERSION = MIGRATIONS.length;

/** The user's data directory for NetProbes: $XDG_DATA_HOME/netprobes, else ~/.local/share/netprobes. */
export function defaultHistoryPath(env: NodeJS.ProcessEnv = process.env, home = env.HOME ?? ''): string {
  const base = env.XDG_DATA_HOME && path.isAbsolute(env.XDG_DATA_HOME) ? env.XDG_DATA_HOME : path.join(home, '.local', 'share');
  return path.join(base, 'netprobes', 'history.db');
}

export interface Opened {
  db: Db;
  path: string;
  /** Set when the file there was not a usable database: where it went, and why. */
  movedAside: { to: string; why: string } | null;
}

const SQLITE_MAGIC = 'SQLite format 3\0';

/** Why the file is not a database we can use, or null when it is (or does not exist yet). */
function headerProblem(file: string): string | null {
  if (!existsSync(file)) return null;
  const size = statSync(file).size;
  if (size === 0) return null; // SQLite treats an empty file as a new database
  const buf = Buffer.alloc(16);
  const fd = openSync(file, 'r');
  try {
    readSync(fd, buf, 0, 16, 0);
  } finally {
    closeSync(fd);
  }
  if (buf.toString('latin1') !== SQLITE_MAGIC) return 'it is not an SQLite database (bad header)';
  if (size < 512) return 'it is truncated';
  return null;
}

/** Moves a bad database (and its -wal and -shm) to `<file>.corrupt-<time>`: kept for inspection, out of the way. */
export function moveAside(file: string): string {
  const to = `${file}.corrupt-${new Date().toISOString().replace(/[:.]/g, '-')}`;
  renameSync(file, to);
  for (const ext of ['-wal', '-shm']) if (existsSync(file + ext)) renameSync(file + ext, to + ext);
  return to;
}

function tryOpen(file: string): Db {
  const problem = headerProblem(file);
  if (problem) throw new CorruptError(problem);
  let db: Db | null = null;
  const fresh = !existsSync(file) || statSync(file).size === 0;
  try {
    db = new Database(file);
    // Before anything is written (the WAL switch writes the header), so the size cap can give pages back.
    if (fresh) db.pragma('auto_vacuum = INCREMENTAL');
    db.pragma('journal_mode = WAL');
    // NORMAL in WAL mode: a crashed or killed process loses nothing committed; only a power cut can lose the last commits.
    db.pragma('synchronous = NORMAL');
    db.pragma('busy_timeout = 2000');
    // The schema and each table's root-to-newest path: what a damaged file fails first, read in milliseconds (a full
    // quick_check took 1.7 s on a 234 MiB file). Damage deeper in is met by a later read or write, as SQLITE_CORRUPT,
    // and handled the same way then (HistoryWriter).
    const tables = db.prepare("SELECT name FROM sqlite_schema WHERE type = 'table' AND name IN ('series', 'raw', 'minute', 'hour')").pluck().all() as string[];
    for (const t of tables) db.prepare(`SELECT max(${t === 'series' ? 'id' : 't'}) FROM ${t}`).get();
    migrate(db);
    return db;
  } catch (e) {
    db?.close();
    if (e instanceof CorruptError) throw e;
    if (isCorruption(e)) throw new CorruptError((e as Error).message);
    throw e;
  }
}

export class CorruptError extends Error {}

/** SQLite's word for a damaged file, from any call. */
export const isCorruption = (e: unknown): boolean => e instanceof CorruptError || ['SQLITE_CORRUPT', 'SQLITE_NOTADB'].includes((e as { code?: string }).code ?? '');

export function migrate(db: Db): void {
  const version = db.pragma('user_version', { simple: true }) as number;
  if (version > SCHEMA_VERSION) throw new Error(`the history database is from a newer NetProbes (schema ${version}, this one knows ${SCHEMA_VERSION})`);
  for (let v = version; v < SCHEMA_VERSION; v++) {
    db.transaction(() => {
      db.exec(MIGRATIONS[v]!);
      db.pragma(`user_version = ${v + 1}`);
    })();
  }
}

/**
 * Opens (creating it and its directory, mode 0700) the history database at `file`. A file that is not a usable
 * database is moved aside and a new one started; `owner` (uid, gid) is given the directory and files it creates.
 */
export function openHistory(file: string, owner?: { uid: number; gid: number }): Opened {
  const dir = path.dirname(file);
  if (!existsSync(dir)) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    if (owner) chownSync(dir, owner.uid, owner.gid);
  }
  // Created here, 0600, so SQLite's -wal and -shm (which take the file's mode) are the user's alone too.
  if (!existsSync(file)) closeSync(openSync(file, 'a', 0o600));
  let movedAside: Opened['movedAside'] = null;
  let db: Db;
  try {
    db = tryOpen(file);
  } catch (e) {
    if (!(e instanceof CorruptError)) throw e;
    movedAside = { to: moveAside(file), why: e.message };
    closeSync(openSync(file, 'a', 0o600));
    db = tryOpen(file);
  }
  if (owner) for (const f of [file, `${file}-wal`, `${file}-shm`]) if (existsSync(f)) chownSync(f, owner.uid, owner.gid);
  return { db, path: file, movedAside };
}

/** The message for a database that was moved aside: said once, plainly, where the user will see it. */
export function movedAsideMessage(o: Opened): string | null {
  return o.movedAside ? `the history database ${o.path} could not be read (${o.movedAside.why}); it was moved to ${o.movedAside.to} and a new one started` : null;
}

/** Bytes the database uses (pages in use, not free ones), plus its WAL. */
export function usedBytes(db: Db, file: string): number {
  const pageSize = db.pragma('page_size', { simple: true }) as number;
  const pages = db.pragma('page_count', { simple: true }) as number;
  const free = db.pragma('freelist_count', { simple: true }) as number;
  const wal = existsSync(`${file}-wal`) ? statSync(`${file}-wal`).size : 0;
  return (pages - free) * pageSize + wal;
}
