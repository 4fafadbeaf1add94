// nettop's engine: packets in, per-interval tables out. It wires the three
// parts — the flow cache (flow-cache.ts), the attributor's one decision
// (attributor.ts) and the interval tables (tables.ts) — and keeps the hold
// queue: packets whose owner cannot be decided yet wait here (bounded, counts
// and up to MAX_HELD_PACKETS one by one) until a rescan or the trace's next
// read decides them. No Node imports: the socket snapshot (a SocketIndex from
// /proc) and the clock are handed in, so unit tests drive it with snapshots
// built from real /proc text.

import type { Owner } from '../../attribution/socket-index.ts';
import { AMBIGUOUS, type EndpointLookup } from '../../attribution/recent-endpoints.ts';
import type { NettopRow } from './definition.ts';
import { Attributor, HOLD_FOR_SCAN, HOLD_TRACE_SILENT, isOwner, KERNEL, UNKNOWN } from '../../attribution/attributor.ts';
import { FlowCache, type CachedFlow, type SocketSnapshot } from '../../attribution/flow-cache.ts';
import { copyFlow, flowKey, type Direction, type FlowTuple } from '../../attribution/flow.ts';
import { IntervalTables, type Acc } from './tables.ts';

export interface EngineLimits {
  /** Flow cache entries. */
  maxFlows: number;
  /** Flows held while waiting for a rescan. */
  maxPending: number;
  /** How long an owner is kept after its socket was last seen. */
  positiveTtlMs: number;
  /** How long a kernel/unknown verdict is kept. */
  negativeTtlMs: number;
}

export const DEFAULT_LIMITS: EngineLimits = { maxFlows: 16384, maxPending: 16384, positiveTtlMs: 5000, negativeTtlMs: 1000 };

export interface EngineOptions {
  /** µs since the epoch at which interval 0 starts. */
  startUs: number;
  intervalUs: number;
  /** Wall clock in ms (Date.now), the same clock as capture timestamps. */
  now: () => number;
  /** Asks for a /proc rescan; the caller rate-limits it and then calls setSnapshot. */
  requestScan: () => void;
  limits?: Partial<EngineLimits>;
  /** Recent endpoints from tracepoints, for sockets /proc no longer shows; none: /proc alone. */
  recent?: EndpointLookup | null;
}

export interface EngineCounts {
  attributed: number;
  kernel: number;
  unknown: number;
  held: number;
  /** Held flows that found the hold queue full and went to unknown at once. */
  holdOverflow: number;
  /** Flows (direction, endpoint, peer) whose owner came from the recent endpoints, /proc not knowing it. */
  traced: number;
  /** Held packets of two processes (a port reused) too many to tell apart one by one: counted unknown. */
  ambiguous: number;
}

/** Peer addresses remembered as asked about; past this the set starts again. */
const MAX_ASKED_ADDRESSES = 4096;

/** Held packets kept one by one (time, bytes) per flow, so a flow whose ports changed hands can be split. */
const MAX_HELD_PACKETS = 16;

interface HeldFlow {
  flow: FlowTuple;
  dir: Direction;
  tcpFlags: number;
  firstUs: number;
  lastUs: number;
  scanAsked: boolean;
  /** Its packets one by one (capture time, interval, device, bytes), while there are at most MAX_HELD_PACKETS; else null. */
  packets: [number, number, string, number][] | null;
  /** Counts by (interval, device); a handful of entries at most. */
  counts: { bucket: number; dev: string; packets: number; bytes: number }[];
}

export class NettopEngine {
  readonly counts: EngineCounts = { attributed: 0, kernel: 0, unknown: 0, held: 0, holdOverflow: 0, traced: 0, ambiguous: 0 };
  private readonly limits: EngineLimits;
  private readonly cache: FlowCache<Acc>;
  private readonly attributor: Attributor<Acc>;
  private readonly tables: IntervalTables;
  private readonly held = new Map<string, HeldFlow>();
  /** True when packets arrived since the last snapshot: the periodic refresh is only worth it then. */
  private busy = false;
  /** Bumped with each snapshot. */
  private snapshots = 0;
  /** Peer addresses that asked for a scan once (elsewhere()), so a remote host costs one scan, not one per packet. */
  private readonly askedAbout = new Set<string>();

