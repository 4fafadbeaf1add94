// tcpdump — after tcpdumplike.stp: each received TCP (and UDP) packet, live,
// with the TCP flags; the seed's header block repeated every second.

import { defineColumns, defineProbe, type RowOf } from '../../core/probe.ts';
import { arr, bool, int, obj, optional, str, type Infer } from '../../core/schema.ts';
import { IFACE_NAME, FILTER_EXPR } from '../../core/probe-options.ts';

/**
 * Frames kept for the pcapng export: as many as the Packets tab keeps rows (renderer/ui/store.dom.ts), ~25 MiB at
 * the snap length; the collector hands the file to the host in parts (one message each).
 */
export const EXPORT_FRAMES = 100_000;

const columns = defineColumns([
  { key: 'time', csv: 'TIME', title: 'Time', type: 'time', width: 210, description: 'capture time, ISO 8601 UTC with microseconds' },
  { key: 'dev', csv: 'DEV', title: 'Device', type: 'text', width: 80, description: 'interface the packet was captured on' },
  { key: 'src', csv: 'SOURCE_IP', title: 'Source IP', type: 'text', width: 160, description: 'source address (IPv4 or IPv6)' },
  { key: 'dst', csv: 'DEST_IP', title: 'Dest IP', type: 'text', width: 160, description: 'destination address' },
  { key: 'sport', csv: 'SPORT', title: 'SPort', type: 'int', width: 64, description: 'source port' },
  { key: 'dport', csv: 'DPORT', title: 'DPort', type: 'int', width: 64, description: 'destination port' },
  { key: 'proto', csv: 'PROTO', title: 'Proto', type: 'text', width: 56, description: 'TCP or UDP' },
  { key: 'urg', csv: 'U', title: 'U', type: 'flag', width: 28, description: 'TCP URG flag' },
  { key: 'ack', csv: 'A', title: 'A', type: 'flag', width: 28, description: 'TCP ACK flag' },
  { key: 'psh', csv: 'P', title: 'P', type: 'flag', width: 28, description: 'TCP PSH flag' },
  { key: 'rst', csv: 'R', title: 'R', type: 'flag', width: 28, description: 'TCP RST flag' },
  { key: 'syn', csv: 'S', title: 'S', type: 'flag', width: 28, description: 'TCP SYN flag' },
  { key: 'fin', csv: 'F', title: 'F', type: 'flag', width: 28, description: 'TCP FIN flag' },
  { key: 'length', csv: 'LENGTH', title: 'Length', type: 'int', width: 80, description: 'IP packet length in bytes (IP header and payload; the same on every link type), as the IP header states it but never more than the wire carried' },
  // With --process: the packet's process, as nettop attributes it (its sender's if the sender is local, else its receiver's).
  { key: 'pid', csv: 'PID', title: 'PID', type: 'int', width: 70, withOption: 'process', description: "the packet's process: the sender's when it was sent from this host, else the receiver's; 0 = kernel (no local socket), -1 = unknown (owner not found)" },
  { key: 'command', csv: 'COMMAND', title: 'Command', type: 'text', width: 130, withOption: 'process', description: 'its command (comm), "kernel" or "unknown"' },
  { key: 'uid', csv: 'UID', title: 'UID', type: 'int', width: 60, withOption: 'process', description: "its real uid (-1 for unknown)" },
  { key: 'cgroup', csv: 'CGROUP', title: 'Service / container', type: 'text', width: 180, withOption: 'process', notInCsv: true, description: 'its cgroup as a user knows it: a systemd unit, a Docker/Podman container, a Flatpak or Snap app, a Kubernetes pod' },
]);
/** A row: one field per column, in column order on the wire. */
export type PacketRow = RowOf<typeof columns>;

