// A stream probe's loop over a raw tracefs reader: every `everyMs` its events
// become rows for the sink; an error stops the loop and fails the probe. The
// task tracker, if any, is read after the probe's events and before they
// become rows: the tasks they name (forked since the last read) are known then.

import type { ProbeSink } from './source.ts';
import type { RawReader } from '../kernel/tracefs/raw-reader.node.ts';
import type { TaskTracker } from '../kernel/tracefs/tasks.node.ts';

export function pollRows<E extends { tsNs: number }, Row>(
  reader: RawReader<E>,
  toRows: (events: E[]) => Row[],
  sink: ProbeSink<Row>,
  everyMs: number,
  tasks?: TaskTracker,
): { finish(): Row[] } {
  let failed = false;
  const read = () => {
    const events = reader.poll();
    tasks?.poll();
    return events;
  };
  const poll = () => {
    if (failed) return;
    try {
      const rows = toRows(read());
      if (rows.length) sink.rows(rows);
    } catch (e) {
      failed = true;
      sink.fail(e as Error);
    }
  };
  const timer = setInterval(poll, everyMs);
  return {
    /** Stops polling and returns the rows of whatever is still in the buffers. */
    finish: () => {
      clearInterval(timer);
      poll();
      return failed ? [] : toRows(reader.drain());
    },
  };
}
