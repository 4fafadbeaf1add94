// Command-line parsing for `netprobes history`. Pure, so it is unit tested.

import type { Tier } from '../history/retention.ts';
import { GROUPINGS, HISTORY_KINDS, type Grouping, type HistoryKind } from '../history/plan.ts';
import { parseDuration, parseTime } from '../history/time.ts';
import { UsageError, type Format } from './args.ts';

export interface HistoryArgs {
  help: boolean;
  clear: boolean;
  db: string | null;
  kind: HistoryKind;
  by: Grouping;
  /** Seconds since the epoch, [from, to). */
  from: number;
  to: number;
  top: number;
  format: Format;
  /** --keep-raw, --keep-minutes, --keep-hours, --max-size: a change to save (null: none given). */
  retention: { keep: Partial<Record<Tier, number>>; maxBytes?: number } | null;
}

const KEEP_OPTION: Record<string, Tier> = { 'keep-raw': 'raw', 'keep-minutes': 'minute', 'keep-hours': 'hour' };
const SIZE_UNIT: Record<string, number> = { '': 1, k: 1 << 10, m: 1 << 20, g: 1 << 30, t: 2 ** 40 };

/** Bytes in a size like 500M, 1G, 2T or 1048576 (powers of 1024); null if it is not one. */
export function parseSize(text: string): number | null {
  const m = /^(\d{1,9})\s*([kmgt]?)(?:i?b)?$/i.exec(text.trim());
  return m ? Number(m[1]) * SIZE_UNIT[m[2]!.toLowerCase()]! : null;
}

export const HISTORY_HELP = `usage: npx netprobes history [--since DURATION | --from TIME [--to TIME]] [--probe KIND] [--by GROUPING]
                            [--top N] [--format table|csv|json] [--history-db PATH] [--clear]
       npx netprobes history [--keep-raw DURATION] [--keep-minutes DURATION] [--keep-hours DURATION]
                            [--max-size SIZE] [--history-db PATH]

What NetProbes recorded (the app and serve record while probes run unless turned off;
the CLI probes record with --record), summed over a time range.
  --since DURATION    the last 30s, 15m, 2h, 7d... (default 1h)
  --from TIME         from this time: ISO 8601 (2026-11-28T09:00:00Z) or local "YYYY-MM-DD HH:MM"
  --to TIME           until this time (default now); --until is the same
  --probe KIND        ${HISTORY_KINDS.join(', ')} (default nettop; flows are the packet probe's, per flow)
  --by GROUPING       ${GROUPINGS.join(', ')}: which columns to sum per (default: process where the kind has it)
  --top N             the first N rows, most traffic first (default: all)
  --format FORMAT     table (default), csv or json (one object a line)
  --history-db PATH   the database (default $XDG_DATA_HOME/netprobes/history.db, else ~/.local/share/netprobes/history.db)
  --clear             delete all recorded history

Retention (saved in settings.json beside the database, used by the app, serve and --record,
applied at once and by a running app within a minute):
  --keep-raw DURATION      keep each second's sums this long (default 7d)
  --keep-minutes DURATION  keep the per-minute sums this long (default 90d)
  --keep-hours DURATION    keep the per-hour sums this long (default 730d)
  --max-size SIZE          the file's cap, e.g. 500M or 2G (default 1G): over it the oldest seconds
                           go first, then minutes, then hours

Columns: the grouping's columns (nettop --by process: PID,UID,COMMAND,DEV), the sums
(XMIT_PK,RECV_PK,XMIT_BYTES,RECV_BYTES), FIRST_SEEN and LAST_SEEN (ISO 8601 UTC). Ranges are
exact to the second while raw data is kept (7 days), to the minute and the hour after that.`;

