// tcp-connections — after tcp_connections.stp: each TCP connection a local
// process accepts, live, with the accepting process (found in its own context,
// at accept time), the local port and the peer; optionally outbound ones too.

import { defineColumns, defineProbe, type RowOf } from '../../core/probe.ts';
import { TASK_EVENTS_LOST } from '../../core/probe-options.ts';
import { bool, obj, type Infer } from '../../core/schema.ts';

const columns = defineColumns([
  { key: 'time', csv: 'TIME', title: 'Time', type: 'time', width: 210, description: 'when accept() returned the connection (outbound: when it was established), ISO 8601 UTC' },
  { key: 'uid', csv: 'UID', title: 'UID', type: 'int', width: 60, description: 'real uid of the process; -1 if it exited before it could be looked up' },
  { key: 'cmd', csv: 'CMD', title: 'Command', type: 'text', width: 140, description: 'command (thread name) of the task that accepted (or opened) the connection' },
  { key: 'pid', csv: 'PID', title: 'PID', type: 'int', width: 70, description: 'process id of that task' },
  { key: 'port', csv: 'PORT', title: 'Port', type: 'int', width: 64, description: 'local port' },
  { key: 'ipSource', csv: 'IP_SOURCE', title: 'Remote IP', type: 'text', width: 160, description: 'the peer\'s address (IPv4 or IPv6; v4-mapped shown as IPv4)' },
  { key: 'remotePort', csv: 'REMOTE_PORT', title: 'Remote port', type: 'int', width: 90, description: 'the peer\'s port' },
  { key: 'direction', csv: 'DIRECTION', title: 'Direction', type: 'text', width: 80, description: 'accepted (a local process accepted it) or outbound (a local process connected)' },
]);
/** A row: one field per column, in column order on the wire. */
export type ConnRow = RowOf<typeof columns>;

const options = obj({ outbound: bool });
export type TcpConnectionsOptions = Infer<typeof options>;

export const tcpConnections = defineProbe<ConnRow, TcpConnectionsOptions>()({
  id: 'tcp-connections',
  title: 'TCP connections',
  seedScript: 'tcp_connections.stp',
  summary: 'each TCP connection a local process accepts, live, with its process, port and peer (and, on request, outbound ones)',
  kind: 'stream',
  columns,
  options,
  defaults: { outbound: false },
  flags: [{ name: 'outbound', option: 'outbound', kind: 'bool', help: 'also show connections local processes open (DIRECTION outbound); default: accepted only, as the seed' }],
  seen: { counters: ['accepted', 'outbound'], what: 'connections' },
  counters: [
    { key: 'accepted', label: 'accepted', description: 'connections matched to the process that accepted them', loss: false },
    { key: 'outbound', label: 'outbound', description: 'outbound connections established (with --outbound)', loss: false },
    { key: 'unattributed', label: 'unattributed', description: 'accepts with no connection seen on their port (e.g. established before the probe started), or connects seen only in interrupt context', loss: true },
    { key: 'noListener', label: 'no listener', description: 'accepts whose listening socket could not be found in /proc (process or fd gone)', loss: true },
    { key: 'neverAccepted', label: 'never accepted', description: 'connections established but not accepted within 60 s', loss: false },
    { key: 'ownerGone', label: 'owner gone', description: 'rows whose process had exited before it was looked up: UID -1, command from tracefs', loss: false },
    { key: 'overruns', label: 'ring overruns', description: 'events the kernel lost because the tracing ring buffer was full', loss: true },
    TASK_EVENTS_LOST,
    { key: 'shedEvents', label: 'shed events', description: 'events dropped because a bounded table was full', loss: true },
  ],
  rate: { unit: 'connections/s' },
  notes:
    'Needs: root and tracefs, tracepoints sock:inet_sock_set_state and syscalls:sys_enter/exit_accept4 (and accept).\n' +
    'The accepting process is taken at accept() time in its own context (the kernel completes the handshake in softirq,\n' +
    'in whatever task is current). Connections accepted by two listeners sharing one port may swap peers between them.',
});
