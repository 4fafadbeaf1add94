// Feeds a RecentEndpoints table (recent-endpoints.ts) from tracepoints that
// run in the context of the task using a socket and carry its ports, in a
// private tracefs instance read in binary per CPU:
//
//   fib:fib_table_lookup     IPv4 route lookups: every sendmsg of an unconnected
//                            UDP socket, connect() (TCP, UDP), with proto, src,
//                            sport, dst, dport (src 0.0.0.0 before the source
//                            address is chosen)
//   fib6:fib6_table_lookup   the same for IPv6 (src :: when not chosen)
//   sock:inet_sock_set_state TCP state changes; those in task context
//                            (connect, close) name the socket's process
//
// Only events in task context are used: softirq, hardirq and NMI events
// (common_flags) run in whatever task the CPU was in — on lo, the SYN-ACK of a
// server is looked up in the connecting client's context. Events with port 0
// (connect's first lookup, before the port is chosen; listen()) are filtered
// in the kernel.
//
// Who the task was comes from a TaskTracker (tracefs/tasks.node.ts) fed by the
// kernel's fork/rename/exit events in an instance of its own: its process and
// command even when it has exited before its event is read; its uid when it
// was still there to ask (else -1). Events are resolved after each read of
// every CPU's buffer, once the task events of that read are in too. An event
// whose process cannot be told is dropped (counted: `unresolved`).
//
// Tracepoints are global, /proc's socket tables per network namespace: an
// event from a task of another namespace (a container's, a test namespace's)
// is skipped (`foreign`) when the task is still there to tell; one that had
// exited is kept — it only matters if its exact ports and peer meet ours.
//
// After each read that emptied every buffer the table is complete up to the
// read's start (its horizon, less a margin for events being committed). When
// the kernel overwrote events the span since the previous read is marked lost.
// A repeat of the previous event on the same CPU (same task, same addresses)
// only updates its entry's time: a UDP flood costs one buffer compare per
// datagram.

import { ProbeError } from '../../../core/probe-error.ts';
import { TracefsInstance } from '../../../kernel/tracefs/instance.node.ts';
import { field, readInt, type EventFormat, type FieldLayout } from '../../../core/tracefs/format.ts';
import { RawReader } from '../../../kernel/tracefs/raw-reader.node.ts';
import { TaskTracker } from '../../../kernel/tracefs/tasks.node.ts';
import type { Life } from '../../../core/tracefs/task-ledger.ts';
import { epochMicrosConverter } from '../../../kernel/tracefs/clock.node.ts';
import { readlinkSync } from 'node:fs';
import { ipv4, ipv6 } from '../../../core/packet.ts';
import type { L4Proto } from '../../../core/procfs/proc-net.ts';
import type { Owner } from './socket-index.ts';
import { RecentEndpoints, type Entry, type RecentEndpointLimits } from './recent-endpoints.ts';

/** common_flags: hardirq, softirq, NMI (kernel/trace/trace.h TRACE_FLAG_*). */
const IRQ_FLAGS = 0x08 | 0x10 | 0x40;
/** Per-CPU ring buffer, KiB: ~50k events, ~80 ms of a 600k/s UDP flood between two polls. */
const BUFFER_KB = 4096;
/** An event stamped before a read began may be committed just after that CPU was read: the horizon keeps this margin (µs). */
const COMMIT_MARGIN_US = 2000;
const IPPROTO_TCP = 6;
const IPPROTO_UDP = 17;

export interface EndpointTracerCounts {
  /** Endpoint events read (before the context check). */
  read: number;
  /** Events skipped because they ran in interrupt context. */
  irq: number;
  /** Events whose task had exited when resolved: process and command from the task events, uid -1. */
  gone: number;
  /** Events of tasks in another network namespace. */
  foreign: number;
  /** Events whose process could not be told (task events lost, or before the start). */
  unresolved: number;
}

export interface EndpointTracer {
  readonly table: RecentEndpoints;
  /** The tracepoints in use, as system:event. */
  readonly tracepoints: readonly string[];
  readonly counts: EndpointTracerCounts;
  /**
   * Reads what the kernel has now into the table; true if the table is now complete up to a later time. `last`:
   * no event is left for a next read.
   */
  poll(last?: boolean): boolean;
  /** Events the kernel lost (ring buffer overwritten), summed over CPUs. */
  overruns(): number;
  close(): void;
}

