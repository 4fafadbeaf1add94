// Recent local endpoints: which process last used a local (protocol, port) to
// talk to which remote, learnt from tracepoints that run in the sending
// task's context (recent-endpoints-trace.node.ts feeds it). It answers for
// sockets /proc can no longer show: a process that opens a socket, sends and
// exits between two scans. Pure (no Node imports): unit tested without root.
//
// Key: protocol + local port. Each key keeps the last few (local ip, remote ip,
// remote port, pid) it was seen with, each with the time of its first and last
// event. The local ip may be the wildcard: an unconnected UDP socket's route
// lookup runs before source address selection (src 0.0.0.0 or ::).
//
// Complete up to a time: the feeder sets `horizonUs` after each full read of
// the kernel's buffers — every event before it is in. A packet may be looked
// up only once the horizon has passed it by slackUs (ready()); until then the
// event naming its sender may still be unread, and an older entry for the same
// ports (another process, before a reuse) would answer wrongly. Where the
// kernel lost events (ring buffer overrun) the feeder marks the span, and
// lookups of packets in it answer nothing.
//
// Matching the packets of one flow captured from fromUs to toUs (µs since the
// epoch, the capture clock):
//   - only entries with the packet's exact remote (ip, port), whose local ip
//     matches or is a wildcard;
//   - only entries whose first event is no later than fromUs + slackUs (the
//     event precedes its packet; slack covers the conversion between the
//     trace clock and the capture clock) and whose last event is no older
//     than maxAgeUs;
//   - the most recent event before fromUs wins: an entry whose last event is
//     before it scores its last event, one still active scores fromUs, ties go
//     to the later first event. So when an ephemeral port is reused by another
//     process, packets before the reuse stay with the first owner and those
//     after it go to the new one;
//   - if another process's entry for the same flow begins within the packets'
//     span, one answer cannot hold for all of them: AMBIGUOUS (the caller asks
//     again packet by packet, or counts them unknown).
// Bounded: at most maxKeys keys (least recently updated evicted, counted),
// maxPerKey entries per key (oldest dropped, counted); expire() drops entries
// older than maxAgeUs.

import type { L4Proto } from '../core/procfs/proc-net.ts';
import { unmapIpv4, type Owner } from './socket-index.ts';
import type { FlowTuple } from './flow.ts';

export interface EndpointEvent {
  proto: L4Proto;
  /** Local address as packet.ts prints it; "0.0.0.0" or "::" when not yet chosen. */
  localIp: string;
  localPort: number;
  remoteIp: string;
  remotePort: number;
  /** µs since the epoch (converted from the trace clock). */
  timeUs: number;
  owner: Owner;
}

export interface RecentEndpointLimits {
  maxKeys: number;
  maxPerKey: number;
  /** Entries whose last event is older than this are not used, and dropped by expire(). */
  maxAgeUs: number;
  /** How far after a packet an entry's first event may be and still match it. */
  slackUs: number;
}

export const DEFAULT_RECENT_LIMITS: RecentEndpointLimits = { maxKeys: 16384, maxPerKey: 8, maxAgeUs: 5_000_000, slackUs: 1000 };

/** Spans with lost events kept (the oldest go first). */
const MAX_LOSS_SPANS = 64;

export interface RecentEndpointCounts {
  /** Events recorded. */
  events: number;
  /** Entries dropped because the table (keys) or a key's list was full. */
  evicted: number;
  /** Entries dropped because they were older than maxAgeUs. */
  expired: number;
  /** Lookups answered with a process. */
  hits: number;
  /** Lookups not answered because the kernel lost events around the packets' time. */
  lossy: number;
}

export interface Entry {
  lip: string;
  rip: string;
  rport: number;
  owner: Owner;
  firstUs: number;
  lastUs: number;
}

/** lookup()'s answer when two processes used the flow's ports within the packets' span. */
export const AMBIGUOUS = Symbol('ambiguous');

/** What the nettop engine asks of the table. */
export interface EndpointLookup {
  /** True when every event that could name a packet captured at timeUs is in. */
  ready(timeUs: number): boolean;
  /** The latest capture time ready() accepts now. */
  completeUntilUs(): number;
  /** The owner of a flow's packets captured from fromUs to toUs (see above), null, or AMBIGUOUS. */
  lookup(flow: FlowTuple, fromUs: number, toUs: number): Owner | null | typeof AMBIGUOUS;
}

function isWildcard(ip: string): boolean {
  return ip === '0.0.0.0' || ip === '::' || ip === '';
}

export class RecentEndpoints implements EndpointLookup {
  readonly counts: RecentEndpointCounts = { events: 0, evicted: 0, expired: 0, hits: 0, lossy: 0 };
  /** Every event before this time (µs since the epoch) is in; set by the feeder after each full read. */
  horizonUs = -Infinity;
  /** [from, to] spans (µs) in which the kernel lost events. */
  private readonly lossSpans: [number, number][] = [];
  private readonly limits: RecentEndpointLimits;
  private readonly keys = new Map<string, Entry[]>();
  private entries = 0;
  /** Bumped whenever an entry is dropped: an Entry kept by a caller is live only within one generation. */
  generation = 0;

