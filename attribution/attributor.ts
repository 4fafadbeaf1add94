// The attribution decision, written once (nettop per interval, tcpdump per packet): who owns a flow's packets
// captured from fromUs to toUs at one local endpoint, or why they must wait.
// The engine asks it for a new packet and again for each held flow.
//
//   1. the latest socket snapshot (/proc): a process there decides it;
//   2. else, once the recent endpoints (tracepoints in the sending task's
//      context, attribution/recent-endpoints.ts) are complete up to the
//      packets (ready) and the snapshot is newer than them (final): the
//      verdict — kernel (PID 0: a closed port, forwarded traffic) or unknown
//      (PID -1: a socket no process held, or one already gone) — unless the
//      recent endpoints name the process that last used the ports;
//   3. a sent packet or a received TCP segment asks the recent endpoints
//      without waiting for a rescan; a received datagram only after /proc
//      confirmed no socket holds its port (waitsForProc);
//   4. otherwise the packets are held: for a rescan (the snapshot is older than
//      them), for the trace to be read further, or — the trace read and silent
//      — for a rescan after the trace's next read.
// An owner named by the recent endpoints holds only for packets captured up to
// where they were complete then (a later packet may be another process's,
// reusing the ports). Every decided owner is remembered in the flow cache and
// returned as its entry: the owner with its validity. Pure.

import type { Owner, Resolution } from './socket-index.ts';
import { AMBIGUOUS, type EndpointLookup } from './recent-endpoints.ts';
import type { L4Proto } from '../core/procfs/proc-net.ts';
import { TcpFlag } from '../core/packet.ts';
import { KERNEL, UNKNOWN } from './owner.ts';
import type { CachedFlow, FlowCache, SocketSnapshot } from './flow-cache.ts';
import { RECV, type Direction, type FlowTuple } from './flow.ts';

export { KERNEL, UNKNOWN };

/** Held: the snapshot is older than the packets; a rescan decides them. */
export const HOLD_FOR_SCAN = 'hold for scan';
/** Held: the recent endpoints are not yet read up to the packets (or, the snapshot being newer, only they can still name them). */
export const HOLD_FOR_TRACE = 'hold for trace';
/** Held: the recent endpoints are read up to the packets and do not name them; a rescan after their next read decides. */
export const HOLD_TRACE_SILENT = 'hold, trace silent';
export type Hold = typeof HOLD_FOR_SCAN | typeof HOLD_FOR_TRACE | typeof HOLD_TRACE_SILENT;

/** The owner with its validity (the flow cache's entry), a reason to hold, or two owners within the span. */
export type Decision<Slot = unknown> = CachedFlow<Slot> | Hold | typeof AMBIGUOUS;

export function isOwner<Slot>(decision: Decision<Slot>): decision is CachedFlow<Slot> {
  return typeof decision === 'object';
}

export interface AttributorLimits {
  /** How long an owner is kept after its socket was last seen. */
  positiveTtlMs: number;
  /** How long a kernel/unknown verdict is kept. */
  negativeTtlMs: number;
}

const ABSENT: Resolution = Object.freeze({ kind: 'absent' });

/** Slot: what a caller keeps with each decided flow (nettop: the row it was counted in). */
export class Attributor<Slot = unknown> {
  private snapshot: SocketSnapshot | null = null;
  private snapshotUs = -Infinity;
  /** The recent endpoints, until they fail (then /proc alone). A field of ours: the caller's options are not touched. */
  private recent: EndpointLookup | null;
  /** Set at the end: the recent endpoints will not be read again, what they hold is all there is. */
  private recentDone = false;

  constructor(
    private readonly cache: FlowCache<Slot>,
    private readonly limits: AttributorLimits,
    recent: EndpointLookup | null,
    /** Flows whose owner came from the recent endpoints, /proc not knowing it. */
    private readonly counts: { traced: number },
  ) {
    this.recent = recent;
  }

  get hasSnapshot(): boolean {
    return this.snapshot !== null;
  }

  /** A new snapshot of the sockets, whose scan began at startedMs: the flow cache is refreshed with it. */
  setSnapshot(snapshot: SocketSnapshot, startedMs: number, nowMs: number): void {
    this.snapshot = snapshot;
    this.snapshotUs = startedMs * 1000;
    this.cache.refresh(snapshot, nowMs, this.limits.positiveTtlMs);
  }

  /** True if ip is another network namespace's, whose sockets the snapshot holds: a packet to or from it has a second local side. */
  elsewhere(ip: string): boolean {
    return this.snapshot?.elsewhere?.(ip) ?? false;
  }

  /** True if the snapshot knows namespaces and ip is none of theirs: a remote host, or a namespace made since the scan. */
  unknownAddress(ip: string): boolean {
    return this.snapshot?.knows ? !this.snapshot.knows(ip) : false;
  }

  finishRecent(): void {
    this.recentDone = true;
  }

  dropRecent(): void {
    this.recent = null;
  }

