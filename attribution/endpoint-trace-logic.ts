// The endpoint tracer's logic, pure (no Node imports) so it is unit tested on
// recorded pages: decoding fib:fib_table_lookup, fib6:fib6_table_lookup and
// sock:inet_sock_set_state records into endpoint events, the per-CPU dedup of
// repeats, resolving each event's task to its process once the task events of
// the same read are in, and after each complete read the table's horizon and
// the spans marked lost. recent-endpoints-trace.node.ts wires it to tracefs.
//
// Only events in task context are used: softirq, hardirq and NMI events
// (common_flags) run in whatever task the CPU was in. An event whose process
// cannot be told is dropped (`unresolved`); one of a task in another network
// namespace is skipped (`foreign`) when the task is still there to tell. A
// repeat of the previous event on the same CPU (same task, same addresses) only
// updates its entry's time: a UDP flood costs one buffer compare per datagram.

import { ProbeError } from '../core/probe-error.ts';
import { field, readInt, type EventFormat, type FieldLayout } from '../core/tracefs/format.ts';
import type { Life } from '../core/tracefs/task-ledger.ts';
import { ipv4, ipv6 } from '../core/packet.ts';
import type { L4Proto } from '../core/procfs/proc-net.ts';
import type { Owner } from './socket-index.ts';
import { IRQ_FLAGS } from '../core/tracefs/common-flags.ts';
import type { TaskOwner } from '../core/tracefs/task-ledger.ts';
import type { Entry, RecentEndpoints } from './recent-endpoints.ts';

/** An event stamped before a read began may be committed just after that CPU was read: the horizon keeps this margin (µs). */
export const COMMIT_MARGIN_US = 2000;
/** Reads between two recalibrations of the trace-to-epoch clock (~30 s at a read every 40 ms). */
const RECALIBRATE_EVERY = 750;
const IPPROTO_TCP = 6;
const IPPROTO_UDP = 17;
const AF_INET6 = 10;
/** The previous record kept per CPU for the dedup compare: longer ones are not deduplicated. */
const MEMO_BYTES = 256;

/** The endpoint tracepoints, with their kernel filters (only TCP and UDP, both ports known). */
export const ENDPOINT_EVENTS = [
  { system: 'fib', event: 'fib_table_lookup', filter: '(proto == 6 || proto == 17) && sport != 0 && dport != 0' },
  { system: 'fib6', event: 'fib6_table_lookup', filter: '(proto == 6 || proto == 17) && sport != 0 && dport != 0' },
  { system: 'sock', event: 'inet_sock_set_state', filter: 'protocol == 6 && sport != 0 && dport != 0' },
] as const;

/** The kernel filters to try on an event, the first the kernel takes: with the task-context test, then without. */
export function endpointFilters(base: string): string[] {
  return [`${base} && !(common_flags & ${IRQ_FLAGS})`, base];
}

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

/** Who a task was: what kernel/tracefs/tasks.node.ts's TaskTracker answers. */
export interface TaskResolver {
  /** The life of thread `tid` at trace time `tsNs`, or null. */
  lifeAt(tid: number, tsNs: number): Life | null;
  /** Its process (pid -1 when it cannot be told), uid, command, and whether it still lives. */
  get(tid: number, tsNs: number): TaskOwner;
  /** Its network namespace ("net:[…]"), or null when it had exited unasked. */
  netns(tid: number, tsNs: number): string | null;
  /** The name of a live process's cgroup (kernel/procfs/cgroup.node.ts); absent: not named. */
  cgroup?(pid: number): string;
}

/** The trace clock (mono ns) to µs since the epoch. */
export interface EpochClock {
  (tsNs: number): number;
  recalibrate(): void;
}

/** One endpoint event read but not yet resolved to a process (and its repeats on the same CPU). */
export interface PendingEvent {
  /** The CPU it was read from: its memo may point at it. */
  cpu: number;
  tid: number;
  tsNs: number;
  lastNs: number;
  proto: L4Proto;
  localIp: string;
  localPort: number;
  remoteIp: string;
  remotePort: number;
  /** Its process could not be told at the last read: asked once more at the next (its fork may come then). */
  deferred?: boolean;
}

/** Per CPU: the previous endpoint event's bytes, and what became of it. */
interface Memo {
  record: Buffer;
  length: number;
  /** This read's record, until it is resolved. */
  pending: PendingEvent | null;
  /** Its table entry once resolved (valid within one table generation, for the same life of its task), or null. */
  entry: Entry | null;
  life: Life | null;
  generation: number;
  /** Resolved to no owner (another namespace's task): its repeats, from the same life, are skipped too. */
  skip: boolean;
}

interface AddressLayout {
  src: FieldLayout;
  dst: FieldLayout;
  sport: FieldLayout;
  dport: FieldLayout;
  v6?: { src: FieldLayout; dst: FieldLayout };
}