export function parseHistoryArgs(argv: readonly string[], nowMs = Date.now()): HistoryArgs {
  const out: HistoryArgs = { help: false, clear: false, db: null, kind: 'nettop', by: 'process', from: 0, to: 0, top: 0, format: 'table', retention: null };
  let since: number | null = null;
  let from: number | null = null;
  let to: number | null = null;
  let byGiven = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const eq = arg.indexOf('=');
    const name = arg.startsWith('--') ? arg.slice(2, eq > 0 ? eq : undefined) : null;
    if (name === null) throw new UsageError(`unexpected argument '${arg}'`);
    const value = (): string => {
      const v = eq > 0 ? arg.slice(eq + 1) : argv[++i];
      if (v === undefined) throw new UsageError(`--${name} needs a value`);
      return v;
    };
    switch (name) {
      case 'help':
      case 'h':
        out.help = true;
        break;
      case 'clear':
        out.clear = true;
        break;
      case 'history-db':
        out.db = value();
        break;
      case 'since': {
        const v = value();
        since = parseDuration(v);
        if (since === null) throw new UsageError(`--since takes a duration like 30s, 15m, 2h or 7d, not '${v}'`);
        break;
      }
      case 'from':
      case 'to':
      case 'until': {
        const v = value();
        const ms = parseTime(v);
        if (ms === null) throw new UsageError(`--${name} takes an ISO 8601 time or a local "YYYY-MM-DD HH:MM", not '${v}'`);
        if (name === 'from') from = ms;
        else to = ms;
        break;
      }
      case 'probe': {
        const v = value();
        if (!(HISTORY_KINDS as readonly string[]).includes(v)) throw new UsageError(`--probe must be one of ${HISTORY_KINDS.join(', ')}, not '${v}'`);
        out.kind = v as HistoryKind;
        break;
      }
      case 'by': {
        const v = value();
        if (!(GROUPINGS as readonly string[]).includes(v)) throw new UsageError(`--by must be one of ${GROUPINGS.join(', ')}, not '${v}'`);
        out.by = v as Grouping;
        byGiven = true;
        break;
      }
      case 'top': {
        const v = value();
        if (!/^\d{1,6}$/.test(v) || Number(v) < 1) throw new UsageError(`--top must be a positive whole number, not '${v}'`);
        out.top = Number(v);
        break;
      }
      case 'format': {
        const f = value();
        if (f !== 'table' && f !== 'csv' && f !== 'json') throw new UsageError(`--format must be table, csv or json, not '${f}'`);
        out.format = f;
        break;
      }
      case 'keep-raw':
      case 'keep-minutes':
      case 'keep-hours': {
        const v = value();
        const seconds = parseDuration(v);
        if (seconds === null) throw new UsageError(`--${name} takes a duration like 12h, 7d or 52w, not '${v}'`);
        (out.retention ??= { keep: {} }).keep[KEEP_OPTION[name]!] = seconds;
        break;
      }
      case 'max-size': {
        const v = value();
        const bytes = parseSize(v);
        if (bytes === null) throw new UsageError(`--max-size takes a size like 500M or 2G, not '${v}'`);
        (out.retention ??= { keep: {} }).maxBytes = bytes;
        break;
      }
      default:
        throw new UsageError(`unknown option --${name} for history (see netprobes history --help)`);
    }
  }
  if (since !== null && from !== null) throw new UsageError('give --since or --from, not both');
  if (out.retention && out.clear) throw new UsageError('give the retention options or --clear, not both');
  const toMs = to ?? nowMs;
  const fromMs = from ?? toMs - (since ?? 3600) * 1000;
  if (fromMs >= toMs) throw new UsageError('the range is empty: --from must be before --to');
  out.from = Math.floor(fromMs / 1000);
  // The second `to` falls in is included (now's second, when --to is not given).
  out.to = Math.floor(toMs / 1000) + (to === null ? 1 : 0);
  if (!byGiven) out.by = out.kind === 'nettop' || out.kind === 'tcp-connections' ? 'process' : 'all';
  return out;
}
