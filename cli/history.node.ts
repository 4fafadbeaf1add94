// `netprobes history` (read, or clear, what was recorded) and the CLI probes'
// `--record`. As root under sudo, a probe's history is written by a child
// process running as the user who ran sudo (`__history-writer`): the file is
// theirs, and root never opens a database in a directory that user controls.

import { fork, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { openHistory } from '../history/db.node.ts';
import { answerCsv, answerJson, answerTable } from '../history/answer.ts';
import { queryRange, QueryError } from '../history/query.node.ts';
import { Recorder } from '../history/recorder.ts';
import { saveRetention } from '../history/settings.node.ts';
import { describeRetention, type Retention } from '../history/retention.ts';
import { HistoryStore } from '../history/store.node.ts';
import { SumBuffer, type Sum } from '../history/sums.ts';
import { HistoryWriter, historyTarget, WRITE_EVERY_MS } from '../history/writer.node.ts';
import { UsageError } from './args.ts';
import type { HistoryArgs } from './history-args.ts';

const say = (line: string) => void process.stderr.write(`netprobes history: ${line}\n`);

export function runHistory(args: HistoryArgs): void {
  const target = historyTarget(args.db);
  if (args.retention) return setRetention(target, args.retention);
  if (!existsSync(target.path)) {
    if (args.clear) return say(`nothing to clear: ${target.path} does not exist`);
    throw new UsageError(`no history at ${target.path} (record with the app, serve, or a probe's --record; or give --history-db)`);
  }
  const opened = openHistory(target.path, target.owner ?? undefined);
  if (opened.movedAside) say(`${target.path} could not be read (${opened.movedAside.why}); moved to ${opened.movedAside.to}`);
  try {
    if (args.clear) {
      new HistoryStore(opened.db, opened.path).clear();
      return say(`cleared ${target.path}`);
    }
    const answer = queryRange(opened.db, { kind: args.kind, by: args.by, from: args.from, to: args.to, top: args.top });
    const lines = args.format === 'csv' ? answerCsv(answer) : args.format === 'json' ? answerJson(answer) : answerTable(answer);
    if (lines.length) process.stdout.write(lines.join('\n') + '\n');
  } catch (e) {
    if (e instanceof QueryError) throw new UsageError(e.message);
    throw e;
  } finally {
    opened.db.close();
  }
}

/** Saves the retention beside the database (made if it is not there yet), applies it to the file now, and says it. */
function setRetention(target: ReturnType<typeof historyTarget>, change: NonNullable<HistoryArgs['retention']>): void {
  const opened = openHistory(target.path, target.owner ?? undefined);
  if (opened.movedAside) say(`${target.path} could not be read (${opened.movedAside.why}); moved to ${opened.movedAside.to}`);
  try {
    let retention: Retention;
    try {
      retention = saveRetention(opened.path, change, target.owner);
    } catch (e) {
      if (e instanceof RangeError) throw new UsageError(e.message);
      throw e;
    }
    const { deleted, bytes } = new HistoryStore(opened.db, opened.path, retention).enforce();
    say(`${describeRetention(retention)}; saved beside ${opened.path}; ${deleted} old rows removed now, the file uses ${(bytes / 2 ** 20).toFixed(1)} MiB`);
  } finally {
    opened.db.close();
  }
}

/** What a probe run records through. */
export interface Recording {
  readonly recorder: Recorder;
  readonly path: string;
  close(): Promise<void>;
}

/** Opens the history for `--record`: here, or in a writer process as the user who ran sudo. */
export async function startRecording(explicit: string | null): Promise<Recording> {
  const target = historyTarget(explicit);
  if (!target.owner) {
    const writer = HistoryWriter.open(target.path, { log: say });
    return { recorder: writer.recorder, path: writer.path, close: async () => writer.close() };
  }
  const child = fork(process.argv[1]!, ['__history-writer', target.path], {
    uid: target.owner.uid,
    gid: target.owner.gid,
    execArgv: process.execArgv,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  await new Promise<void>((resolve, reject) => {
    child.once('message', (m: { ready?: boolean; error?: string }) => (m.ready ? resolve() : reject(new Error(m.error ?? 'the history writer failed'))));
    void exited.then((code) => reject(new Error(`the history writer (uid ${target.owner!.uid}) exited with ${code} before it opened ${target.path}`)));
  });
  const sums = new SumBuffer();
  const send = () => {
    const batch = sums.take();
    if (batch.length && child.connected) child.send({ sums: batch });
  };
  const timer = setInterval(send, WRITE_EVERY_MS);
  return {
    recorder: new Recorder(sums),
    path: target.path,
    close: async () => {
      clearInterval(timer);
      send();
      if (child.connected) child.disconnect(); // the writer writes what it has and exits
      await exited;
    },
  };
}

/** `__history-writer PATH`: the writer process (as the sudo user), fed sums over IPC by the probe's process. */
export function historyWriterChild(argv: readonly string[]): void {
  const file = argv[0];
  const parent = process as ChildProcess & NodeJS.Process;
  if (!file || !parent.send) throw new UsageError('__history-writer is started by netprobes <probe> --record');
  let writer: HistoryWriter;
  try {
    writer = HistoryWriter.open(file, { log: say });
  } catch (e) {
    parent.send({ error: `cannot open ${file} as uid ${process.getuid?.()}: ${(e as Error).message}` });
    return void parent.disconnect();
  }
  parent.on('message', (m: { sums?: Sum[] }) => m.sums && writer.addSums(m.sums));
  parent.on('disconnect', () => {
    writer.close();
    process.exit(0);
  });
  // The probe's process may be killed outright: the IPC channel closes, and the last second is written above.
  parent.send({ ready: true });
}
