// A stream probe's loop over an ordered tracepoint session: every `everyMs` its
// events, in time order, become rows for the sink; an error stops the loop and
// fails the probe. The session reads the task events after the probe's own and
// before they become rows: the tasks they name (forked since the last read) are
// known then.

import type { ProbeSink } from './source.ts';
import type { TracepointSession } from './tracepoint-session.node.ts';

export function pollRows<E extends { tsNs: number }, Row>(
  session: TracepointSession<E>,
  toRows: (events: E[]) => Row[],
  sink: ProbeSink<Row>,
  everyMs: number,
): { finish(): Row[] } {
  let failed = false;
  const fail = (e: Error) => {
    failed = true;
    sink.fail(e);
  };
  const poll = () => {
    const rows = toRows(session.poll());
    if (rows.length) sink.rows(rows);
  };
  session.every(everyMs, poll, fail);
  return {
    /** Stops polling and returns the rows of whatever is still in the buffers. */
    finish: () => {
      session.stopTimers();
      if (!failed) {
        try {
          poll();
        } catch (e) {
          fail(e as Error);
        }
      }
      return failed ? [] : toRows(session.drain());
    },
  };
}
