// `netprobes <probe>`: runs the probe in this process (the CLI is already the
// privileged side when run as root) and prints its rows as the seed script
// did, as CSV, or as JSON lines. A summary goes to stderr at the end.

import { SOURCES } from '../probes/sources.node.ts';
import { PROBES, type AnyProbe, type ProbeId } from '../probes/registry.ts';
import { PRINTERS } from '../probes/printers.ts';
import { csvHeader, csvLineWriter, jsonLine } from '../core/format.ts';
import { columnsFor, type Column } from '../core/probe.ts';
import { ProbeError } from '../core/probe-error.ts';
import { exitNow, onExit } from '../runtime/exit.node.ts';
import type { RunningProbe } from '../runtime/source.ts';
import type { ProbeArgs } from './args.ts';
import { startRecording, type Recording } from './history.node.ts';

/** Bytes waiting on stdout beyond which rows are shed (and counted), not queued. */
const MAX_STDOUT_BACKLOG = 16 << 20;
/** Bytes waiting on stdout beyond which a source that can wait (a file read) is made to. */
const READY_BACKLOG = 1 << 20;

export async function runProbe(id: ProbeId, args: ProbeArgs): Promise<void> {
  const probe: AnyProbe = PROBES[id];
  const source = SOURCES[id];
  const out = process.stdout;
  out.on('error', () => void exitNow(0)); // a closed pipe (| head) ends the run quietly
  const printer = PRINTERS[id](args.options);
  let shown = 0;
  let shed = 0;
  const write = (lines: string[]) => {
    if (lines.length) out.write(lines.join('\n') + '\n');
  };
  const columns = columnsFor(probe.columns as readonly Column<object>[], args.options);
  const toCsv = csvLineWriter(columns);
  const format = (rows: object[]): string[] => {
    if (args.format === 'table') return printer.rows(rows);
    if (args.format === 'csv') return rows.map(toCsv);
    return rows.map((r) => jsonLine(columns, r));
  };

  const print = (rows: object[]) => {
    if (out.writableLength > MAX_STDOUT_BACKLOG) {
      shed += rows.length;
      return;
    }
    shown += rows.length;
    write(format(rows));
  };
  // Rows that arrive one at a time (a packet each) are written once per turn of the event loop, not one write each.
  let waiting: object[] = [];
  const printWaiting = () => {
    const rows = waiting;
    waiting = [];
    recording?.recorder.rows(id, rows as Record<string, unknown>[]);
    print(rows);
  };

  let recording: Recording | null = null;
  if (args.record) {
    try {
      recording = await startRecording(args.historyDb);
    } catch (e) {
      process.stderr.write(`netprobes ${probe.id}: cannot record: ${(e as Error).message}\n`);
      process.exit(1);
    }
    recording.recorder.started(id, args.options);
    process.stderr.write(`netprobes ${probe.id}: recording to ${recording.path}\n`);
  }
  const recorder = recording?.recorder;

  let running: RunningProbe;
  try {
    running = await source(args.options, {
      row: (row) => {
        if (waiting.push(row) === 1) queueMicrotask(printWaiting);
      },
      rows: recorder
        ? (rows) => {
            recorder.rows(id, rows as Record<string, unknown>[]);
            print(rows);
          }
        : print,
      fail: (e) => {
        process.stderr.write(`netprobes ${probe.id}: ${e.message}\n`);
        void exitNow(1);
      },
      // A source that can wait (a file read) goes at stdout's pace instead of having its rows shed.
      ready: async () => {
        if (waiting.length) printWaiting();
        if (out.writableLength > READY_BACKLOG) await new Promise((r) => out.once('drain', r));
      },
    });
  } catch (e) {
    const msg = e instanceof ProbeError || e instanceof Error ? e.message : String(e);
    process.stderr.write(`netprobes ${probe.id}: ${msg}\n`);
    process.exit(e instanceof ProbeError && e.kind === 'input' ? 2 : 1);
  }

  // What the probe runs without, on stderr so the rows on stdout stay clean.
  for (const l of running.use.lacks) process.stderr.write(`netprobes ${probe.id}: without ${l.feature}: ${l.fallback} (${l.reason})\n`);

  // The header after the source is up: a script that waits for it knows capture has begun.
  if (args.format === 'table') write(printer.begin());
  else if (args.format === 'csv') write([csvHeader(columns)]);

  // The probe's counters, so what it lost is recorded beside what it saw.
  const counting = recorder ? setInterval(() => recorder.counters(id, running.counters()), 1000) : null;
  const ticker = args.format === 'table' && printer.tick && printer.tickMs ? setInterval(() => write(printer.tick!()), printer.tickMs) : null;

  let finished = false;
  onExit(async () => {
    if (finished) return;
    finished = true;
    if (ticker) clearInterval(ticker);
    await running.stop();
    if (waiting.length) printWaiting();
    if (args.format === 'table') write(printer.end());
    const counters = running.counters();
    if (counting) clearInterval(counting);
    recorder?.counters(id, counters);
    await recording?.close();
    process.stderr.write(summary(probe, counters, shown, shed) + '\n');
    // Let stdout drain before exit so no printed row is lost.
    if (out.writableLength) await new Promise((r) => out.once('drain', r));
  });
  if (args.duration !== null) setTimeout(() => void exitNow(0), args.duration * 1000);
  void running.finished?.then(() => exitNow(0));
}

export function summary(probe: AnyProbe, counters: Record<string, number>, shown: number, shed: number): string {
  const lost = probe.counters.filter((c) => c.loss).reduce((n, c) => n + (counters[c.key] ?? 0), 0) + shed;
  const seen = probe.seen.counters.reduce((n, k) => n + (counters[k] ?? 0), 0);
  const details = probe.counters.map((c) => `${c.label} ${counters[c.key] ?? 0}`).concat(`shed ${shed}`);
  const note = probe.summaryNote?.(counters);
  return `netprobes ${probe.id}: seen ${seen} ${probe.seen.what}, shown ${shown} rows, lost ${lost} (${details.join(', ')})${note ? `\n  ${note}` : ''}`;
}