/** One endpoint event read but not yet resolved to a process (and its repeats on the same CPU). */
interface Pending {
  /** The CPU it was read from: its memo may point at it. */
  cpu: number;
  tid: number;
  tsNs: number;
  lastNs: number;
  proto: L4Proto;
  lip: string;
  lport: number;
  rip: string;
  rport: number;
  /** Its process could not be told at the last read: asked once more at the next (its fork may come then). */
  deferred?: boolean;
}

/** Per CPU: the previous endpoint event's bytes, and what became of it. */
interface Memo {
  rec: Buffer;
  len: number;
  /** This read's record, until it is resolved. */
  pending: Pending | null;
  /** Its table entry once resolved (valid within one table generation, for the same life of its task), or null. */
  entry: Entry | null;
  life: Life | null;
  gen: number;
  /** Resolved to no owner (another namespace's task): its repeats, from the same life, are skipped too. */
  skip: boolean;
}

interface Layout {
  src: FieldLayout;
  dst: FieldLayout;
  sport: FieldLayout;
  dport: FieldLayout;
  v6?: { src: FieldLayout; dst: FieldLayout };
}

/**
 * Starts the tracer, or returns why it cannot run (no tracefs, not root, none
 * of the tracepoints on this kernel). Never leaves an instance behind on failure.
 */
export function startEndpointTracer(limits: Partial<RecentEndpointLimits> = {}): EndpointTracer | { unavailable: string } {
  let inst: TracefsInstance;
  try {
    inst = TracefsInstance.create();
  } catch (e) {
    return { unavailable: e instanceof Error ? e.message : String(e) };
  }
  try {
    return setUp(inst, limits);
  } catch (e) {
    inst.close();
    return { unavailable: e instanceof Error ? e.message : String(e) };
  }
}