  constructor(private readonly opts: EngineOptions) {
    this.limits = { ...DEFAULT_LIMITS, ...opts.limits };
    this.cache = new FlowCache<Acc>(this.limits.maxFlows);
    this.attributor = new Attributor<Acc>(this.cache, this.limits, opts.recent ?? null, this.counts);
    this.tables = new IntervalTables(opts.startUs, opts.intervalUs, this.counts);
  }

  get flowCount(): number {
    return this.cache.size;
  }

  get heldCount(): number {
    return this.held.size;
  }

  /** True if packets were counted since the last snapshot. */
  get active(): boolean {
    return this.busy;
  }

  /**
   * Changes whenever what a flow resolves to, or where it is counted, may have changed (a new snapshot, a flow
   * forgotten, an interval taken): a decision kept by the fast path is valid only within one generation.
   */
  get generation(): number {
    return this.snapshots + this.cache.changes + this.tables.takeCount;
  }

  /**
   * True if ip is another network namespace's (a container's): a packet to or from it is counted on both sides, as on
   * lo. An address the snapshot does not know asks for a scan, once (a namespace made since the last scan is found
   * then; its first packets are counted on this side only).
   */
  elsewhere(ip: string): boolean {
    if (this.attributor.elsewhere(ip)) return true;
    if (!this.askedAbout.has(ip) && this.attributor.unknownAddress(ip)) {
      if (this.askedAbout.size >= MAX_ASKED_ADDRESSES) this.askedAbout.clear();
      this.askedAbout.add(ip);
      this.opts.requestScan();
    }
    return false;
  }

  /** Interval index of a capture time. */
  bucketOf(timeUs: number): number {
    return this.tables.bucketOf(timeUs);
  }

  /** End of interval k, µs since the epoch: its rows' TIME. */
  intervalEnd(k: number): number {
    return this.tables.intervalEnd(k);
  }

  /**
   * A new snapshot of the sockets, whose scan began at startedMs. Refreshes the flow cache (owners of live sockets
   * confirmed, kernel/unknown verdicts re-checked) and retries the held packets.
   */
  setSnapshot(snapshot: SocketSnapshot, startedMs: number): void {
    this.busy = false;
    this.snapshots++;
    this.attributor.setSnapshot(snapshot, startedMs, this.opts.now());
    this.settle();
  }

  /** The recent endpoints took in more events (complete up to a later time): the held packets they can now decide are counted. */
  recentAdvanced(): void {
    this.settle(); // memoised verdicts of the trace carry their own time limit (untilUs): nothing else to redo
  }

  /** The capture and the tracepoints have ended: what they hold is all there is; the held packets are decided with it. */
  recentFinished(): void {
    this.attributor.finishRecent();
    this.settle();
  }

  /** The tracepoints stopped (failed): /proc alone decides from here on, held packets included. */
  dropRecent(): void {
    this.attributor.dropRecent();
    this.settle();
  }

  /**
   * A TCP or UDP packet seen at one local endpoint: the sender's (XMIT) or the receiver's (RECV); `flow` as that
   * endpoint sees it (it is copied if kept, so the caller may reuse it). Returns the decision that counted it — its
   * owner, its validity and the row — or null if the packet was held or is not to be memoised.
   */
  side(timeUs: number, dev: string, dir: Direction, flow: FlowTuple, tcpFlags: number, bytes: number): CachedFlow<Acc> | null {
    this.busy = true;
    const key = flowKey(dir, flow);
    const nowMs = this.opts.now();
    const cached = this.cache.get(key, nowMs, timeUs);
    const decision = cached ?? this.attributor.decide(key, flow, dir, tcpFlags, timeUs, timeUs, nowMs);
    if (isOwner(decision)) {
      decision.acc = this.tables.add(this.tables.bucketOf(timeUs), decision.owner, dev, dir, 1, bytes);
      return decision;
    }
    // AMBIGUOUS (one packet: not expected) waits too. A packet the trace may name waits for it before costing a
    // /proc scan (settle asks for one if it does not).
    this.hold(key, dev, dir, flow, tcpFlags, timeUs, bytes, decision === HOLD_FOR_SCAN);
    return null;
  }

