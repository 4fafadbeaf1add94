// nettop.stp's own layout, line by line, for the CLI's table format.

import type { SeedPrinter } from '../../core/probe.ts';
import { padL, padR } from '../../core/format.ts';
import type { NettopRow } from './definition.ts';

// nettop.stp: printf("%5s %5s %-7s %7s %7s %7s %7s %-15s\n", ...) and the same layout with %d for rows.
const SEED_HEADER = `${padL('PID', 5)} ${padL('UID', 5)} ${padR('DEV', 7)} ${padL('XMIT_PK', 7)} ${padL('RECV_PK', 7)} ${padL('XMIT_KB', 7)} ${padL('RECV_KB', 7)} ${padR('COMMAND', 15)}`;

export function seedLine(r: NettopRow): string {
  return `${padL(r.pid, 5)} ${padL(r.uid, 5)} ${padR(r.dev, 7)} ${padL(r.xmitPk, 7)} ${padL(r.recvPk, 7)} ${padL(r.xmitKb, 7)} ${padL(r.recvKb, 7)} ${padR(r.command, 15)}`;
}

export const printNettop = (): SeedPrinter<NettopRow> => ({
  begin: () => [],
  rows: (rows) => [SEED_HEADER, ...rows.map(seedLine), ''],
  end: () => [],
});
