// Each probe's seed-format printer (given the run's options), for the CLI's table format (the GUI never
// needs them, so they stay out of the definitions and the renderer's bundle).

import type { SeedPrinter } from '../core/probe.ts';
import type { ProbeId } from './registry.ts';
import { printNettop } from './nettop/print.ts';
import { printSocketTrace } from './socket-trace/print.ts';
import { printTcpConnections } from './tcp-connections/print.ts';
import { printTcpdump } from './tcpdump/print.ts';
import { printDropwatch } from './dropwatch/print.ts';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- each probe prints its own row type
export const PRINTERS: Record<ProbeId, (options: any) => SeedPrinter<any>> = {
  nettop: printNettop,
  'socket-trace': printSocketTrace,
  'tcp-connections': printTcpConnections,
  tcpdump: printTcpdump,
  dropwatch: printDropwatch,
};
