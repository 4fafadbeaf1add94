// nettop — after nettop.stp: traffic per process and device, one table per
// interval (default 5 s, as the seed), most packets first, reset each interval.
//
// Unlike the seed, a packet is credited to the process that owns its socket
// (found through /proc, see attribution/), not to whatever
// task the kernel happened to run (the seed's "swapper" rows). What has no
// owner is shown, not hidden: PID 0 "kernel" for traffic no local socket owns
// (ARP, ICMP, closed ports, forwarded packets), PID -1 "unknown" for traffic
// whose owner existed but could not be found.

import { defineColumns, defineProbe, type RowOf } from '../../core/probe.ts';
import { arr, obj, type Infer } from '../../core/schema.ts';
import { IFACE_NAME, INTERVAL_SECONDS } from '../../core/probe-options.ts';

/** The rows of traffic no local socket owns (PID 0) and whose owner could not be found (PID -1). */
export { KERNEL_PID, KERNEL_COMMAND, UNKNOWN_PID, UNKNOWN_COMMAND } from '../../attribution/owner.ts';

const columns = defineColumns([
  { key: 'time', csv: 'TIME', title: 'Time', type: 'time', width: 210, description: "end of the interval, ISO 8601 UTC with microseconds" },
  { key: 'pid', csv: 'PID', title: 'PID', type: 'int', width: 70, description: 'process that owns the socket; 0 = kernel (no local socket), -1 = unknown (owner not found)' },
  { key: 'uid', csv: 'UID', title: 'UID', type: 'int', width: 60, description: "the process's real uid (-1 for unknown)" },
  { key: 'dev', csv: 'DEV', title: 'Device', type: 'text', width: 90, description: 'network interface' },
  { key: 'xmitPk', csv: 'XMIT_PK', title: 'Xmit pk', type: 'int', width: 80, description: 'packets sent' },
  { key: 'recvPk', csv: 'RECV_PK', title: 'Recv pk', type: 'int', width: 80, description: 'packets received' },
  { key: 'xmitKb', csv: 'XMIT_KB', title: 'Xmit KB', type: 'int', width: 80, description: 'KiB sent (bytes / 1024, rounded down, as the seed)' },
  { key: 'recvKb', csv: 'RECV_KB', title: 'Recv KB', type: 'int', width: 80, description: 'KiB received (bytes / 1024, rounded down)' },
  { key: 'command', csv: 'COMMAND', title: 'Command', type: 'text', width: 150, description: 'process name (comm), "kernel" or "unknown"' },
  { key: 'xmitBytes', csv: 'XMIT_BYTES', title: 'Xmit bytes', type: 'int', width: 100, description: 'bytes sent: frame lengths including the link-layer header as the device sees it (a 1000-byte UDP payload on lo is 1042)' },
  { key: 'recvBytes', csv: 'RECV_BYTES', title: 'Recv bytes', type: 'int', width: 100, description: 'bytes received, counted as XMIT_BYTES' },
  { key: 'cgroup', csv: 'CGROUP', title: 'Service / container', type: 'text', width: 180, notInCsv: true, description: "the process's cgroup as a user knows it: a systemd unit (nginx.service), a container (docker:<id> (name), podman:…), a Flatpak or Snap app, a Kubernetes pod, else the cgroup's path; empty for kernel and unknown" },
]);
/** A row: one field per column, in column order on the wire. */
export type NettopRow = RowOf<typeof columns>;

const options = obj({
  interval: INTERVAL_SECONDS,
  ifaces: arr(IFACE_NAME, { max: 64 }),
});
export type NettopOptions = Infer<typeof options>;