const options = obj({
  ifaces: arr(IFACE_NAME, { max: 64 }),
  filter: FILTER_EXPR,
  bothDirections: bool,
  /** Optional, so clients of the seed's options stay valid. */
  process: optional(bool),
  /** Only this process's packets (0: every one), decided in the collector by the same attribution as --process. */
  pid: optional(int({ min: 0, max: 4_194_304 })),
  /** Only packets of processes with this command (exact; '': every one). */
  comm: optional(str({ max: 15, pattern: /^[^"\\\n]*$/ })),
  /** A pcap or pcapng file to read instead of capturing (the CLI only: the collector refuses it). */
  read: optional(str({ max: 4096 })),
});
export type TcpdumpOptions = Infer<typeof options>;

export const tcpdump = defineProbe<PacketRow, TcpdumpOptions>()({
  id: 'tcpdump',
  title: 'Packets',
  seedScript: 'tcpdumplike.stp',
  summary: 'each received TCP and UDP packet, live, with its TCP flags (U A P R S F)',
  kind: 'stream',
  columns,
  options,
  defaults: { ifaces: [], filter: '', bothDirections: false, pid: 0, comm: '' },
  flags: [
    { name: 'iface', option: 'ifaces', kind: 'repeat', value: 'NAME', help: 'capture on this interface (repeatable; default: every interface, through the "any" device)' },
    { name: 'filter', option: 'filter', kind: 'string', value: 'EXPR', label: 'Filter', help: "a libpcap filter expression, as tcpdump takes (e.g. 'tcp port 80')" },
    { name: 'both', option: 'bothDirections', kind: 'bool', label: 'Both directions', help: 'show sent packets too (default: received only, as the seed)' },
    { name: 'process', option: 'process', kind: 'bool', label: 'Processes', help: "each packet's process, as nettop finds it: CSV adds PID,COMMAND,UID (with --read: from NetProbes' own pcapng comments)" },
    { name: 'pid', option: 'pid', kind: 'int', value: 'N', label: 'PID', help: "only this process's packets (its sent and received ones, found as --process finds them; the rest counted, not shown; 0 = all)" },
    { name: 'comm', option: 'comm', kind: 'string', value: 'NAME', label: 'Command', help: 'only packets of processes with this command (exact, as --process names it)' },
    { name: 'read', option: 'read', kind: 'string', value: 'FILE', cliOnly: true, help: 'read a pcap or pcapng file instead of capturing (the same rows; --iface NAME names the interface of a pcap file, which has no names)' },
  ],
  seen: { counters: ['seen'], what: 'frames' },
  counters: [
    { key: 'seen', label: 'seen', description: 'frames libpcap delivered (after the filter)', loss: false },
    { key: 'rows', label: 'rows', description: 'TCP and UDP packets turned into rows', loss: false },
    { key: 'notIp', label: 'not IP', description: 'frames that are not IPv4/IPv6 (ARP, LLDP, ...)', loss: false },
    { key: 'otherProto', label: 'other IP', description: 'IP packets that are neither TCP nor UDP, or later fragments', loss: false },
    { key: 'malformed', label: 'malformed', description: 'frames with impossible headers: counted and skipped', loss: true },
    { key: 'truncated', label: 'truncated', description: 'frames whose headers were cut by the snap length', loss: true },
    { key: 'ipTruncated', label: 'IP truncated', description: 'packets shorter on the wire than their IP header states (cut, or a forged length): shown, with the length the wire carried', loss: false },
    { key: 'kernelDrops', label: 'kernel drops', description: 'packets the kernel dropped because the capture buffer was full (pcap_stats)', loss: true },
    { key: 'attributed', label: 'attributed', description: 'rows given a process (--process)', loss: false },
    { key: 'kernel', label: 'kernel', description: 'rows no local socket owns (--process): PID 0', loss: false },
    { key: 'unknown', label: 'unknown', description: 'rows whose owner existed but could not be found (--process): PID -1', loss: false },
    { key: 'held', label: 'held', description: 'rows that waited for a /proc rescan or the tracepoints before they were printed (--process)', loss: false },
    { key: 'holdOverflow', label: 'hold overflow', description: 'rows printed unknown at once because too many were already waiting for their owner (bounded)', loss: true },
    { key: 'traceOverruns', label: 'trace overruns', description: "tracepoint events the kernel overwrote before they were read: short-lived sockets' packets among them may be unknown", loss: true },
    { key: 'scans', label: '/proc scans', description: 'scans of /proc for socket owners (--process)', loss: false },
    { key: 'otherProcess', label: 'other processes', description: "rows left out by --pid or --comm: another process's, the kernel's or unknown", loss: false },
    { key: 'sent', label: 'sent (file)', description: 'frames of a file (--read) that a cooked capture marks as sent by its host: skipped without --both, as live capture never sees them', loss: false },
    { key: 'fromComments', label: 'named by comments', description: "rows of a file (--read) whose process came from NetProbes' own pcapng comment", loss: false },
  ],
  rate: { unit: 'packets/s' },
  notes:
    'Needs: root, or CAP_NET_RAW (libpcap). The packet view of tcpdumplike.stp, through libpcap instead of SystemTap.\n' +
    'Without --iface it captures on the "any" device (every interface, including ones that come up later).\n' +
    "--process: each packet's process with nettop's attribution (/proc, and tracepoints for short-lived sockets);\n" +
    'a packet whose socket is new waits for a /proc rescan (tens of ms), rows stay in capture order.\n' +
    '--read FILE: pcap or pcapng (any link type the decoder knows); --filter is not applied to files; the process\n' +
    "columns come from NetProbes' own comments (pid=..., comm=..., uid=...), -1/unknown without them.",
});
