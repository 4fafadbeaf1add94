// tcpdumplike.stp's own layout, line by line, for the CLI's table format.

import type { SeedPrinter } from '../../core/probe.ts';
import { padL } from '../../core/format.ts';
import type { PacketRow } from './definition.ts';

const SEED_RULE = '-----------------------------------------------------------------';
const SEED_HEADER = '       Source IP         Dest IP  SPort  DPort  U  A  P  R  S  F ';

export const printTcpdump = (): SeedPrinter<PacketRow> => ({
  tickMs: 1000,
  begin: () => [SEED_RULE, SEED_HEADER, SEED_RULE],
  tick: () => [SEED_RULE, SEED_HEADER, SEED_RULE],
  rows: (rows) =>
    rows.map((r) =>
      r.proto === 'TCP'
        ? ` ${padL(r.src, 15)} ${padL(r.dst, 15)}  ${padL(r.sport, 5)}  ${padL(r.dport, 5)}  ${+r.urg}  ${+r.ack}  ${+r.psh}  ${+r.rst}  ${+r.syn}  ${+r.fin}`
        : ` ${padL(r.src, 15)} ${padL(r.dst, 15)}  ${padL(r.sport, 5)}  ${padL(r.dport, 5)}  UDP`,
    ),
  end: () => [],
});
