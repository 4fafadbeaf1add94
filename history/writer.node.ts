// A recording in progress: the recorder's sums (sums.ts) written to the store
// once a second, retention and the size cap once a minute. Used by the host
// (the app, `serve`) and by the CLI's `--record` (in its own process as the
// user who ran sudo, see cli/history.node.ts). Never by the root collector.

import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { defaultHistoryPath, isCorruption, moveAside, movedAsideMessage, openHistory } from './db.node.ts';
import { Recorder } from './recorder.ts';
import { retentionSetting } from './settings.node.ts';
import { HistoryStore } from './store.node.ts';
import { MAX_PENDING, SumBuffer, type Sum } from './sums.ts';

/** How often sums are written: what a SIGKILL can lose at most (plus the probe's own interval). */
export const WRITE_EVERY_MS = 1000;
const ENFORCE_EVERY_MS = 60_000;

export interface WriterOptions {
  owner?: { uid: number; gid: number } | null;
  /** Where problems (a corrupt file moved aside, a failed write) are said. */
  log: (line: string) => void;
}

export class HistoryWriter {
  readonly sums = new SumBuffer();
  readonly recorder = new Recorder(this.sums);
  /** The last write's error, if it failed (the recording goes on; the GUI shows it). */
  problem: string | null = null;
  private readonly timers: NodeJS.Timeout[];

  private constructor(
    public store: HistoryStore,
    public notice: string | null,
    private readonly log: (line: string) => void,
    private readonly owner: { uid: number; gid: number } | null,
  ) {
    this.timers = [setInterval(() => this.writeNow(), WRITE_EVERY_MS), setInterval(() => this.enforce(), ENFORCE_EVERY_MS)];
    for (const t of this.timers) t.unref();
  }

  static open(file: string, o: WriterOptions): HistoryWriter {
    const opened = openHistory(file, o.owner ?? undefined);
    const notice = movedAsideMessage(opened);
    if (notice) o.log(notice);
    const w = new HistoryWriter(new HistoryStore(opened.db, opened.path, retentionSetting(opened.path)), notice, o.log, o.owner ?? null);
    w.enforce();
    return w;
  }

  get path(): string {
    return this.store.file;
  }

  /** Sums made elsewhere (the CLI's probe process), to be written with ours. */
  addSums(sums: readonly Sum[]): void {
    for (const s of sums) this.sums.add(s.kind, s.t, s.dims, s.m, s.first, s.last);
  }

  private shedSaid = 0;

  writeNow(): void {
    if (this.sums.shed > this.shedSaid) {
      this.log(`history: ${this.sums.shed} sums not recorded so far (more than ${MAX_PENDING} waiting between two writes)`);
      this.shedSaid = this.sums.shed;
    }
    try {
      this.store.write(this.sums.take());
      this.problem = null;
    } catch (e) {
      this.fail(e);
    }
  }

  private enforce(): void {
    try {
      // Read again each time: a change made meanwhile (`netprobes history --keep-raw`, another window) applies now.
      this.store.retention = retentionSetting(this.store.file);
      this.store.enforce();
    } catch (e) {
      this.fail(e);
    }
  }

  private fail(e: unknown): void {
    if (isCorruption(e)) return this.startOver((e as Error).message);
    const message = `history: ${(e as Error).message}`;
    if (message !== this.problem) this.log(message);
    this.problem = message;
  }

  /** The file went bad while in use: moved aside, said once, and a new one started in its place. */
  private startOver(why: string): void {
    const file = this.store.file;
    try {
      this.store.db.close();
    } catch {
      // closing a damaged file may fail too; it is moved aside either way
    }
    const to = moveAside(file);
    const opened = openHistory(file, this.owner ?? undefined);
    this.store = new HistoryStore(opened.db, opened.path, this.store.retention);
    this.notice = `the history database ${file} was damaged (${why}); it was moved to ${to} and a new one started`;
    this.log(this.notice);
  }

  clear(): void {
    this.sums.take();
    this.store.clear();
  }

  close(): void {
    for (const t of this.timers) clearInterval(t);
    this.writeNow();
    this.store.close();
  }
}

/**
 * Where history goes and whose it is. As root under sudo, the user who ran sudo's: their data directory (from the
 * password database, not root's $HOME) and their uid and gid on what is created; otherwise this process's.
 */
export function historyTarget(explicit: string | null, env: NodeJS.ProcessEnv = process.env): { path: string; owner: { uid: number; gid: number } | null } {
  const sudoUid = Number(env.SUDO_UID);
  const sudoGid = Number(env.SUDO_GID);
  if (process.getuid?.() === 0 && Number.isInteger(sudoUid) && sudoUid > 0 && Number.isInteger(sudoGid)) {
    const owner = { uid: sudoUid, gid: sudoGid };
    if (explicit) return { path: path.resolve(explicit), owner };
    return { path: defaultHistoryPath({}, homeOf(sudoUid)), owner };
  }
  return { path: explicit ? path.resolve(explicit) : defaultHistoryPath(env), owner: null };
}

function homeOf(uid: number): string {
  const entry = execFileSync('getent', ['passwd', String(uid)], { encoding: 'utf8', timeout: 5000 }).trim();
  const home = entry.split(':')[5];
  if (!home) throw new Error(`no home directory for uid ${uid} (getent passwd)`);
  return home;
}