function setUp(inst: TracefsInstance, limits: Partial<RecentEndpointLimits>): EndpointTracer | { unavailable: string } {
  const table = new RecentEndpoints(limits);
  const tasks = TaskTracker.open(inst);
  if (tasks.missing.length) {
    inst.close();
    return { unavailable: `no ${tasks.missing.join(', ')} on this kernel: exited senders could not be named` };
  }
  const toEpochUs = epochMicrosConverter();
  const counts: EndpointTracerCounts = { read: 0, irq: 0, gone: 0, foreign: 0, unresolved: 0 };
  const ownNs = netns('self');
  type Decode = (buf: Buffer, off: number, len: number, tsNs: number, cpu: number) => void;
  const decoders = new Map<number, Decode>();
  const used: [string, string][] = [];
  let pending: Pending[] = [];
  const memo: Memo[] = [];
  const memoFor = (cpu: number) => (memo[cpu] ??= { rec: Buffer.alloc(256), len: 0, pending: null, entry: null, life: null, gen: -1, skip: false });

  const make = (fmt: EventFormat, l: Layout, protoOf: (buf: Buffer, off: number) => L4Proto | null, v6Of: (buf: Buffer, off: number) => boolean): Decode => {
    const flags = field(fmt, 'common_flags');
    const pidF = field(fmt, 'common_pid');
    return (buf, off, len, tsNs, cpu) => {
      counts.read++;
      if (readInt(buf, off, flags) & IRQ_FLAGS) {
        counts.irq++;
        return;
      }
      const m = memoFor(cpu);
      // Same event as the last one on this CPU (type, and the bytes from common_pid on)?
      if (m.len === len && buf[off] === m.rec[0] && buf[off + 1] === m.rec[1] && buf.compare(m.rec, 4, len, off + 4, off + len) === 0) {
        if (m.pending) {
          m.pending.lastNs = tsNs;
          return;
        }
        if (m.life && tasks.ledger.at(m.life.tid, tsNs) === m.life) {
          if (m.skip) {
            counts.foreign++;
            return;
          }
          if (m.entry && m.gen === table.generation) {
            table.touch(m.entry, toEpochUs(tsNs));
            return;
          }
        }
      }
      const tid = readInt(buf, off, pidF);
      const proto = protoOf(buf, off);
      const sport = readInt(buf, off, l.sport);
      const dport = readInt(buf, off, l.dport);
      if (tid <= 0 || !proto || !sport || !dport) return;
      const v6 = v6Of(buf, off);
      const src = v6 ? l.v6!.src : l.src;
      const dst = v6 ? l.v6!.dst : l.dst;
      const addr = (f: FieldLayout) => (f.size === 16 ? ipv6(buf, off + f.offset) : ipv4(buf, off + f.offset));
      const p: Pending = { cpu, tid, tsNs, lastNs: tsNs, proto, lip: addr(src), lport: sport, rip: addr(dst), rport: dport };
      pending.push(p);
      m.entry = null;
      m.pending = null;
      m.life = null;
      m.skip = false;
      if (len <= m.rec.length) {
        buf.copy(m.rec, 0, off, off + len);
        m.len = len;
        m.pending = p;
      } else m.len = 0;
    };
  };

  const protoByNumber = (f: FieldLayout) => (buf: Buffer, off: number): L4Proto | null => {
    const p = readInt(buf, off, f);
    return p === IPPROTO_UDP ? 'UDP' : p === IPPROTO_TCP ? 'TCP' : null;
  };

  if (inst.hasEvent('fib', 'fib_table_lookup')) {
    const fmt = inst.eventFormat('fib', 'fib_table_lookup');
    const l: Layout = { src: field(fmt, 'src'), dst: field(fmt, 'dst'), sport: field(fmt, 'sport'), dport: field(fmt, 'dport') };
    decoders.set(fmt.id, make(fmt, l, protoByNumber(field(fmt, 'proto')), () => false));
    used.push(['fib', 'fib_table_lookup']);
  }
  if (inst.hasEvent('fib6', 'fib6_table_lookup')) {
    const fmt = inst.eventFormat('fib6', 'fib6_table_lookup');
    const l: Layout = { src: field(fmt, 'src'), dst: field(fmt, 'dst'), sport: field(fmt, 'sport'), dport: field(fmt, 'dport') };
    if (l.src.size !== 16 || l.dst.size !== 16) throw new ProbeError('feature', 'fib6:fib6_table_lookup has no 16-byte src/dst here');
    decoders.set(fmt.id, make(fmt, l, protoByNumber(field(fmt, 'proto')), () => false));
    used.push(['fib6', 'fib6_table_lookup']);
  }
  if (inst.hasEvent('sock', 'inet_sock_set_state')) {
    const fmt = inst.eventFormat('sock', 'inet_sock_set_state');
    const family = field(fmt, 'family');
    const l: Layout = {
      src: field(fmt, 'saddr'),
      dst: field(fmt, 'daddr'),
      sport: field(fmt, 'sport'),
      dport: field(fmt, 'dport'),
      v6: { src: field(fmt, 'saddr_v6'), dst: field(fmt, 'daddr_v6') },
    };
    const AF_INET6 = 10;
    decoders.set(fmt.id, make(fmt, l, protoByNumber(field(fmt, 'protocol')), (buf, off) => readInt(buf, off, family) === AF_INET6));
    used.push(['sock', 'inet_sock_set_state']);
  }
  if (!used.length) {
    inst.close();
    return { unavailable: 'none of fib:fib_table_lookup, fib6:fib6_table_lookup, sock:inet_sock_set_state on this kernel' };
  }

  inst.write('trace_clock', 'mono');
  try {
    inst.write('buffer_size_kb', String(BUFFER_KB));
  } catch {
    /* the default size then; overruns are counted */
  }
  for (const [sys, ev] of used) {
    // Only TCP and UDP, only with both ports known, only in task context: the rest never reaches user space. (On lo
    // most route lookups are the softirq's, for replies, resets and TIME_WAIT: they would fill the buffer.) A kernel
    // that refuses the context test keeps the rest; the decoder checks the same.
    const base = sys === 'sock' ? 'protocol == 6 && sport != 0 && dport != 0' : '(proto == 6 || proto == 17) && sport != 0 && dport != 0';
    for (const filter of [`${base} && !(common_flags & ${IRQ_FLAGS})`, base]) {
      try {
        inst.setFilter(sys, ev, filter);
        break;
      } catch {
        /* the next, simpler filter; or none */
      }
    }
    inst.enable(sys, ev);
  }
  const reader = new RawReader<{ tsNs: number }>(
    inst,
    (buf, off, len, ts, cpu) => {
      decoders.get(buf.readUInt16LE(off))?.(buf, off, len, ts, cpu);
      return undefined;
    },
    { ordered: false },
  );

  /** Who sent each event read: now that this read's task events are in too. */
  const resolve = (last: boolean) => {
    const owners = new Map<Life | number, Owner | null>();
    const foreign = new Set<Life | number>();
    const gone = new Set<Life | number>();
    const later: Pending[] = [];
    for (const p of pending) {
      const life = tasks.ledger.at(p.tid, p.tsNs);
      let owner = owners.get(life ?? p.tid);
      if (owner === undefined) {
        const info = tasks.get(p.tid, p.tsNs);
        if (info.pid < 0 && !p.deferred && !last) {
          // A task forked while this read was under way: its fork, on a CPU read before, comes with the next read.
          p.deferred = true;
          later.push(p);
          continue;
        }
        const ns = tasks.netns(p.tid, p.tsNs);
        owner = info.pid < 0 ? null : ns !== null && ownNs !== null && ns !== ownNs ? null : { pid: info.pid, uid: info.uid, command: info.comm };
        if (info.pid >= 0 && !owner) foreign.add(life ?? p.tid);
        if (owner && !info.live) gone.add(life ?? p.tid);
        owners.set(life ?? p.tid, owner);
      }
      if (!owner) {
        if (!foreign.has(life ?? p.tid)) {
          counts.unresolved++;
          continue;
        }
        counts.foreign++;
        // A foreign task's flood is skipped in the decoder from here on.
        const m = memo[p.cpu]!;
        if (life && m.pending === p) Object.assign(m, { pending: null, life, skip: true });
        continue;
      }
      if (gone.has(life ?? p.tid)) counts.gone++;
      const entry = table.add({ proto: p.proto, localIp: p.lip, localPort: p.lport, remoteIp: p.rip, remotePort: p.rport, timeUs: toEpochUs(p.tsNs), owner });
      if (p.lastNs > p.tsNs) table.touch(entry, toEpochUs(p.lastNs));
      // The CPU whose last event this was keeps its entry, for repeats in the next read.
      const m = memo[p.cpu]!;
      if (m.pending === p) {
        m.pending = null;
        m.life = tasks.ledger.at(p.tid, p.tsNs);
        m.entry = m.life ? entry : null;
        m.gen = table.generation;
      }
    }
    pending = later;
    for (const m of memo) if (m?.pending && !m.pending.deferred) m.pending = null; // dropped (foreign, unresolved): not to be repeated
  };

  let closed = false;
  let lastOverruns = 0;
  /** Losses already marked as a lost span in the table: pages flagged, and (checked once a second) the kernel's count. */
  let markedPages = 0;
  let markedOverruns = 0;
  let polls = 0;
  const poll = (last = false): boolean => {
    if (closed) return false;
    const before = reader.completeUntilNs;
    reader.poll();
    tasks.poll(); // after: the forks of the tasks whose events were just read are in
    resolve(last);
    if (reader.completeUntilNs === before) return false;
    let horizonUs = toEpochUs(reader.completeUntilNs) - COMMIT_MARGIN_US;
    // Not complete past an event left for the next read.
    for (const p of pending) horizonUs = Math.min(horizonUs, toEpochUs(p.tsNs));
    horizonUs = Math.max(horizonUs, table.horizonUs);
    // A page flagged as following overwritten events tells of a loss at no cost; the kernel's per-CPU stats (a file
    // read per CPU) also catch commit overruns, and are read once a second.
    const statsDue = ++polls % 25 === 0;
    const lost = statsDue ? reader.overruns() : markedOverruns;
    if (reader.missedPages > markedPages || lost > markedOverruns) {
      // Overwritten events are the oldest unread ones: from the previous complete read on (a second back, for stats).
      table.markLoss(statsDue ? Math.min(table.horizonUs, horizonUs - 1e6) : table.horizonUs, horizonUs + COMMIT_MARGIN_US);
      markedPages = reader.missedPages;
      markedOverruns = lost;
    }
    table.horizonUs = horizonUs;
    if (statsDue) table.expire(horizonUs);
    if (polls % 750 === 0) toEpochUs.recalibrate(); // every ~30 s: follows a step of the wall clock
    return true;
  };
  return {
    table,
    tracepoints: [...used, ['task', 'task_newtask'], ['task', 'task_rename'], ['sched', 'sched_process_exit']].map(([s, e]) => `${s}:${e}`),
    counts,
    poll,
    overruns: () => (closed ? lastOverruns : (lastOverruns = Math.max(lastOverruns, reader.overruns() + tasks.lost()))),
    close: () => {
      if (closed) return;
      lastOverruns = Math.max(lastOverruns, reader.overruns() + tasks.lost());
      closed = true;
      reader.close();
      inst.close();
    },
  };
}

/** The network namespace of /proc/<pid> ("net:[4026531840]"), or null when it is gone. */
function netns(pid: string): string | null {
  try {
    return readlinkSync(`/proc/${pid}/ns/net`);
  } catch {
    return null;
  }
}
