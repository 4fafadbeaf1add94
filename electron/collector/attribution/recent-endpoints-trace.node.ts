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
// in the kernel or skipped.
//
// Tracepoints are global, /proc's socket tables per network namespace: an
// event from a task of another namespace (a container's, a test namespace's)
// is skipped (`foreign`) when the task is still there to tell; one that had
// exited is kept — its ports rarely meet ours within the table's few seconds.
//
// The task is named as soon as its event is read: pid (tgid) and real uid from
// /proc, or, when the task has already exited, its pid from the instance's
// record-tgid (saved_tgids), uid -1 (unknown), counted in `gone`, and its comm
// from sched:sched_process_exit (the comm it died with; saved_cmdlines, which
// the kernel fills at context switches, may still hold the name before a
// prctl(PR_SET_NAME)); the exit event may come later in the same poll, so the
// owner is completed in place — lookups run only between polls. A repeat of the previous event on the same CPU (same
// task, same addresses) only updates the entry's time: a UDP flood costs one
// buffer compare per datagram.

import { ProbeError } from '../../shared/probe-error.ts';
import { TracefsInstance } from '../tracefs/instance.node.ts';
import { field, readInt, type EventFormat, type FieldLayout } from '../tracefs/format.ts';
import { RawReader } from '../tracefs/raw-reader.node.ts';
import { TaskCache } from '../tracefs/tasks.node.ts';
import { preciseEpochMicrosConverter } from '../tracefs/clock.node.ts';
import { readlinkSync } from 'node:fs';
import { ipv4, ipv6 } from '../../shared/packet.ts';
import type { L4Proto } from './proc-net.ts';
import type { Owner } from './socket-index.ts';
import { RecentEndpoints, type Entry, type RecentEndpointLimits } from './recent-endpoints.ts';

/** common_flags: hardirq, softirq, NMI (kernel/trace/trace.h TRACE_FLAG_*). */
const IRQ_FLAGS = 0x08 | 0x10 | 0x40;
/** Per-CPU ring buffer, KiB: ~50k events, ~80 ms of a 600k/s UDP flood between two polls. */
const BUFFER_KB = 4096;
const IPPROTO_TCP = 6;
const IPPROTO_UDP = 17;

export interface EndpointTracerCounts {
  /** Events read (all three tracepoints, before the context check). */
  read: number;
  /** Events skipped because they ran in interrupt context. */
  irq: number;
  /** Events whose task had exited when read: pid and comm from tracefs, uid -1. */
  gone: number;
  /** Events of tasks in another network namespace. */
  foreign: number;
}

export interface EndpointTracer {
  readonly table: RecentEndpoints;
  /** The tracepoints in use, as system:event. */
  readonly tracepoints: readonly string[];
  readonly counts: EndpointTracerCounts;
  /** Reads what the kernel has now into the table. Cheap when nothing happened. */
  poll(): void;
  /** Events the kernel lost (ring buffer overwritten), summed over CPUs. */
  overruns(): number;
  close(): void;
}

type Decode = (buf: Buffer, off: number, len: number, tsNs: number, cpu: number) => void;

interface Layout {
  proto?: FieldLayout;
  family?: FieldLayout;
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
  const tasks = new TaskCache(inst.root);
  const toEpochUs = preciseEpochMicrosConverter();
  const counts: EndpointTracerCounts = { read: 0, irq: 0, gone: 0, foreign: 0 };
  const ownNs = netns('self');
  // Tasks that had exited when their event was read (tid → owner, completed by their exit event), and exit comms seen first.
  const gone = new Map<number, Owner>();
  const exitComm = new Map<number, string>();
  // tid → its owner, or null for a task of another network namespace; short-lived (tids are reused), bounded.
  const owners = new Map<number, { owner: Owner | null; at: number }>();
  const ownerOf = (tid: number): Owner | null => {
    const now = Date.now();
    const hit = owners.get(tid);
    if (hit && now - hit.at < 2000) return hit.owner;
    const ns = netns(String(tid));
    const info = tasks.get(tid);
    let owner: Owner | null = { pid: info.pid, uid: info.uid, command: (!info.live && exitComm.get(tid)) || info.comm };
    if (ns !== null && ownNs !== null && ns !== ownNs) owner = null;
    else if (!info.live && owner) {
      if (gone.size >= 8192) gone.clear();
      gone.set(tid, owner);
    }
    if (owners.size >= 8192) owners.clear();
    owners.set(tid, { owner, at: now });
    return owner;
  };
  const decoders = new Map<number, Decode>();
  const used: [string, string][] = [];

