// A stream probe's loop over a raw tracefs reader: every `everyMs` its events
// become rows for the sink; an error stops the loop and fails the probe.

import type { ProbeSink } from '../source.ts';
import type { RawReader } from './raw-reader.node.ts';

export function pollRows<E extends { tsNs: number }, Row>(
  reader: RawReader<E>,
  toRows: (events: E[]) => Row[],
  sink: ProbeSink<Row>,
  everyMs: number,
): { finish(): Row[] } {
  let failed = false;
  const poll = () => {
    if (failed) return;
    try {
      const rows = toRows(reader.poll());
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
