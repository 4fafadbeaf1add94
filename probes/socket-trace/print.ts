// socket-trace.stp's own layout, line by line, for the CLI's table format.

import type { SeedPrinter } from '../../core/probe.ts';
import type { SockRow } from './definition.ts';

/** thread_indent's line: "%6d comm(tid):<depth-1 spaces>-> func" (or "<- func"). */
export function seedLine(r: SockRow): string {
  return `${String(r.relUs).padStart(6)} ${r.comm}(${r.tid}):${' '.repeat(Math.max(0, r.depth - 1))} ${r.direction === 'call' ? '->' : '<-'} ${r.func}`;
}

export const printSocketTrace = (): SeedPrinter<SockRow> => ({
  begin: () => [],
  rows: (rows) => rows.map(seedLine),
  end: () => [],
});
