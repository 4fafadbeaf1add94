// A probe that is planned but not built yet: it has a tab and a CLI name that
// say so plainly, and its seed columns, but no source.

import { defineProbe, type Column, type ProbeDefinition, type ProbeId } from '../shared/probe.ts';
import { obj } from '../shared/schema.ts';

export function plannedProbe(
  id: ProbeId,
  title: string,
  seedScript: string,
  summary: string,
  columns: readonly Column<Record<string, unknown>>[],
): ProbeDefinition<Record<string, unknown>, Record<string, never>> {
  return defineProbe<Record<string, unknown>, Record<string, never>>({
    id,
    title,
    seedScript,
    summary,
    kind: 'stream',
    built: false,
    columns,
    options: obj({}),
    defaults: {},
    flags: [],
    counters: [],
    printer: () => ({ begin: () => [], rows: () => [], end: () => [] }),
    notes: 'Not built yet: this probe is planned and will arrive in a later release.',
  });
}

const text = (key: string, title = key): Column<Record<string, unknown>> => ({
  key,
  csv: key,
  title,
  type: 'text',
  width: 100,
  description: '',
});

export const nettopPlanned = plannedProbe('nettop', 'Traffic per process', 'nettop.stp', 'traffic per process and device, every 5 s',
  ['PID', 'UID', 'DEV', 'XMIT_PK', 'RECV_PK', 'XMIT_KB', 'RECV_KB', 'COMMAND'].map((k) => text(k)));
export const socketTracePlanned = plannedProbe('socket-trace', 'Socket calls', 'socket-trace.stp', 'calls and returns of the socket layer, indented per thread',
  ['TIME', 'REL_US', 'COMM', 'PID', 'TID', 'DEPTH', 'DIRECTION', 'FUNCTION'].map((k) => text(k)));
export const tcpConnectionsPlanned = plannedProbe('tcp-connections', 'TCP connections', 'tcp_connections.stp', 'each TCP connection a local process accepts',
  ['UID', 'CMD', 'PID', 'PORT', 'IP_SOURCE'].map((k) => text(k)));
export const dropwatchPlanned = plannedProbe('dropwatch', 'Drops', 'dropwatch.stp', 'packets the kernel dropped, per location, every 5 s',
  ['COUNT', 'LOCATION', 'REASON', 'PROTOCOL'].map((k) => text(k)));