  /** A packet no socket can own (not TCP/UDP: ARP, ICMP, a later fragment; or malformed). */
  kernel(timeUs: number, dev: string, dir: Direction, bytes: number): Acc {
    return this.tables.add(this.tables.bucketOf(timeUs), KERNEL, dev, dir, 1, bytes);
  }

  /** A TCP/UDP packet whose ports could not be read (cut by the snap length). */
  unknown(timeUs: number, dev: string, dir: Direction, bytes: number): Acc {
    return this.tables.add(this.tables.bucketOf(timeUs), UNKNOWN, dev, dir, 1, bytes);
  }

  /** The fast path: one more packet in a row side() returned earlier in this generation. */
  bump(acc: Acc, dir: Direction, bytes: number): void {
    this.busy = true;
    this.tables.count(acc, dir, 1, bytes);
  }

  /** Hands out interval k's table, most packets first, and forgets it. Packets still held are counted in a later interval. */
  takeInterval(k: number): NettopRow[] {
    return this.tables.take(k);
  }

  /** Counts the held packets that can be decided now; asks for another scan if some wait for one. */
  private settle(): void {
    if (!this.attributor.hasSnapshot || !this.held.size) return;
    const nowMs = this.opts.now();
    let again = false;
    for (const [key, held] of this.held) {
      const decision = this.attributor.decide(key, held.flow, held.dir, held.tcpFlags, held.firstUs, held.lastUs, nowMs);
      if (decision === HOLD_FOR_SCAN || decision === HOLD_TRACE_SILENT) again = true;
      if (!isOwner(decision) && decision !== AMBIGUOUS) continue;
      this.held.delete(key);
      if (decision === AMBIGUOUS) this.split(held);
      else for (const c of held.counts) this.tables.add(this.tables.clamp(c.bucket), decision.owner, c.dev, held.dir, c.packets, c.bytes);
    }
    if (again && this.held.size) this.opts.requestScan();
  }

  /**
   * A held flow whose ports two processes used within its span (a port given up and taken again): each packet goes
   * to the owner at its own time — if they were kept one by one; else all are unknown (counted).
   */
  private split(held: HeldFlow): void {
    if (!held.packets) {
      for (const c of held.counts) {
        this.counts.ambiguous += c.packets;
        this.tables.add(this.tables.clamp(c.bucket), UNKNOWN, c.dev, held.dir, c.packets, c.bytes);
      }
      return;
    }
    this.counts.traced++;
    const fallback: Owner = this.attributor.fallback(held.flow, held.dir, held.tcpFlags, held.lastUs);
    for (const [timeUs, bucket, dev, bytes] of held.packets) {
      const owner = this.attributor.ownerAt(held.flow, timeUs) ?? fallback;
      this.tables.add(this.tables.clamp(bucket), owner, dev, held.dir, 1, bytes);
    }
  }

  private hold(key: string, dev: string, dir: Direction, flow: FlowTuple, tcpFlags: number, timeUs: number, bytes: number, scan: boolean): void {
    const bucket = this.tables.bucketOf(timeUs);
    let held = this.held.get(key);
    if (!held) {
      if (this.held.size >= this.limits.maxPending) {
        this.counts.holdOverflow++;
        this.tables.add(bucket, UNKNOWN, dev, dir, 1, bytes); // not a verdict on the flow: not memoised
        return;
      }
      held = { flow: copyFlow(flow), dir, tcpFlags, firstUs: timeUs, lastUs: timeUs, scanAsked: false, packets: [], counts: [] };
      this.held.set(key, held);
    }
    if (timeUs > held.lastUs) held.lastUs = timeUs;
    if (held.packets) {
      if (held.packets.length < MAX_HELD_PACKETS) held.packets.push([timeUs, bucket, dev, bytes]);
      else held.packets = null;
    }
    if (scan && !held.scanAsked) {
      held.scanAsked = true; // once per held flow (settle asks again for those a scan left undecided)
      this.opts.requestScan();
    }
    this.counts.held++;
    const c = held.counts.find((x) => x.bucket === bucket && x.dev === dev);
    if (c) {
      c.packets++;
      c.bytes += bytes;
    } else held.counts.push({ bucket, dev, packets: 1, bytes });
  }
}
