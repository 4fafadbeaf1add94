// The real inputs of an OwnerWatch: /proc and the tracefs endpoint tracer.
// NETPROBES_NETTOP_TRACE=0 turns the tracer off (then /proc alone), for every
// probe that attributes packets.

import { startEndpointTracer } from './recent-endpoints-trace.node.ts';
import { scanSockets } from './socket-table.node.ts';
import type { OwnerTracer, SocketScanner } from './owner-watch.ts';

export const systemScanner: SocketScanner = { scan: () => scanSockets() };

export function startSystemTracer(): OwnerTracer | { unavailable: string } {
  return process.env.NETPROBES_NETTOP_TRACE === '0' ? { unavailable: 'tracepoints turned off by NETPROBES_NETTOP_TRACE=0' } : startEndpointTracer();
}
