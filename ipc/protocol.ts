// The messages between the collector (root) and the host that started it
// (Electron main, or `netprobes serve`). Both directions are validated on
// arrival: the collector takes a closed set of commands and nothing else, and
// the host checks every row against its probe's columns before passing it on.

import { PROBES, type AnyProbe } from '../probes/registry.ts';
import { cliOnlyFlagSet, type CellType, type RowTuple } from '../core/probe.ts';
import { SchemaError } from '../core/schema.ts';
import { PROBE_IDS, type ProbeId } from '../probes/registry.ts';
import { arr, custom, int, literal, nullable, obj, optional, record, str, tagged, type Infer, type Schema } from '../core/schema.ts';
import { MAX_FRAME_BYTES } from '../core/framing.ts';
import type { SourceUse } from '../runtime/source.ts';

export const PROTOCOL_VERSION = 1;
/** Rows per `rows` message; a stream probe's batch beyond this is shed and counted. */
export const MAX_ROWS_PER_MESSAGE = 5000;

/** The two schemas both protocols use (ipc/api.ts too). */
export const probeId = literal(...PROBE_IDS);
export const json: Schema<unknown> = custom('any JSON value', () => true);
const problem = obj({ kind: literal('privilege', 'feature', 'input', 'internal'), message: str({ max: 2000 }) });
export type Problem = Infer<typeof problem>;

/** What a started source uses and lacks (runtime/source.ts's SourceUse), for the GUI's and CLI's degradation notes. */
export const sourceUse: Schema<SourceUse> = obj({
  facility: literal('libpcap', 'tracefs'),
  lacks: arr(obj({ feature: str({ max: 200 }), fallback: str({ max: 300 }), reason: str({ max: 500 }) }), { max: 16 }),
});

/** Questions the host may ask of the collector, each answered once by an `answer` with the same id. */
const query = tagged({
  /**
   * The tcpdump probe's kept frames (running or last run), as pcapng, in parts of at most PCAPNG_PART_BYTES: part 0
   * (or none) makes the file and answers how many parts it has; the host then asks for the others.
   */
  pcapng: obj({ part: optional(int({ min: 0, max: 1000 })) }),
  /** The local ports of one process's TCP and UDP sockets. */
  ports: obj({ pid: int({ min: 1, max: 4_194_304 }) }),
});
export type Query = Infer<typeof query>;

const command = tagged({
  start: obj({ probe: probeId, options: json }),
  stop: obj({ probe: probeId }),
  query: obj({ id: int({ min: 0 }), query }),
});
export type Command = Infer<typeof command>;

const collectorMessage = tagged({
  hello: obj({ protocol: int({ min: 1, max: 1000 }), pid: int({ min: 1 }), uid: int({ min: 0 }) }),
  started: obj({ probe: probeId, source: str({ max: 500 }), use: sourceUse }),
  /** Rows as tuples in column order; their cells are checked per probe by parseCollectorMessage. */
  rows: obj({ probe: probeId, rows: custom<RowTuple[]>('rows', () => true) }),
  counters: obj({ probe: probeId, counters: record(int({ min: 0 }), { maxKeys: 64 }) }),
  stopped: obj({ probe: probeId, problem: nullable(problem) }),
  answer: obj({ id: int({ min: 0 }), value: json, problem: nullable(problem) }),
});
export type CollectorMessage = Infer<typeof collectorMessage>;

/** Longest text cell a row may carry. */
export const MAX_TEXT_CELL = 1024;

const CELL_CHECKS: Record<CellType, (v: unknown) => boolean> = {
  time: (v) => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0,
  int: (v) => typeof v === 'number' && Number.isSafeInteger(v),
  text: (v) => typeof v === 'string' && v.length <= MAX_TEXT_CELL,
  flag: (v) => typeof v === 'boolean',
};

/**
 * The host's check of a probe's rows, the one place rows are validated: an array of at most
 * MAX_ROWS_PER_MESSAGE tuples, each exactly one cell per column, each cell of its column's type. It checks in
 * place and returns the same array (no copy, no object walk), and stays hand-written rather than a schema
 * library's tuple: it runs on every row the root collector sends.
 */
export function rowTupleCheck(columns: readonly { key: string; type: CellType }[]): (rows: unknown, path: string) => RowTuple[] {
  const checks = columns.map((c) => CELL_CHECKS[c.type]);
  const n = columns.length;
  const what = `array of at most ${MAX_ROWS_PER_MESSAGE} rows`;
  return (rows, path) => {
    if (!Array.isArray(rows) || rows.length > MAX_ROWS_PER_MESSAGE) throw new SchemaError(path, what);
    for (let r = 0; r < rows.length; r++) {
      const tuple: unknown = rows[r];
      if (!Array.isArray(tuple) || tuple.length !== n) {
        const extra = Array.isArray(tuple) && tuple.length > n ? ' (an extra cell)' : '';
        throw new SchemaError(`${path}[${r}]`, `a row of ${n} cells${extra}`);
      }
      for (let i = 0; i < n; i++) {
        if (!checks[i]!(tuple[i])) throw new SchemaError(`${path}[${r}][${i}] ${columns[i]!.key}`, `a ${columns[i]!.type} cell`);
      }
    }
    return rows as RowTuple[];
  };
}

const rowChecks = Object.fromEntries(PROBE_IDS.map((id) => [id, rowTupleCheck((PROBES[id] as AnyProbe).columns)])) as Record<
  ProbeId,
  (rows: unknown, path: string) => RowTuple[]
>;

/** Bytes of pcapng per answer: 6 MiB, 8 MiB in base64, within one frame (MAX_FRAME_BYTES) with the envelope. */
export const PCAPNG_PART_BYTES = 6 << 20;

/** The answers' shapes, checked by the host when an answer arrives. */
export const ANSWERS = {
  pcapng: obj({ base64: str({ max: MAX_FRAME_BYTES }), packets: int({ min: 0 }), parts: int({ min: 1, max: 1000 }) }),
  ports: arr(obj({ proto: literal('TCP', 'UDP'), port: int({ min: 0, max: 65535 }) }), { max: 1024 }),
} satisfies Record<Query['type'], Schema<unknown>>;
export type Answer<K extends Query['type']> = Infer<(typeof ANSWERS)[K]>;

/** Host side: a message from the collector, rows checked against their probe's columns. */
export function parseCollectorMessage(value: unknown): CollectorMessage {
  const m = collectorMessage.parse(value);
  if (m.type === 'rows') rowChecks[m.probe](m.rows, '.rows');
  return m;
}

/** Collector side: a command from the host, options checked against their probe's schema. */
export function parseCommand(value: unknown): Command {
  const c = command.parse(value);
  if (c.type === 'start') {
    const options = PROBES[c.probe].options.parse(c.options, '.options');
    // The collector runs as root: what only the CLI does (reading a file by its path) is not asked of it.
    const cliOnly = cliOnlyFlagSet(PROBES[c.probe], options);
    if (cliOnly) throw new SchemaError(`.options.${cliOnly.option}`, `no --${cliOnly.name}: the CLI's only`);
    return { ...c, options };
  }
  return c;
}
