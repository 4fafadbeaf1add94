// Every probe's source, for the processes that run probes (the collector, and
// the CLI, which runs them in-process).

import type { ProbeId } from './registry.ts';
import type { ProbeSource } from '../runtime/source.ts';
import { tcpdumpSource } from './tcpdump/source.node.ts';
import { nettopSource } from './nettop/source.node.ts';
import { dropwatchSource } from './dropwatch/source.node.ts';
import { tcpConnectionsSource } from './tcp-connections/source.node.ts';
import { socketTraceSource } from './socket-trace/source.node.ts';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- each probe has its own row and option types
export const SOURCES: Record<ProbeId, ProbeSource<any, any>> = {
  nettop: nettopSource,
  'socket-trace': socketTraceSource,
  'tcp-connections': tcpConnectionsSource,
  tcpdump: tcpdumpSource,
  dropwatch: dropwatchSource,
};