/** What a read told about losses: pages flagged as following overwritten events, and the kernel's count. */
export interface ReadLosses {
  missedPages: number;
  /** The kernel's overrun count, when its stats were read since the last complete read; else undefined. */
  statsOverruns?: number;
}

export type EndpointDecode = (buf: Buffer, offset: number, length: number, tsNs: number, cpu: number) => void;

export class EndpointTraceLogic {
  readonly counts: EndpointTracerCounts = { read: 0, irq: 0, gone: 0, foreign: 0, unresolved: 0 };
  /** Events read and not resolved yet. */
  pending: PendingEvent[] = [];
  private readonly memo: Memo[] = [];
  private completeReads = 0;
  /** Losses already marked as a lost span in the table: pages flagged, and (checked once a second) the kernel's count. */
  private markedPages = 0;
  private markedOverruns = 0;

  constructor(
    private readonly table: RecentEndpoints,
    private readonly tasks: TaskResolver,
    private readonly toEpochUs: EpochClock,
    /** This process's network namespace, or null when unknown (then nothing is foreign). */
    private readonly ownNetns: string | null,
  ) {}

  /** The decoder for one of ENDPOINT_EVENTS, from its format. */
  decoder(system: string, format: EventFormat): EndpointDecode {
    const protoOf = protoByNumber(field(format, system === 'sock' ? 'protocol' : 'proto'));
    if (system === 'sock') {
      const family = field(format, 'family');
      const layout: AddressLayout = {
        src: field(format, 'saddr'),
        dst: field(format, 'daddr'),
        sport: field(format, 'sport'),
        dport: field(format, 'dport'),
        v6: { src: field(format, 'saddr_v6'), dst: field(format, 'daddr_v6') },
      };
      return this.make(format, layout, protoOf, (buf, off) => readInt(buf, off, family) === AF_INET6);
    }
    const layout: AddressLayout = { src: field(format, 'src'), dst: field(format, 'dst'), sport: field(format, 'sport'), dport: field(format, 'dport') };
    if (system === 'fib6' && (layout.src.size !== 16 || layout.dst.size !== 16)) {
      throw new ProbeError('feature', 'fib6:fib6_table_lookup has no 16-byte src/dst here');
    }
    return this.make(format, layout, protoOf, () => false);
  }

  private memoFor(cpu: number): Memo {
    return (this.memo[cpu] ??= { record: Buffer.alloc(MEMO_BYTES), length: 0, pending: null, entry: null, life: null, generation: -1, skip: false });
  }

  private make(format: EventFormat, layout: AddressLayout, protoOf: (buf: Buffer, off: number) => L4Proto | null, isV6: (buf: Buffer, off: number) => boolean): EndpointDecode {
    const flagsF = field(format, 'common_flags');
    const pidF = field(format, 'common_pid');
    const { counts, table, tasks, toEpochUs } = this;
    return (buf, off, len, tsNs, cpu) => {
      counts.read++;
      if (readInt(buf, off, flagsF) & IRQ_FLAGS) {
        counts.irq++;
        return;
      }
      const memo = this.memoFor(cpu);
      // Same event as the last one on this CPU (type, and the bytes from common_pid on)?
      if (memo.length === len && buf[off] === memo.record[0] && buf[off + 1] === memo.record[1] && buf.compare(memo.record, 4, len, off + 4, off + len) === 0) {
        if (memo.pending) {
          memo.pending.lastNs = tsNs;
          return;
        }
        if (memo.life && tasks.lifeAt(memo.life.tid, tsNs) === memo.life) {
          if (memo.skip) {
            counts.foreign++;
            return;
          }
          if (memo.entry && memo.generation === table.generation) {
            table.touch(memo.entry, toEpochUs(tsNs));
            return;
          }
        }
      }
      const tid = readInt(buf, off, pidF);
      const proto = protoOf(buf, off);
      const sport = readInt(buf, off, layout.sport);
      const dport = readInt(buf, off, layout.dport);
      if (tid <= 0 || !proto || !sport || !dport) return;
      const v6 = isV6(buf, off);
      const src = v6 ? layout.v6!.src : layout.src;
      const dst = v6 ? layout.v6!.dst : layout.dst;
      const addr = (f: FieldLayout) => (f.size === 16 ? ipv6(buf, off + f.offset) : ipv4(buf, off + f.offset));
      const event: PendingEvent = { cpu, tid, tsNs, lastNs: tsNs, proto, localIp: addr(src), localPort: sport, remoteIp: addr(dst), remotePort: dport };
      this.pending.push(event);
      memo.entry = null;
      memo.pending = null;
      memo.life = null;
      memo.skip = false;
      if (len <= memo.record.length) {
        buf.copy(memo.record, 0, off, off + len);
        memo.length = len;
        memo.pending = event;
      } else memo.length = 0;
    };
  }

