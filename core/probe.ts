// What every probe declares, in code that runs in every process: its columns
// (one definition drives the GUI table, the CSV export, the CLI and --help),
// its options and their CLI flags, its counters. The shapes only: which probes
// exist is the registry's business (probes/registry.ts); a probe's source
// (source.node.ts), seed printer (print.ts) and view (view.dom.tsx) live
// beside its definition.

import type { Schema } from './schema.ts';

/** time: µs since the Unix epoch, shown as ISO 8601 UTC with microseconds. flag: shown as 0/1. */
export type CellType = 'time' | 'int' | 'text' | 'flag';
export type CellValue<T extends CellType> = T extends 'text' ? string : T extends 'flag' ? boolean : number;

export interface Column<Row> {
  readonly key: keyof Row & string;
  /** The CSV header and the JSON key's documented name. */
  readonly csv: string;
  /** The table header in the GUI. */
  readonly title: string;
  readonly type: CellType;
  /** Width hint for the GUI table, in px. */
  readonly width: number;
  readonly description: string;
  /** Beyond the CSV layout the issue fixes: in the GUI table, the details pane and JSON, not in CSV. */
  readonly notInCsv?: true;
  /** Shown only when this boolean option is on (tcpdump's PID,COMMAND,UID with --process): CSV, JSON and the table. */
  readonly withOption?: string;
}

/** The columns a run with these options shows: those without withOption, and those whose option is on. */
export function columnsFor<Row>(columns: readonly Column<Row>[], options: object): Column<Row>[] {
  return columns.filter((c) => !c.withOption || (options as Record<string, unknown>)[c.withOption] === true);
}

/** A CLI flag that sets one option. `repeat` collects every use into an array. */
export interface Flag {
  readonly name: string;
  readonly option: string;
  readonly kind: 'string' | 'int' | 'repeat' | 'bool';
  readonly help: string;
  readonly value?: string;
  /** The GUI's label for the option (default: the flag's name). */
  readonly label?: string;
  /** The CLI's only (e.g. tcpdump's --read FILE): not an option field in the GUI, refused by the collector. */
  readonly cliOnly?: true;
}

export interface Counter {
  readonly key: string;
  readonly label: string;
  readonly description: string;
  /** True for counts of things the user did not get to see (drops, overruns, shed rows). */
  readonly loss: boolean;
}

/** Prints the seed script's own layout, line by line. Stateful, one per run. */
export interface SeedPrinter<Row> {
  begin(): string[];
  rows(rows: readonly Row[]): string[];
  /** Called every tickMs, e.g. tcpdumplike.stp's header every second. */
  tick?(): string[];
  readonly tickMs?: number;
  end(): string[];
}

export interface ProbeDefinition<Row extends object = object, Options extends object = object, Id extends string = string> {
  readonly id: Id;
  readonly title: string;
  readonly seedScript: string;
  readonly summary: string;
  /** stream: rows arrive as they happen. interval: each `rows` message is a whole table that replaces the last. */
  readonly kind: 'stream' | 'interval';
  readonly columns: readonly Column<Row>[];
  readonly options: Schema<Options>;
  readonly defaults: Options;
  readonly flags: readonly Flag[];
  readonly counters: readonly Counter[];
  /** What the end-of-run summary calls "seen": the sum of these counters, and what they count. */
  readonly seen: { readonly counters: readonly string[]; readonly what: string };
  /** A line of the summary beyond the counters, e.g. nettop's share of packets attributed. */
  readonly summaryNote?: (counters: Record<string, number>) => string | null;
  /** Extra text for `netprobes <probe> --help`: needs, caveats. */
  readonly notes: string;
  /**
   * What the probe's rate counts, for the Overview's cards and sparklines: the unit, and for an
   * interval probe what one row weighs (a drop row counts `count` drops; without, one per row).
   */
  readonly rate: { readonly unit: string; readonly weight?: (row: Row) => number };
}

/** A CLI-only flag (cliOnly) these options set, if any: the collector and the GUI never take one. */
export function cliOnlyFlagSet(def: { readonly flags: readonly Flag[] }, options: object): Flag | undefined {
  return def.flags.find((f) => f.cliOnly && (options as Record<string, unknown>)[f.option]);
}

/** Curried so the row and option types are given and the id's literal type is kept: defineProbe<Row, Options>()({ id: 'x', ... }). */
export function defineProbe<Row extends object, Options extends object>() {
  return <const Id extends string>(def: ProbeDefinition<Row, Options, Id>): ProbeDefinition<Row, Options, Id> => def;
}

/** A column list as written in a definition: its keys and cell types stay literal so the row type follows from it. */
export type ColumnList = readonly Column<Record<string, unknown>>[];

/** The row a column list describes: one field per column, typed by its cell type. No hand-written twin. */
export type RowOf<C extends ColumnList> = { -readonly [E in C[number] as E['key']]: CellValue<E['type']> };

export function defineColumns<const C extends ColumnList>(columns: C): C {
  return columns;
}

/**
 * A row on the wire (collector → host → renderer): its cells in column order, no keys. The collector encodes
 * each row once, the host checks the cells' types (rowTupleCheck, ipc/protocol.ts) without copying, the
 * renderer decodes each row once into its typed object.
 */
export type RowTuple = (string | number | boolean)[];

export function rowEncoder<Row>(columns: readonly Column<Row>[]): (row: Row) => RowTuple {
  const keys = columns.map((c) => c.key);
  const n = keys.length;
  return (row) => {
    const tuple: RowTuple = new Array<string | number | boolean>(n);
    for (let i = 0; i < n; i++) tuple[i] = row[keys[i]!] as string | number | boolean;
    return tuple;
  };
}

export function rowDecoder<Row>(columns: readonly Column<Row>[]): (tuple: RowTuple) => Row {
  const keys = columns.map((c) => c.key);
  const n = keys.length;
  return (tuple) => {
    const row: Record<string, unknown> = {};
    for (let i = 0; i < n; i++) row[keys[i]!] = tuple[i];
    return row as Row;
  };
}