  /** The one decision: the packets of `flow` captured from fromUs to toUs (tcpFlags of the first), at wall time nowMs. */
  decide(key: string, flow: FlowTuple, dir: Direction, tcpFlags: number, fromUs: number, toUs: number, nowMs: number): Decision<Slot> {
    const incoming = dir === RECV;
    const resolution = this.snapshot ? this.snapshot.resolve(flow, incoming) : ABSENT;
    if (resolution.kind === 'process') {
      return this.cache.remember(key, flow, incoming, resolution.owner, resolution.inode, nowMs + this.limits.positiveTtlMs, Infinity);
    }
    const recent = this.recent;
    const ready = !recent || this.recentDone || recent.ready(toUs);
    const final = this.snapshotUs > fromUs;
    if (ready && final) return this.verdictOrTraced(key, flow, incoming, resolution, tcpFlags, fromUs, toUs, nowMs);
    if (ready && recent && !waitsForProc(flow.proto, incoming)) return this.namedByTrace(key, flow, incoming, fromUs, toUs, nowMs) ?? HOLD_TRACE_SILENT;
    if (!final && (!recent || waitsForProc(flow.proto, incoming))) return HOLD_FOR_SCAN;
    return HOLD_FOR_TRACE;
  }

  /** The final verdict, which a snapshot newer than the packets gives no process: kernel or unknown, unless the trace names one. */
  private verdictOrTraced(key: string, flow: FlowTuple, incoming: boolean, resolution: Resolution, tcpFlags: number, fromUs: number, toUs: number, nowMs: number): Decision<Slot> {
    const target = verdict(resolution, flow.proto, tcpFlags, incoming);
    const recent = this.recent;
    const negativeUntilMs = nowMs + this.limits.negativeTtlMs;
    if (recent && (target === UNKNOWN || (flow.proto === 'UDP' && incoming && resolution.kind === 'absent'))) {
      const named = this.namedByTrace(key, flow, incoming, fromUs, toUs, nowMs);
      if (named) return named; // AMBIGUOUS is not remembered: the flow's next packets are asked again
      // Unknown may yet be named by a later event (a process reusing the ports): valid only as far as the trace is read.
      if (target === UNKNOWN) return this.cache.remember(key, flow, incoming, target, 0, negativeUntilMs, recent.completeUntilUs());
    }
    return this.cache.remember(key, flow, incoming, target, 0, negativeUntilMs, Infinity);
  }

  /** The owner as the recent endpoints name it (remembered), AMBIGUOUS, or null if they do not. */
  private namedByTrace(key: string, flow: FlowTuple, incoming: boolean, fromUs: number, toUs: number, nowMs: number): CachedFlow<Slot> | typeof AMBIGUOUS | null {
    const recent = this.recent!;
    const owner = recent.lookup(flow, fromUs, toUs);
    if (!owner || owner === AMBIGUOUS) return owner;
    this.counts.traced++;
    return this.cache.remember(key, flow, incoming, owner, 0, nowMs + this.limits.negativeTtlMs, recent.completeUntilUs());
  }

  /** For a flow found AMBIGUOUS: the owner of its one packet captured at timeUs, by the recent endpoints, or null. */
  ownerAt(flow: FlowTuple, timeUs: number): Owner | null {
    const owner = this.recent?.lookup(flow, timeUs, timeUs) ?? null;
    return owner === AMBIGUOUS ? null : owner;
  }

  /** For a flow found AMBIGUOUS: where its packets go that no one is named for (the verdict once final, else unknown). */
  fallback(flow: FlowTuple, dir: Direction, tcpFlags: number, lastUs: number): Owner {
    if (!this.snapshot || this.snapshotUs <= lastUs) return UNKNOWN;
    const incoming = dir === RECV;
    return verdict(this.snapshot.resolve(flow, incoming), flow.proto, tcpFlags, incoming);
  }
}

/**
 * True if the recent endpoints may name a packet only after /proc showed no socket for it: a datagram received on a
 * UDP port is its current holder's, who may never have sent from it. A sent packet is its sender's, and a TCP
 * connection's 4-tuple is one socket's (not reused for a second after it closes, TIME_WAIT).
 */
function waitsForProc(proto: L4Proto, incoming: boolean): boolean {
  return incoming && proto === 'UDP';
}

/** Where a packet goes when a snapshot newer than it has no process for its endpoint. */
export function verdict(resolution: Resolution, proto: L4Proto, tcpFlags: number, incoming: boolean): Owner {
  switch (resolution.kind) {
    case 'process':
      return resolution.owner;
    case 'foreign':
      return KERNEL; // forwarded, or not addressed to us
    case 'orphan':
      return UNKNOWN; // a socket was there, its process let go before we looked
    case 'absent':
      if (proto === 'UDP') return incoming ? KERNEL : UNKNOWN; // a datagram for a closed port / sent from a socket already gone
      if (tcpFlags & TcpFlag.RST) return KERNEL; // resets: the kernel's answer to a closed port or a dead connection
      if (incoming && (tcpFlags & (TcpFlag.SYN | TcpFlag.ACK)) === TcpFlag.SYN) return KERNEL; // a SYN to a port nobody listens on
      return UNKNOWN;
  }
}
