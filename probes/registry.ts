// Every probe's definition, in every process. Adding a probe: its folder, its
// id here, and one line in each registry (this one, sources.node.ts,
// printers.ts, views.dom.ts); each `satisfies` fails the type check while an
// id is missing. ARCHITECTURE.md lists every place.

import type { ProbeDefinition } from '../core/probe.ts';
import { tcpdump } from './tcpdump/definition.ts';
import { dropwatch } from './dropwatch/definition.ts';
import { tcpConnections } from './tcp-connections/definition.ts';
import { socketTrace } from './socket-trace/definition.ts';
import { nettop } from './nettop/definition.ts';

export const PROBE_IDS = ['nettop', 'socket-trace', 'tcp-connections', 'tcpdump', 'dropwatch'] as const;
export type ProbeId = (typeof PROBE_IDS)[number];

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- each probe has its own row and option types
export type AnyProbe = ProbeDefinition<any, any, ProbeId>;

export const PROBES = {
  nettop,
  'socket-trace': socketTrace,
  'tcp-connections': tcpConnections,
  tcpdump,
  dropwatch,
} as const satisfies { [Id in ProbeId]: ProbeDefinition<any, any, Id> }; // eslint-disable-line @typescript-eslint/no-explicit-any -- each probe has its own row and option types
