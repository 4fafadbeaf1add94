// The API the renderer sees: the same in Electron (through the preload) and in
// the browser (`netprobes serve`, over a WebSocket). Requests from the renderer
// are validated by the host; the renderer never gets Node.

import type { ProbeId } from '../probes/registry.ts';
import type { RowTuple } from '../core/probe.ts';
import type { SourceUse } from '../runtime/source.ts';
import { json, probeId, type Answer, type Problem } from './protocol.ts';
import { arr, bool, custom, int, literal, obj, optional, record, str, tagged, type Infer } from '../core/schema.ts';
import { GROUPINGS, HISTORY_KINDS } from '../history/plan.ts';
import type { RangeAnswer } from '../history/answer.ts';
import { RETENTION_BOUNDS, type Retention } from '../history/retention.ts';

export type CollectorStatus = 'not-running' | 'starting' | 'running' | 'crashed';

export interface ProbeState {
  running: boolean;
  /** What the running probe uses, e.g. "libpcap on any (LINUX_SLL2)". */
  source: string | null;
  /** The same as data: the facility, and what the probe runs without (null until started). */
  use: SourceUse | null;
  problem: Problem | null;
}

export interface HostState {
  collector: {
    status: CollectorStatus;
    /** The collector runs as root. */
    elevated: boolean;
    pid: number | null;
    problem: string | null;
  };
  /**
   * How the collector gets root: 'direct' (the host is root: no prompt),
   * 'prompt' (the administrator dialog asks first: label Start "Start as
   * administrator" while the collector is not running), 'none' (it cannot:
   * `serve` run as a user).
   */
  elevation: 'direct' | 'prompt' | 'none';
  /** Where the renderer runs: the Electron app, or a browser through `serve`. */
  frontEnd: 'electron' | 'browser';
  probes: Record<ProbeId, ProbeState>;
  history: HistoryState;
  /** NetProbes' own processes and ports, so the window can label and hide its own activity. */
  own: OwnActivity;
}

/** Recording to the history database: on by default, said plainly in the window, switched off there or with --no-history. */
export interface HistoryState {
  /** Probes' rows are being recorded now. */
  recording: boolean;
  /** The database file (null: none could be opened). */
  path: string | null;
  /** Why recording is not happening or failed, in words. */
  problem: string | null;
  /** Said once: a corrupt file moved aside. */
  notice: string | null;
  /** How long each tier is kept and the file's cap (null: no database open). */
  retention: Retention | null;
}

/**
 * NetProbes' own activity, as rows show it: the processes (the host, the collector and its supervisor, and the
 * browser that shows `serve`: the process holding its WebSocket and that browser's other processes) and the
 * TCP ports its window talks over (serve's listening port).
 */
export interface OwnActivity {
  pids: number[];
  ports: number[];
}

export interface InterfaceInfo {
  name: string;
  up: boolean;
}

/** Host → renderer. */
export type HostEvent =
  | { type: 'state'; state: HostState }
  /** Tuples in the probe's column order, decoded once by the renderer's store. */
  | { type: 'rows'; probe: ProbeId; rows: RowTuple[] }
  | { type: 'counters'; probe: ProbeId; counters: Record<string, number> }
  /** Rows this front end did not get because it was not keeping up. */
  | { type: 'undelivered'; probe: ProbeId; rows: number };

/** Renderer → host, each answered by a reply. */
export const requestSchema = tagged({
  getState: obj({}),
  listInterfaces: obj({}),
  start: obj({ probe: probeId, options: json }),
  stop: obj({ probe: probeId }),
  restartCollector: obj({}),
  /** Reverse names of addresses (the "names" toggle); unknown ones map to null. */
  resolveNames: obj({ ips: arr(str({ max: 45 }), { max: 256 }) }),
  /** Electron only: a save dialog, then the host writes the file. */
  saveFile: obj({
    suggestedName: str({ min: 1, max: 200, pattern: /^[\w.-]+$/ }),
    content: str({ max: 256 << 20 }),
    /** base64 for binary files (pcapng). */
    encoding: optional(literal('utf8', 'base64')),
  }),
  /** The packet probe's kept frames (up to EXPORT_FRAMES, 256 bytes each, each with its process when asked) as a pcapng file, base64. */
  exportPcapng: obj({}),
  /** The local TCP/UDP ports of a process, for the "packets of this process" link. */
  processPorts: obj({ pid: int({ min: 1, max: 4_194_304 }) }),
  /** What was recorded over [from, to) (seconds), grouped, with timelines on request. */
  historyQuery: obj({
    kind: literal(...HISTORY_KINDS),
    by: literal(...GROUPINGS),
    from: int({ min: 0, max: 2 ** 33 }),
    to: int({ min: 0, max: 2 ** 33 }),
    top: optional(int({ min: 1, max: 10_000 })),
    where: optional(record(custom<string | number>('a string or a whole number', (v) => (typeof v === 'string' && v.length <= 256) || Number.isSafeInteger(v)), { maxKeys: 8, key: /^[A-Za-z]{1,32}$/ })),
    timeline: optional(bool),
  }),
  /** Recording on or off (remembered for the next start). */
  setHistory: obj({ recording: bool }),
  /** Deletes everything recorded. */
  clearHistory: obj({}),
  /** How long each tier is kept (seconds) and the file's cap (bytes): the parts given change, saved for the next start. */
  setRetention: obj({
    raw: optional(int({ min: RETENTION_BOUNDS.minKeepS, max: RETENTION_BOUNDS.maxKeepS })),
    minute: optional(int({ min: RETENTION_BOUNDS.minKeepS, max: RETENTION_BOUNDS.maxKeepS })),
    hour: optional(int({ min: RETENTION_BOUNDS.minKeepS, max: RETENTION_BOUNDS.maxKeepS })),
    maxBytes: optional(int({ min: RETENTION_BOUNDS.minBytes, max: RETENTION_BOUNDS.maxBytes })),
  }),
});
export type Request = Infer<typeof requestSchema>;

export type Reply<R extends Request['type']> = R extends 'getState'
  ? HostState
  : R extends 'listInterfaces'
    ? InterfaceInfo[]
    : R extends 'saveFile'
      ? { path: string | null }
      : R extends 'resolveNames'
        ? Record<string, string | null>
        : R extends 'exportPcapng'
          ? { base64: string; packets: number }
          : R extends 'processPorts'
            ? Answer<'ports'>
            : R extends 'historyQuery'
              ? RangeAnswer
              : { ok: true };

/** What both front doors give the renderer. */
export interface NetprobesApi {
  request<R extends Request>(req: R): Promise<Reply<R['type']>>;
  /** Returns an unsubscribe function. */
  subscribe(listener: (event: HostEvent) => void): () => void;
  readonly frontEnd: 'electron' | 'browser';
}