  constructor(limits: Partial<RecentEndpointLimits> = {}) {
    this.limits = { ...DEFAULT_RECENT_LIMITS, ...limits };
  }

  get size(): number {
    return this.entries;
  }

  /**
   * Records one event; returns its entry, which the caller may keep to record
   * repeats of the same event cheaply (touch()).
   */
  add(e: EndpointEvent): Entry {
    this.counts.events++;
    const key = `${e.proto}|${e.localPort}`;
    const lip = unmapIpv4(e.localIp);
    const rip = unmapIpv4(e.remoteIp);
    let list = this.keys.get(key);
    if (list) {
      // Most recently updated key last in the Map: the eviction order.
      this.keys.delete(key);
      this.keys.set(key, list);
      for (let i = list.length - 1; i >= 0; i--) {
        const x = list[i]!;
        if (x.owner.pid === e.owner.pid && x.rport === e.remotePort && x.rip === rip && (x.lip === lip || isWildcard(lip))) {
          if (e.timeUs > x.lastUs) x.lastUs = e.timeUs;
          if (e.timeUs < x.firstUs) x.firstUs = e.timeUs;
          if (x.owner !== e.owner && e.owner.uid >= 0) x.owner = e.owner; // a later read may know more (uid)
          if (isWildcard(x.lip) && !isWildcard(lip)) x.lip = lip;
          return x;
        }
      }
    } else {
      if (this.keys.size >= this.limits.maxKeys) {
        const oldest = this.keys.keys().next();
        if (!oldest.done) {
          const dropped = this.keys.get(oldest.value)!;
          this.keys.delete(oldest.value);
          this.entries -= dropped.length;
          this.counts.evicted += dropped.length;
          this.generation++;
        }
      }
      list = [];
      this.keys.set(key, list);
    }
    if (list.length >= this.limits.maxPerKey) {
      // Drop the entry with the oldest last event.
      let k = 0;
      for (let i = 1; i < list.length; i++) if (list[i]!.lastUs < list[k]!.lastUs) k = i;
      list.splice(k, 1);
      this.entries--;
      this.counts.evicted++;
      this.generation++;
    }
    const entry: Entry = { lip, rip, rport: e.remotePort, owner: e.owner, firstUs: e.timeUs, lastUs: e.timeUs };
    list.push(entry);
    this.entries++;
    return entry;
  }

  /** The same event again at timeUs (an entry add() returned). */
  touch(entry: Entry, timeUs: number): void {
    this.counts.events++;
    if (timeUs > entry.lastUs) entry.lastUs = timeUs;
  }

  ready(timeUs: number): boolean {
    return timeUs <= this.completeUntilUs();
  }

  completeUntilUs(): number {
    return this.horizonUs - this.limits.slackUs;
  }

  /** Events were lost between these times (µs): packets then are not answered. */
  markLoss(fromUs: number, toUs: number): void {
    const last = this.lossSpans[this.lossSpans.length - 1];
    if (last && fromUs <= last[1]) last[1] = Math.max(last[1], toUs);
    else this.lossSpans.push([fromUs, toUs]);
    if (this.lossSpans.length > MAX_LOSS_SPANS) this.lossSpans.shift();
  }

  lookup(flow: FlowTuple, fromUs: number, toUs: number): Owner | null | typeof AMBIGUOUS {
    const list = this.keys.get(`${flow.proto}|${flow.localPort}`);
    if (!list) return null;
    const remotePort = flow.remotePort;
    const lip = unmapIpv4(flow.localIp);
    const rip = unmapIpv4(flow.remoteIp);
    const { slackUs, maxAgeUs } = this.limits;
    const sameFlow = (x: Entry) => x.rport === remotePort && x.rip === rip && (isWildcard(x.lip) || x.lip === lip);
    let best: Entry | null = null;
    let bestScore = -Infinity;
    for (const x of list) {
      if (!sameFlow(x) || x.firstUs > fromUs + slackUs || fromUs - x.lastUs > maxAgeUs) continue;
      const score = Math.min(x.lastUs, fromUs);
      if (!best || score > bestScore || (score === bestScore && x.firstUs > best.firstUs)) {
        best = x;
        bestScore = score;
      }
    }
    if (!best) return null;
    for (const x of list) {
      if (x.owner.pid !== best.owner.pid && sameFlow(x) && x.firstUs > fromUs + slackUs && x.firstUs <= toUs + slackUs) return AMBIGUOUS;
    }
    for (const [a, b] of this.lossSpans) {
      if (a <= toUs + slackUs && fromUs - slackUs <= b) {
        this.counts.lossy++;
        return null;
      }
    }
    this.counts.hits++;
    return best.owner;
  }

  /** Drops entries whose last event is older than maxAgeUs before nowUs. */
  expire(nowUs: number): void {
    const limit = nowUs - this.limits.maxAgeUs;
    for (const [key, list] of this.keys) {
      let w = 0;
      for (const x of list) {
        if (x.lastUs >= limit) list[w++] = x;
      }
      const dropped = list.length - w;
      if (dropped) {
        list.length = w;
        this.entries -= dropped;
        this.counts.expired += dropped;
        this.generation++;
        if (!w) this.keys.delete(key);
      }
    }
  }
}