export const nettop = defineProbe<NettopRow, NettopOptions>()({
  id: 'nettop',
  title: 'Traffic per process',
  seedScript: 'nettop.stp',
  summary: 'packets and bytes per process and device, one table per interval, most packets first',
  kind: 'interval',
  columns,
  options,
  defaults: { interval: 5, ifaces: [] },
  flags: [
    { name: 'interval', option: 'interval', kind: 'int', value: 'SECONDS', help: 'seconds per table, 1-60 (default 5, as nettop.stp)' },
    { name: 'iface', option: 'ifaces', kind: 'repeat', value: 'NAME', help: 'count traffic on this interface only (repeatable; default: every interface, including ones that come up later)' },
  ],
  seen: { counters: ['frames'], what: 'frames' },
  summaryNote: (c) => {
    const all = (c.attributed ?? 0) + (c.kernel ?? 0) + (c.unknown ?? 0);
    return all ? `${((100 * (c.attributed ?? 0)) / all).toFixed(1)} % of packets attributed to a process, ${c.kernel ?? 0} to the kernel, ${c.unknown ?? 0} unknown` : null;
  },
  counters: [
    { key: 'attributed', label: 'attributed', description: 'packets credited to a process (XMIT_PK + RECV_PK of process rows; on lo a packet counts once sent and once received)', loss: false },
    { key: 'kernel', label: 'kernel', description: 'packets no local socket owns (ARP, ICMP, closed ports, forwarded): PID 0 rows', loss: false },
    { key: 'unknown', label: 'unknown', description: 'packets whose owner existed but could not be found (socket closed or process gone before the /proc scan): PID -1 rows', loss: false },
    { key: 'frames', label: 'frames', description: 'frames libpcap delivered', loss: false },
    { key: 'traced', label: 'traced', description: 'flows whose owner /proc no longer showed (a socket opened and closed between two scans), named by tracepoints in the sending task (fib:fib_table_lookup, fib6:fib6_table_lookup, sock:inet_sock_set_state)', loss: false },
    { key: 'traceOverruns', label: 'trace overruns', description: 'tracepoint events the kernel overwrote before they were read (endpoint and task events): short-lived sockets among them may land in the unknown row', loss: true },
    // Not a loss: under churn nearly every entry dropped was already used. A packet that would have needed one is
    // looked up in /proc and otherwise lands in the unknown row, which is where a loss shows.
    { key: 'traceEvicted', label: 'trace evicted', description: 'recent endpoints dropped because their table was full (bounded) before they expired; a packet that later needed one is looked up in /proc, else counted unknown', loss: false },
    { key: 'traceUnresolved', label: 'trace unresolved', description: 'tracepoint events whose process could not be told (its fork event lost, or it began as nettop started): not used', loss: true },
    { key: 'ambiguous', label: 'trace ambiguous', description: 'packets left unknown: two processes used the same ports with the same peer while they waited, and there were too many to tell apart one by one', loss: true },
    { key: 'traceLossy', label: 'trace lossy', description: 'lookups left unknown because the kernel overwrote tracepoint events around the packets\' time', loss: true },
    { key: 'traceFailed', label: 'trace failed', description: 'the tracepoints failed during the run (1): /proc alone from then on', loss: true },
    { key: 'holdOverflow', label: 'hold overflow', description: 'packets counted unknown at once because too many flows were already waiting for a /proc rescan or the tracepoints (bounded)', loss: true },
    { key: 'held', label: 'held', description: 'packets that waited for a /proc rescan (their socket was new) or for the tracepoints to be read up to their time', loss: false },
    { key: 'scanMs', label: '/proc ms', description: 'milliseconds spent scanning /proc, in total', loss: false },
    { key: 'scans', label: '/proc scans', description: 'scans of /proc for socket owners (on a new socket, rate-limited, and every 2 s while traffic flows)', loss: false },
    { key: 'malformed', label: 'malformed', description: 'frames with impossible headers (counted in the kernel rows)', loss: false },
    { key: 'kernelDrops', label: 'kernel drops', description: 'packets the kernel dropped because the capture buffer was full (pcap_stats): not in any row', loss: true },
  ],
  rate: { unit: 'packets/s', weight: (row) => row.xmitPk + row.recvPk },
  notes:
    'Needs: root (libpcap on every interface, and /proc/<pid>/fd of every process to find socket owners).\n' +
    'Each packet is credited to the process that owns its socket (TCP and UDP, IPv4 and IPv6); a socket shared by\n' +
    'several processes (opened before fork) goes to the lowest PID. PID 0 "kernel": traffic no local socket owns\n' +
    '(ARP, ICMP, packets for closed ports, forwarded packets, IP fragments after the first). PID -1 "unknown": the\n' +
    'owner existed but was gone before /proc could be read and the tracepoints did not see it either.\n' +
    'Short-lived sockets (opened, used and closed between two /proc scans): where tracefs has fib:fib_table_lookup,\n' +
    'fib6:fib6_table_lookup and sock:inet_sock_set_state, the process that last used the local port with that peer\n' +
    'before the packet (seen in task context: each unconnected UDP send, connect, close) owns it. Such a packet waits\n' +
    'until the tracepoints are read up to its time (tens of ms). Which process and command an exited thread had comes\n' +
    'from task:task_newtask, task:task_rename and sched:sched_process_exit; if it had exited before /proc could be\n' +
    'read, its uid is the one it was forked with, or -1 if it called setuid. A datagram coming in for a UDP port no\n' +
    'socket holds goes to the process that last sent from that port to its sender (a reply), else to kernel. Where\n' +
    'events were lost, or two processes used the same ports and peer while too many packets waited, unknown.\n' +
    'Without those tracepoints (or NETPROBES_NETTOP_TRACE=0), /proc alone (the source line says so).\n' +
    'On lo, a packet is XMIT for the sending socket\'s process and RECV for the receiving one. Bytes are frame lengths\n' +
    'with the device\'s own link-layer header (14 bytes on Ethernet and lo, none on tun). Sockets of other network\n' +
    'namespaces (containers) are read from their own tables (/proc/<pid>/net of a process inside): a packet on a link\n' +
    'to such a namespace counts for its process there too (XMIT or RECV), as on lo.',
});
