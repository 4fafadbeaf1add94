// dropwatch — after dropwatch.stp: packets the kernel dropped (skb:kfree_skb),
// counted per kernel location every interval, most first, with the drop reason
// and the protocol; the location resolved to its function through /proc/kallsyms;
// drops at a local socket named by the process that owns it; every reason
// explained in plain words (reasons.ts).

import { defineColumns, defineProbe, type RowOf } from '../../core/probe.ts';
import { bool, obj, optional, type Infer } from '../../core/schema.ts';
import { INTERVAL_SECONDS } from '../../core/probe-options.ts';

const columns = defineColumns([
  { key: 'time', csv: 'TIME', title: 'Interval end', type: 'time', width: 210, description: 'end of the interval the drops were counted in, ISO 8601 UTC' },
  { key: 'count', csv: 'COUNT', title: 'Packets', type: 'int', width: 80, description: 'packets dropped at this location for this reason in the interval' },
  { key: 'location', csv: 'LOCATION', title: 'Location', type: 'text', width: 220, description: 'kernel function that freed the packet as a drop (kfree_skb location, resolved through /proc/kallsyms; a hex address when it cannot be)' },
  { key: 'reason', csv: 'REASON', title: 'Reason', type: 'text', width: 160, description: 'the kernel drop reason (enum skb_drop_reason, e.g. NO_SOCKET); empty on kernels before 5.17' },
  { key: 'protocol', csv: 'PROTOCOL', title: 'Protocol', type: 'text', width: 80, description: 'the packet\'s EtherType: IPv4, IPv6, ARP, or hex' },
  { key: 'pid', csv: 'PID', title: 'PID', type: 'text', width: 70, description: "the process owning the local socket the packets were dropped at (kfree_skb's rx_sk); empty where no local socket was involved (e.g. NO_SOCKET) or its owner could not be told" },
  { key: 'command', csv: 'COMMAND', title: 'Command', type: 'text', width: 140, description: 'that process\'s command; "?" for drops at a local socket whose process could not be told; empty where no local socket was involved' },
  { key: 'explanation', csv: 'EXPLANATION', title: 'Explanation', type: 'text', width: 420, notInCsv: true, description: 'the drop reason in plain words, and what to do about it (GUI, JSON and --explain)' },
  { key: 'sites', csv: 'SITES', title: 'Exact locations', type: 'text', width: 320, notInCsv: true, description: 'each place in the function the drops happened, as symbol+offset/length, with its count (GUI and JSON only)' },
]);
/** A row: one field per column, in column order on the wire. */
export type DropRow = RowOf<typeof columns>;

const options = obj({ interval: INTERVAL_SECONDS, explain: optional(bool) });
export type DropwatchOptions = Infer<typeof options>;

export const dropwatch = defineProbe<DropRow, DropwatchOptions>()({
  id: 'dropwatch',
  title: 'Drops',
  seedScript: 'dropwatch.stp',
  summary: 'packets the kernel dropped, counted per kernel location and reason, every interval (default 5 s)',
  kind: 'interval',
  columns,
  options,
  defaults: { interval: 5, explain: false },
  flags: [
    { name: 'interval', option: 'interval', kind: 'int', value: 'S', help: 'seconds per table (1..60, default 5)' },
    { name: 'explain', option: 'explain', kind: 'bool', help: 'table format: each line followed by its reasons in plain words, with the process and what to do' },
  ],
  seen: { counters: ['drops'], what: 'drops' },
  counters: [
    { key: 'drops', label: 'drops', description: 'kfree_skb drop events read from the kernel', loss: false },
    { key: 'overruns', label: 'ring overruns', description: 'events the kernel lost because the tracing ring buffer was full (per_cpu stats, summed)', loss: true },
    { key: 'shedKeys', label: 'untabled', description: 'drops at more distinct locations/reasons than one table holds (4096)', loss: true },
    { key: 'attributed', label: 'at a process', description: 'drops at a local socket whose owning process was told', loss: false },
    { key: 'unattributed', label: 'owner unknown', description: "drops at a local socket whose process could not be told (socket never seen with its address, or gone before /proc was read): COMMAND '?'", loss: true },
    { key: 'corrupt', label: 'bad pages', description: 'ring-buffer pages that could not be parsed to the end', loss: true },
  ],
  rate: { unit: 'drops/s', weight: (row) => row.count },
  summaryNote: (c) => ((c.attributed ?? 0) + (c.unattributed ?? 0) ? `drops at a local socket: ${c.attributed ?? 0} attributed to their process, ${c.unattributed ?? 0} not` : null),
  notes:
    'Needs: root and tracefs (mounted if absent), tracepoint skb:kfree_skb. Reads the binary per-CPU ring buffers of a private\n' +
    'tracing instance, so it keeps up with drop storms; kernel ring-buffer overruns are counted and shown.\n' +
    'LOCATION is the function only; drops inside one function at different offsets are summed. The process is the\n' +
    "owner of the socket the packet was dropped at (kfree_skb's rx_sk), never the task the drop ran in (on loopback\n" +
    'that is the sender). A socket is known by its address from udp:udp_fail_queue_rcv_skb (UDP) or\n' +
    'sock:inet_sock_set_state (TCP, state changes during the run), then its owner from /proc/net and /proc/<pid>/fd.',
});