  // Per CPU: the previous event's bytes and the entry it went to.
  const memo: { rec: Buffer; len: number; entry: Entry | null; gen: number }[] = [];
  const memoFor = (cpu: number) => (memo[cpu] ??= { rec: Buffer.alloc(256), len: 0, entry: null, gen: -1 });

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
      const timeUs = toEpochUs(tsNs);
      // Same event as the last one on this CPU (bytes after common_flags/preempt_count)?
      if (m.entry && m.gen === table.generation && m.len === len && buf.compare(m.rec, 4, len, off + 4, off + len) === 0 && buf[off] === m.rec[0] && buf[off + 1] === m.rec[1]) {
        table.touch(m.entry, timeUs);
        return;
      }
      const tid = readInt(buf, off, pidF);
      if (tid <= 0) return;
      const proto = protoOf(buf, off);
      if (!proto) return;
      const sport = readInt(buf, off, l.sport);
      const dport = readInt(buf, off, l.dport);
      if (!sport || !dport) return;
      const v6 = v6Of(buf, off);
      const src = v6 ? l.v6!.src : l.src;
      const dst = v6 ? l.v6!.dst : l.dst;
      const addr = (f: FieldLayout) => (f.size === 16 ? ipv6(buf, off + f.offset) : ipv4(buf, off + f.offset));
      const owner = ownerOf(tid);
      if (!owner) {
        counts.foreign++;
        return;
      }
      if (owner.uid < 0) counts.gone++;
      const entry = table.add({ proto, localIp: addr(src), localPort: sport, remoteIp: addr(dst), remotePort: dport, timeUs, owner });
      if (len <= m.rec.length) {
        buf.copy(m.rec, 0, off, off + len);
        m.len = len;
        m.entry = entry;
        m.gen = table.generation;
      } else m.entry = null;
    };
  };

  const protoByNumber = (f: FieldLayout) => (buf: Buffer, off: number): L4Proto | null => {
    const p = readInt(buf, off, f);
    return p === IPPROTO_UDP ? 'UDP' : p === IPPROTO_TCP ? 'TCP' : null;
  };

  if (inst.hasEvent('fib', 'fib_table_lookup')) {
    const fmt = inst.eventFormat('fib', 'fib_table_lookup');
    const l: Layout = { proto: field(fmt, 'proto'), src: field(fmt, 'src'), dst: field(fmt, 'dst'), sport: field(fmt, 'sport'), dport: field(fmt, 'dport') };
    decoders.set(fmt.id, make(fmt, l, protoByNumber(l.proto!), () => false));
    used.push(['fib', 'fib_table_lookup']);
  }
  if (inst.hasEvent('fib6', 'fib6_table_lookup')) {
    const fmt = inst.eventFormat('fib6', 'fib6_table_lookup');
    const l: Layout = { proto: field(fmt, 'proto'), src: field(fmt, 'src'), dst: field(fmt, 'dst'), sport: field(fmt, 'sport'), dport: field(fmt, 'dport') };
    if (l.src.size !== 16 || l.dst.size !== 16) throw new ProbeError('feature', 'fib6:fib6_table_lookup has no 16-byte src/dst here');
    decoders.set(fmt.id, make(fmt, l, protoByNumber(l.proto!), () => false));
    used.push(['fib6', 'fib6_table_lookup']);
  }
  if (inst.hasEvent('sock', 'inet_sock_set_state')) {
    const fmt = inst.eventFormat('sock', 'inet_sock_set_state');
    const family = field(fmt, 'family');
    const protocol = field(fmt, 'protocol');
    const l: Layout = {
      family,
      src: field(fmt, 'saddr'),
      dst: field(fmt, 'daddr'),
      sport: field(fmt, 'sport'),
      dport: field(fmt, 'dport'),
      v6: { src: field(fmt, 'saddr_v6'), dst: field(fmt, 'daddr_v6') },
    };
    const AF_INET6 = 10;
    decoders.set(fmt.id, make(fmt, l, protoByNumber(protocol), (buf, off) => readInt(buf, off, family) === AF_INET6));
    used.push(['sock', 'inet_sock_set_state']);
  }
  if (used.length && inst.hasEvent('sched', 'sched_process_exit')) {
    const fmt = inst.eventFormat('sched', 'sched_process_exit');
    const commF = field(fmt, 'comm');
    const pidF = field(fmt, 'pid');
    decoders.set(fmt.id, (buf, off) => {
      const tid = readInt(buf, off, pidF);
      const raw = buf.subarray(off + commF.offset, off + commF.offset + commF.size);
      const nul = raw.indexOf(0);
      const comm = raw.toString('utf8', 0, nul < 0 ? raw.length : nul);
      const owner = gone.get(tid);
      if (owner) {
        owner.command = comm;
        gone.delete(tid);
      } else {
        if (exitComm.size >= 8192) exitComm.clear();
        exitComm.set(tid, comm);
      }
    });
    used.push(['sched', 'sched_process_exit']);
  }
  if (!used.length) {
    inst.close();
    return { unavailable: 'none of fib:fib_table_lookup, fib6:fib6_table_lookup, sock:inet_sock_set_state on this kernel' };
  }

  inst.write('trace_clock', 'mono');
  inst.write('options/record-tgid', '1');
  try {
    inst.write('buffer_size_kb', String(BUFFER_KB));
  } catch {
    /* the default size then; overruns are counted */
  }
  for (const [sys, ev] of used) {
    if (sys === 'sched') {
      inst.enable(sys, ev);
      continue;
    }
    // Only TCP and UDP, only with both ports known: the rest never reaches user space.
    const filter = sys === 'sock' ? 'protocol == 6 && sport != 0 && dport != 0' : '(proto == 6 || proto == 17) && sport != 0 && dport != 0';
    try {
      inst.setFilter(sys, ev, filter);
    } catch {
      /* unfiltered: the decoder checks the same */
    }
    inst.enable(sys, ev);
  }
  const typeF = { offset: 0 };
  const reader = new RawReader<{ tsNs: number }>(
    inst,
    (buf, off, len, ts, cpu) => {
      decoders.get(buf.readUInt16LE(off + typeF.offset))?.(buf, off, len, ts, cpu);
      return undefined;
    },
    { ordered: false },
  );
  let closed = false;
  let lastOverruns = 0;
  return {
    table,
    tracepoints: used.map(([s, e]) => `${s}:${e}`),
    counts,
    poll: () => {
      if (!closed) reader.poll();
    },
    overruns: () => (closed ? lastOverruns : (lastOverruns = reader.overruns())),
    close: () => {
      if (closed) return;
      lastOverruns = reader.overruns();
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
