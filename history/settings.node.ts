// What the user chose for their history, in settings.json beside the database:
// whether the app records ({"recording": false} turns it off) and how long each
// tier is kept and how large the file may grow ({"retention": {...}}). Read by
// every writer (the app, serve, a probe's --record) when it opens the file and
// again before each minute's retention pass, so `netprobes history --keep-raw`
// reaches a running app within a minute. A missing or unreadable file means the
// defaults; a bad value (a hand edit) is ignored for its default, never a reason
// to stop recording.

import { chownSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { DEFAULT_RETENTION, validBytes, validKeep, type Retention, type Tier } from './retention.ts';

interface Settings {
  recording?: boolean;
  retention?: { keep?: Partial<Record<Tier, number>>; maxBytes?: number };
}

const fileOf = (dbFile: string) => path.join(path.dirname(dbFile), 'settings.json');

function read(dbFile: string): Settings {
  try {
    const v = JSON.parse(readFileSync(fileOf(dbFile), 'utf8')) as unknown;
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Settings) : {};
  } catch {
    return {};
  }
}

function save(dbFile: string, patch: Settings, owner?: { uid: number; gid: number } | null): void {
  const file = fileOf(dbFile);
  const next = { ...read(dbFile), ...patch };
  // Written whole, then renamed: a crash leaves the old settings or the new, never half a file.
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(next) + '\n', { mode: 0o600 });
  if (owner) chownSync(tmp, owner.uid, owner.gid);
  renameSync(tmp, file);
}

/** The remembered "record history" switch. On when absent. */
export function recordingSetting(dbFile: string): boolean {
  return read(dbFile).recording !== false;
}

export function saveRecordingSetting(dbFile: string, recording: boolean, owner?: { uid: number; gid: number } | null): void {
  save(dbFile, { recording }, owner);
}

/** The retention in force: the saved values that are valid, the defaults for the rest. */
export function retentionSetting(dbFile: string): Retention {
  const r = read(dbFile).retention ?? {};
  const keep = { ...DEFAULT_RETENTION.keep };
  for (const tier of Object.keys(keep) as Tier[]) {
    const v = r.keep?.[tier];
    if (validKeep(v)) keep[tier] = v;
  }
  return { keep, maxBytes: validBytes(r.maxBytes) ? r.maxBytes : DEFAULT_RETENTION.maxBytes };
}

/** Saves a change to the retention (the parts given), checked against RETENTION_BOUNDS (RangeError); returns the retention now in force. */
export function saveRetention(dbFile: string, change: { keep?: Partial<Record<Tier, number>>; maxBytes?: number }, owner?: { uid: number; gid: number } | null): Retention {
  for (const [tier, v] of Object.entries(change.keep ?? {})) {
    if (v !== undefined && !validKeep(v)) throw new RangeError(`${tier} must be kept between 1 minute and 100 years, not ${v} s`);
  }
  if (change.maxBytes !== undefined && !validBytes(change.maxBytes)) throw new RangeError(`the size cap must be at least 1 MiB, not ${change.maxBytes} bytes`);
  const now = retentionSetting(dbFile);
  const keep = { ...now.keep, ...Object.fromEntries(Object.entries(change.keep ?? {}).filter(([, v]) => v !== undefined)) };
  save(dbFile, { retention: { keep, maxBytes: change.maxBytes ?? now.maxBytes } }, owner);
  return retentionSetting(dbFile);
}
