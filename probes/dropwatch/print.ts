// dropwatch.stp's own layout, line by line, for the CLI's table format.

import type { SeedPrinter } from '../../core/probe.ts';
import type { DropRow, DropwatchOptions } from './definition.ts';

/**
 * dropwatch.stp's lines for one table: "N packets dropped at FUNCTION", summed per function, most first. With
 * `explain`, each is followed by its rows, one a line: count, reason, process, and the reason in plain words.
 */
export function seedLines(rows: readonly DropRow[], explain = false): string[] {
  const per = new Map<string, number>();
  for (const r of rows) per.set(r.location, (per.get(r.location) ?? 0) + r.count);
  return [...per.entries()]
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
    .flatMap(([loc, n]) => [
      `${n} packets dropped at ${loc}`,
      ...(explain
        ? rows
            .filter((r) => r.location === loc)
            .map((r) => `    ${r.count} ${r.reason || 'no reason'}${r.pid ? ` ${r.command} (PID ${r.pid})` : r.command ? ' (socket owner unknown)' : ''}: ${r.explanation}`)
        : []),
    ]);
}

export const printDropwatch = (options?: Partial<DropwatchOptions>): SeedPrinter<DropRow> => ({
  begin: () => ['Monitoring for dropped packets'],
  rows: (rows) => ['', ...seedLines(rows, options?.explain ?? false)],
  end: () => ['Stopping dropped packet monitor'],
});
