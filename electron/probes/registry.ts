// Every probe's definition, in every process. Adding a probe: its folder, and
// one line here; the `satisfies` fails the type check if an id is missing.

import type { ProbeDefinition, ProbeId } from '../shared/probe.ts';
import { tcpdump } from './tcpdump/definition.ts';
import { dropwatch } from './dropwatch/definition.ts';
import { tcpConnections } from './tcp-connections/definition.ts';
import { socketTrace } from './socket-trace/definition.ts';
import { nettop } from './nettop/definition.ts';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- each probe has its own row and option types
export type AnyProbe = ProbeDefinition<any, any>;

export const PROBES = {
  nettop,
  'socket-trace': socketTrace,
  'tcp-connections': tcpConnections,
  tcpdump,
  dropwatch,
} as const satisfies Record<ProbeId, AnyProbe>;
