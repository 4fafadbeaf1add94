// Each probe's additions to its tab; the `satisfies` fails the type check if one is missing.
import type { ProbeId } from './registry.ts';
import type { ProbeView } from '../renderer/ui/view.dom.ts';
import { dropwatchView } from './dropwatch/view.dom.tsx';
import { nettopView } from './nettop/view.dom.tsx';
import { socketTraceView } from './socket-trace/view.dom.tsx';
import { tcpConnectionsView } from './tcp-connections/view.dom.tsx';
import { tcpdumpView } from './tcpdump/view.dom.tsx';

export const VIEWS = {
  nettop: nettopView,
  'socket-trace': socketTraceView,
  'tcp-connections': tcpConnectionsView,
  tcpdump: tcpdumpView,
  dropwatch: dropwatchView,
} satisfies Record<ProbeId, ProbeView>;