  /**
   * Who sent each event read: call once this read's task events are in too. `last`: no read follows, so nothing is
   * deferred.
   */
  resolve(last: boolean): void {
    const { counts, table, tasks, toEpochUs, memo } = this;
    const owners = new Map<Life | number, Owner | null>();
    const foreign = new Set<Life | number>();
    const gone = new Set<Life | number>();
    const later: PendingEvent[] = [];
    for (const event of this.pending) {
      const life = tasks.lifeAt(event.tid, event.tsNs);
      const key = life ?? event.tid;
      let owner = owners.get(key);
      if (owner === undefined) {
        const info = tasks.get(event.tid, event.tsNs);
        if (info.pid < 0 && !event.deferred && !last) {
          // A task forked while this read was under way: its fork, on a CPU read before, comes with the next read.
          event.deferred = true;
          later.push(event);
          continue;
        }
        const ns = tasks.netns(event.tid, event.tsNs);
        const elsewhere = ns !== null && this.ownNetns !== null && ns !== this.ownNetns;
        owner = info.pid < 0 || elsewhere ? null : { pid: info.pid, uid: info.uid, command: info.command, ...(info.live && tasks.cgroup ? { cgroup: tasks.cgroup(info.pid) } : {}) };
        if (info.pid >= 0 && !owner) foreign.add(key);
        if (owner && !info.live) gone.add(key);
        owners.set(key, owner);
      }
      if (!owner) {
        if (!foreign.has(key)) {
          counts.unresolved++;
          continue;
        }
        counts.foreign++;
        // A foreign task's flood is skipped in the decoder from here on.
        const cpuMemo = memo[event.cpu]!;
        if (life && cpuMemo.pending === event) Object.assign(cpuMemo, { pending: null, life, skip: true });
        continue;
      }
      if (gone.has(key)) counts.gone++;
      const entry = table.add({
        proto: event.proto,
        localIp: event.localIp,
        localPort: event.localPort,
        remoteIp: event.remoteIp,
        remotePort: event.remotePort,
        timeUs: toEpochUs(event.tsNs),
        owner,
      });
      if (event.lastNs > event.tsNs) table.touch(entry, toEpochUs(event.lastNs));
      // The CPU whose last event this was keeps its entry, for repeats in the next read.
      const cpuMemo = memo[event.cpu]!;
      if (cpuMemo.pending === event) {
        cpuMemo.pending = null;
        cpuMemo.life = tasks.lifeAt(event.tid, event.tsNs);
        cpuMemo.entry = cpuMemo.life ? entry : null;
        cpuMemo.generation = table.generation;
      }
    }
    this.pending = later;
    for (const cpuMemo of memo) if (cpuMemo?.pending && !cpuMemo.pending.deferred) cpuMemo.pending = null; // dropped (foreign, unresolved): not to be repeated
  }

  /**
   * After a read that emptied every buffer (complete up to `completeUntilNs`, trace clock): moves the table's
   * horizon, less the commit margin and not past an event left for the next read, and marks the span since the
   * previous complete read lost when the kernel overwrote events (a second back when the loss is known from the
   * stats, read once a second). Expires old entries when the stats were read (once a second).
   */
  completeRead(completeUntilNs: number, losses: ReadLosses): void {
    const { table, toEpochUs } = this;
    let horizonUs = toEpochUs(completeUntilNs) - COMMIT_MARGIN_US;
    for (const event of this.pending) horizonUs = Math.min(horizonUs, toEpochUs(event.tsNs));
    horizonUs = Math.max(horizonUs, table.horizonUs);
    const statsRead = losses.statsOverruns !== undefined;
    const lost = losses.statsOverruns ?? this.markedOverruns;
    if (losses.missedPages > this.markedPages || lost > this.markedOverruns) {
      // Overwritten events are the oldest unread ones: from the previous complete read on (a second back, for stats).
      table.markLoss(statsRead ? Math.min(table.horizonUs, horizonUs - 1e6) : table.horizonUs, horizonUs + COMMIT_MARGIN_US);
      this.markedPages = losses.missedPages;
      this.markedOverruns = lost;
    }
    table.horizonUs = horizonUs;
    if (statsRead) table.expire(horizonUs);
    if (++this.completeReads % RECALIBRATE_EVERY === 0) toEpochUs.recalibrate(); // follows a step of the wall clock
  }
}

function protoByNumber(protoField: FieldLayout): (buf: Buffer, off: number) => L4Proto | null {
  return (buf, off) => {
    const proto = readInt(buf, off, protoField);
    return proto === IPPROTO_UDP ? 'UDP' : proto === IPPROTO_TCP ? 'TCP' : null;
  };
}
