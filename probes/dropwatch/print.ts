// dropwatch.stp's own layout, line by line, for the CLI's table format.

import type { SeedPrinter } from '../../core/probe.ts';
import type { DropRow } from './definition.ts';

/** dropwatch.stp's lines for one table: "N packets dropped at FUNCTION", summed per function, most first. */
export function seedLines(rows: readonly DropRow[]): string[] {
  const per = new Map<string, number>();
  for (const r of rows) per.set(r.location, (per.get(r.location) ?? 0) + r.count);
  return [...per.entries()]
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
    .map(([loc, n]) => `${n} packets dropped at ${loc}`);
}

export const printDropwatch = (): SeedPrinter<DropRow> => ({
  begin: () => ['Monitoring for dropped packets'],
  rows: (rows) => ['', ...seedLines(rows)],
  end: () => ['Stopping dropped packet monitor'],
});
