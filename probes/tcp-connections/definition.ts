// tcp-connections — after tcp_connections.stp: each TCP connection a local
// process accepts, live, with the accepting process (found in its own context,
// at accept time), the local port and the peer; optionally outbound ones too.
// With --lifetimes (as tcplife): a row per closed connection instead, with its
// duration, bytes each way, retransmissions, resets sent and received, and RTT.

import { defineColumns, defineProbe, type RowOf } from '../../core/probe.ts';
import { TASK_EVENTS_LOST } from '../../core/probe-options.ts';
import { bool, obj, optional, type Infer } from '../../core/schema.ts';

const columns = defineColumns([
  { key: 'time', csv: 'TIME', title: 'Time', type: 'time', width: 210, description: 'when accept() returned the connection (outbound: when it was established), ISO 8601 UTC' },
  { key: 'uid', csv: 'UID', title: 'UID', type: 'int', width: 60, description: 'real uid of the process; -1 if it exited before it could be looked up' },
  { key: 'cmd', csv: 'CMD', title: 'Command', type: 'text', width: 140, description: 'command (thread name) of the task that accepted (or opened) the connection' },
  { key: 'pid', csv: 'PID', title: 'PID', type: 'int', width: 70, description: 'process id of that task' },
  { key: 'port', csv: 'PORT', title: 'Port', type: 'int', width: 64, description: 'local port' },
  { key: 'ipSource', csv: 'IP_SOURCE', title: 'Remote IP', type: 'text', width: 160, description: 'the peer\'s address (IPv4 or IPv6; v4-mapped shown as IPv4)' },
  { key: 'remotePort', csv: 'REMOTE_PORT', title: 'Remote port', type: 'int', width: 90, description: 'the peer\'s port' },
  { key: 'direction', csv: 'DIRECTION', title: 'Direction', type: 'text', width: 80, description: 'accepted (a local process accepted it) or outbound (a local process connected)' },
  { key: 'durationMs', csv: 'DURATION_MS', title: 'Duration ms', type: 'int', width: 90, description: '--lifetimes: from established (outbound: from connect) to closed, ms; 0 in rows made when a connection opens' },
  { key: 'txBytes', csv: 'TX_BYTES', title: 'Sent B', type: 'int', width: 90, description: '--lifetimes: bytes the process sent on the connection (send calls; not sendfile/splice); 0 in rows made at open' },
  { key: 'rxBytes', csv: 'RX_BYTES', title: 'Received B', type: 'int', width: 90, description: '--lifetimes: bytes the process read from the connection (receive calls, peeks not counted); 0 in rows made at open' },
  { key: 'retrans', csv: 'RETRANS', title: 'Retrans', type: 'int', width: 70, description: '--lifetimes: retransmissions the kernel sent (tcp:tcp_retransmit_skb, successful ones); one per retransmitted packet, which the kernel counts as several segments when it carries several (GSO)' },
  { key: 'resetsSent', csv: 'RESETS_SENT', title: 'RST sent', type: 'int', width: 70, description: '--lifetimes: resets this side sent on the connection (tcp:tcp_send_reset)' },
  { key: 'resetsReceived', csv: 'RESETS_RECEIVED', title: 'RST recv', type: 'int', width: 70, description: '--lifetimes: resets received from the peer (tcp:tcp_receive_reset)' },
  { key: 'srttUs', csv: 'SRTT_US', title: 'SRTT µs', type: 'int', width: 80, description: '--lifetimes: the last smoothed round-trip time the kernel had (tcp:tcp_probe), µs; 0 if none was seen' },
  { key: 'state', csv: 'STATE', title: 'State', type: 'text', width: 150, notInCsv: true, description: 'the connection\'s state when the row was made: ESTABLISHED at open, "closed from X" at close (GUI and JSON)' },
]);
/** A row: one field per column, in column order on the wire. */
export type ConnRow = RowOf<typeof columns>;

const options = obj({ outbound: bool, lifetimes: optional(bool) });
export type TcpConnectionsOptions = Infer<typeof options>;

export const tcpConnections = defineProbe<ConnRow, TcpConnectionsOptions>()({
  id: 'tcp-connections',
  title: 'TCP connections',
  seedScript: 'tcp_connections.stp',
  summary: 'each TCP connection a local process accepts, live, with its process, port and peer (and, on request, outbound ones)',
  kind: 'stream',
  columns,
  options,
  defaults: { outbound: false, lifetimes: false },
  flags: [
    { name: 'outbound', option: 'outbound', kind: 'bool', help: 'also show connections local processes open (DIRECTION outbound); default: accepted only, as the seed' },
    { name: 'lifetimes', option: 'lifetimes', kind: 'bool', help: 'a row per connection when it closes (as tcplife), with duration, bytes, retransmissions, resets and RTT' },
  ],
  seen: { counters: ['accepted', 'outbound'], what: 'connections' },
  counters: [
    { key: 'accepted', label: 'accepted', description: 'connections matched to the process that accepted them', loss: false },
    { key: 'outbound', label: 'outbound', description: 'outbound connections established (with --outbound)', loss: false },
    { key: 'unattributed', label: 'unattributed', description: 'accepts with no connection seen on their port (e.g. established before the probe started), or connects seen only in interrupt context', loss: true },
    { key: 'noListener', label: 'no listener', description: 'accepts whose listening socket could not be found in /proc (process or fd gone)', loss: true },
    { key: 'neverAccepted', label: 'never accepted', description: 'connections established but not accepted within 60 s', loss: false },
    { key: 'ownerGone', label: 'owner gone', description: 'rows whose process had exited before it was looked up: UID -1, command from tracefs', loss: false },
    { key: 'closed', label: 'closed', description: '--lifetimes: connections closed with their process known (one row each)', loss: false },
    { key: 'closedUnowned', label: 'closed unowned', description: '--lifetimes: connections that closed before a process accepted them, or that opened before the probe started', loss: true },
    { key: 'overruns', label: 'ring overruns', description: 'events the kernel lost because the tracing ring buffer was full', loss: true },
    TASK_EVENTS_LOST,
    { key: 'shedEvents', label: 'shed events', description: 'events dropped because a bounded table was full', loss: true },
  ],
  rate: { unit: 'connections/s' },
  notes:
    'Needs: root and tracefs, tracepoints sock:inet_sock_set_state and syscalls:sys_enter/exit_accept4 (and accept).\n' +
    'The accepting process is taken at accept() time in its own context (the kernel completes the handshake in softirq,\n' +
    'in whatever task is current). Connections accepted by two listeners sharing one port may swap peers between them.\n' +
    '--lifetimes adds tcp:tcp_retransmit_skb, tcp_send_reset, tcp_receive_reset, tcp_probe and sock:sock_send_length,\n' +
    'sock_recv_length (TCP only, filtered in the kernel); a connection opened before the probe started has no row.',
});
