// Command-line parsing for `netprobes <probe>`: the shared flags, then the
// probe's own flags as its definition declares them. Pure, so it is unit tested.

import type { AnyProbe } from '../probes/registry.ts';
import { SchemaError } from '../core/schema.ts';

export type Format = 'table' | 'csv' | 'json';

export interface ProbeArgs {
  help: boolean;
  format: Format;
  /** Seconds, or null to run until interrupted. */
  duration: number | null;
  /** Record to the history database (--record, or --history-db PATH). */
  record: boolean;
  /** --history-db: the database, else the default in the user's data directory. */
  historyDb: string | null;
  options: object;
}

export class UsageError extends Error {}

export function parseProbeArgs(probe: AnyProbe, argv: readonly string[]): ProbeArgs {
  const out: ProbeArgs = { help: false, format: 'table', duration: null, record: false, historyDb: null, options: {} };
  const options: Record<string, unknown> = structuredClone(probe.defaults) as Record<string, unknown>;
  const seenRepeat = new Set<string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const eq = arg.indexOf('=');
    const name = arg.startsWith('--') ? arg.slice(2, eq > 0 ? eq : undefined) : null;
    if (name === null) throw new UsageError(`unexpected argument '${arg}'`);
    const inline = eq > 0 ? arg.slice(eq + 1) : undefined;
    const value = (): string => {
      const v = inline ?? argv[++i];
      if (v === undefined) throw new UsageError(`--${name} needs a value`);
      return v;
    };
    if (name === 'help' || name === 'h') {
      out.help = true;
      continue;
    }
    if (name === 'format') {
      const f = value();
      if (f !== 'table' && f !== 'csv' && f !== 'json') throw new UsageError(`--format must be table, csv or json, not '${f}'`);
      out.format = f;
      continue;
    }
    if (name === 'duration') {
      out.duration = positiveInt(name, value());
      continue;
    }
    if (name === 'record') {
      if (inline !== undefined) throw new UsageError('--record takes no value');
      out.record = true;
      continue;
    }
    if (name === 'history-db') {
      out.historyDb = value();
      out.record = true;
      continue;
    }
    const flag = probe.flags.find((f) => f.name === name);
    if (!flag) throw new UsageError(`unknown option --${name} for ${probe.id} (see netprobes ${probe.id} --help)`);
    switch (flag.kind) {
      case 'bool':
        if (inline !== undefined) throw new UsageError(`--${name} takes no value`);
        options[flag.option] = true;
        break;
      case 'int':
        // 0 is a value some probes give a meaning (socket-trace --rate 0: no limit): the probe's schema decides the range.
        options[flag.option] = wholeNumber(name, value());
        break;
      case 'string':
        options[flag.option] = value();
        break;
      case 'repeat': {
        if (!seenRepeat.has(flag.option)) options[flag.option] = [];
        seenRepeat.add(flag.option);
        (options[flag.option] as string[]).push(value());
        break;
      }
    }
  }
  try {
    out.options = probe.options.parse(options, 'options') as object;
  } catch (e) {
    if (e instanceof SchemaError) {
      const key = e.path.split('.')[1]?.replace(/\[\d+\]$/, '');
      const flag = probe.flags.find((f) => f.option === key);
      throw new UsageError(`invalid ${flag ? `--${flag.name}` : e.path}: expected ${e.expected}`);
    }
    throw e;
  }
  return out;
}

function wholeNumber(name: string, v: string): number {
  if (!/^\d{1,9}$/.test(v)) throw new UsageError(`--${name} must be a whole number, not '${v}'`);
  return Number(v);
}

function positiveInt(name: string, v: string): number {
  if (!/^\d{1,9}$/.test(v) || Number(v) < 1) throw new UsageError(`--${name} must be a positive whole number, not '${v}'`);
  return Number(v);
}

export function probeHelp(probe: AnyProbe): string {
  const lines = [
    `netprobes ${probe.id} — ${probe.summary} (after ${probe.seedScript})`,
    '',
    `usage: npx netprobes ${probe.id} [--duration SECONDS] [--format table|csv|json] [--record] [--history-db PATH]${probe.flags.map((f) => ` [--${f.name}${f.value ? ` ${f.value}` : ''}]${f.kind === 'repeat' ? '...' : ''}`).join('')}`,
    '',
    'options:',
    '  --duration SECONDS   stop after this many seconds (default: until Ctrl-C)',
    '  --record             also record to the history database (see netprobes history --help); under sudo it is the user\'s',
    '  --history-db PATH    record to this database (implies --record)',
    "  --format FORMAT      table: the seed script's own layout (default); csv: a header row, then rows; json: one object a line",
    ...probe.flags.map((f) => `  ${`--${f.name}${f.value ? ` ${f.value}` : ''}`.padEnd(20)} ${f.help}`),
    '  --help               this text',
    '',
    'columns (CSV and JSON):',
    ...probe.columns.filter((c) => !c.notInCsv).map((c) => `  ${c.csv.padEnd(12)} ${c.description}`),
  ];
  const jsonOnly = probe.columns.filter((c) => c.notInCsv);
  if (jsonOnly.length) lines.push('', 'columns in JSON only:', ...jsonOnly.map((c) => `  ${c.csv.padEnd(12)} ${c.description}`));
  if (probe.counters.length) {
    lines.push('', 'summary counters (printed on stderr at the end):');
    for (const c of probe.counters) lines.push(`  ${c.label.padEnd(14)} ${c.description}`);
    lines.push(`  ${'shed'.padEnd(14)} rows not printed because standard output could not keep up`);
  }
  lines.push('', probe.notes);
  return lines.join('\n');
}
