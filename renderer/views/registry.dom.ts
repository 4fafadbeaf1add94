// Each probe's additions to its tab; the `satisfies` fails the type check if one is missing.
import type { ProbeId } from '../../electron/shared/probe.ts';
import type { ProbeView } from './view.dom.ts';
import { dropwatchView } from './probes/dropwatch.dom.tsx';
import { nettopView } from './probes/nettop.dom.tsx';
import { socketTraceView } from './probes/socket-trace.dom.tsx';
import { tcpConnectionsView } from './probes/tcp-connections.dom.tsx';
import { tcpdumpView } from './probes/tcpdump.dom.tsx';

export const VIEWS = {
  nettop: nettopView,
  'socket-trace': socketTraceView,
  'tcp-connections': tcpConnectionsView,
  tcpdump: tcpdumpView,
  dropwatch: dropwatchView,
} satisfies Record<ProbeId, ProbeView>;
