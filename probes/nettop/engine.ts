// nettop's pure core: packets in, per-interval tables out. No Node imports:
// the socket snapshot (a SocketIndex from /proc) and the clock are handed in,
// so the unit tests drive it with snapshots built from real /proc text.
//
// Per packet side (a sent or received packet at one local endpoint):
//   1. the flow cache, keyed by direction + protocol + local (ip, port) +
//      remote (ip, port): one Map lookup per packet, no /proc access;
//   2. on a miss, the latest socket snapshot;
//   3. if the snapshot does not know the endpoint and is OLDER than the packet,
//      the packet is held (bounded, counts only) and a rescan is requested;
//      after the rescan it is retried, so a socket that appeared after the last
//      scan is still attributed, even if it is closed again soon after. If the
//      snapshot is newer than the packet, the verdict is final:
//        kernel  (PID 0)  no socket there: a closed port (an incoming UDP
//                         datagram, a SYN, a RST), forwarded traffic
//        unknown (PID -1) a socket was there but no process held it any more,
//                         or a process sent from a socket already gone.
//   4. where step 3 would say "unknown" — or a datagram came in for a UDP port
//      no socket holds — the recent endpoints seen by tracepoints in the
//      sending task's context (attribution/recent-endpoints.ts): the process
//      that last used that local port with that peer before the packet. They
//      are asked only once they are complete up to the packet's time (every
//      event before it read: recent.ready), so a packet waits, held, for the
//      next read of the trace; a sent packet or a received TCP segment asks
//      them without waiting for the rescan, a received datagram only after it
//      confirmed no socket holds its port (waitsForProc). An
//      owner found so holds for the flow's packets up to the time the
//      endpoints were complete then (a later packet may be another process's,
//      reusing the ports), and is re-checked against each snapshot, where
//      /proc wins when it knows the socket.
//   Cached entries expire: an owner is confirmed at each rescan while its
//   socket exists and forgotten POSITIVE_TTL after it is gone (so the FIN and
//   the last ACKs of a closed connection still go to its process); verdicts of
//   kernel/unknown last NEGATIVE_TTL. Every table is bounded.
//
// Intervals: packets are counted in the interval their capture timestamp falls
// in. Interval k ends at startUs + (k + 1) * intervalUs; the source takes it a
// little after that (packets reach us up to ~20 ms late), so a packet sent just
// before the boundary is still in the right table. Later stragglers go to the
// next open interval rather than being lost.

import type { L4Proto } from '../../core/procfs/proc-net.ts';
import type { Owner, Resolution } from './attribution/socket-index.ts';
import { AMBIGUOUS, type EndpointLookup } from './attribution/recent-endpoints.ts';
import { KERNEL_COMMAND, KERNEL_PID, UNKNOWN_COMMAND, UNKNOWN_PID, type NettopRow } from './definition.ts';

export const XMIT = 0;
export const RECV = 1;
export type Direction = typeof XMIT | typeof RECV;

export const KERNEL: Owner = Object.freeze({ pid: KERNEL_PID, uid: 0, command: KERNEL_COMMAND });
export const UNKNOWN: Owner = Object.freeze({ pid: UNKNOWN_PID, uid: -1, command: UNKNOWN_COMMAND });

const TCP_SYN = 0x02;
const TCP_RST = 0x04;
const TCP_ACK = 0x10;

/** What the engine needs of a socket snapshot (SocketIndex). */
export interface SocketSnapshot {
  resolve(proto: L4Proto, localIp: string, localPort: number, remoteIp: string, remotePort: number, incoming: boolean): Resolution;
  has(inode: number): boolean;
}

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

/** Held packets kept one by one (time, bytes) per flow, so a flow whose ports changed hands can be split. */
const MAX_HELD_PACKETS = 16;

interface Flow {
  proto: L4Proto;
  lip: string;
  lport: number;
  rip: string;
  rport: number;
  incoming: boolean;
  target: Owner;
  /** The socket that decided it; 0 for kernel/unknown verdicts. */
  inode: number;
  validUntilMs: number;
  /** Decided by the recent endpoints: valid for packets captured up to here (µs), Infinity otherwise. */
  untilUs: number;
}

/** What identifies a flow at one local endpoint, and the TCP flags of its (first) packet. */
type FlowKey = Pick<Flow, 'proto' | 'lip' | 'lport' | 'rip' | 'rport'> & { tcpFlags: number };

interface Held {
  proto: L4Proto;
  lip: string;
  lport: number;
  rip: string;
  rport: number;
  dir: Direction;
  tcpFlags: number;
  firstUs: number;
  lastUs: number;
  scanAsked: boolean;
  /** Its packets one by one (capture time, interval, device, bytes), while there are at most MAX_HELD_PACKETS; else null. */
  packets: [number, number, string, number][] | null;
  /** Counts by (interval, device); a handful of entries at most. */
  counts: { bucket: number; dev: string; pk: number; bytes: number }[];
}

/** One row being counted. Exported for the fast path (fastpath.ts), which bumps it directly. */
export interface Acc {
  pid: number;
  uid: number;
  command: string;
  dev: string;
  xmitPk: number;
  recvPk: number;
  xmitBytes: number;
  recvBytes: number;
}

/** One interval's table: device → pid → counts. */
type Table = Map<string, Map<number, Acc>>;

export class NettopEngine {
  readonly counts: EngineCounts = { attributed: 0, kernel: 0, unknown: 0, held: 0, holdOverflow: 0, traced: 0, ambiguous: 0 };
  private readonly limits: EngineLimits;
  private snapshot: SocketSnapshot | null = null;
  private snapshotUs = -Infinity;
  /** Set at the end: the recent endpoints will not be read again. */
  private recentDone = false;
  private readonly flows = new Map<string, Flow>();
  private readonly held = new Map<string, Held>();
  private readonly tables = new Map<number, Table>();
  /** Index of the last interval handed out by takeInterval. */
  private taken = -1;
  /** True when packets arrived since the last snapshot: the periodic refresh is only worth it then. */
  private busy = false;
  /**
   * Bumped whenever what a flow resolves to, or where it is counted, may have changed (a new snapshot,
   * a flow forgotten, an interval taken): the fast path's memo is valid only within one generation.
   */
  generation = 0;
  /** After side(): the row it counted in, or null if the packet was held; and for packets captured until when (µs). */
  lastAcc: Acc | null = null;
  lastValidUntilUs = 0;

  constructor(private readonly opts: EngineOptions) {
    this.limits = { ...DEFAULT_LIMITS, ...opts.limits };
  }

  get flowCount(): number {
    return this.flows.size;
  }

  get heldCount(): number {
    return this.held.size;
  }

  /** True if packets were counted since the last snapshot. */
  get active(): boolean {
    return this.busy;
  }

  /** Interval index of a capture time. */
  bucketOf(timeUs: number): number {
    return this.clamp(Math.floor((timeUs - this.opts.startUs) / this.opts.intervalUs));
  }

  private clamp(k: number): number {
    // Stragglers go to the oldest open interval; a clock jump forward no further than the next one.
    if (k <= this.taken) return this.taken + 1;
    if (k > this.taken + 2) return this.taken + 2;
    return k;
  }

  /** End of interval k, µs since the epoch: its rows' TIME. */
  intervalEnd(k: number): number {
    return this.opts.startUs + (k + 1) * this.opts.intervalUs;
  }

  /**
   * A new snapshot of the sockets, whose scan began at startedMs. Refreshes the
   * flow cache (owners of live sockets confirmed, kernel/unknown verdicts
   * re-checked) and retries the held packets.
   */
  setSnapshot(snapshot: SocketSnapshot, startedMs: number): void {
    this.snapshot = snapshot;
    this.snapshotUs = startedMs * 1000;
    this.busy = false;
    this.generation++;
    const now = this.opts.now();
    for (const [key, f] of this.flows) {
      if (f.inode && snapshot.has(f.inode)) {
        const r = snapshot.resolve(f.proto, f.lip, f.lport, f.rip, f.rport, f.incoming);
        if (r.kind === 'process' && r.inode === f.inode) f.target = r.owner; // the holder may have changed (exit after fork)
        f.validUntilMs = now + this.limits.positiveTtlMs;
      } else if (!f.inode) {
        const r = snapshot.resolve(f.proto, f.lip, f.lport, f.rip, f.rport, f.incoming);
        if (r.kind === 'process') {
          f.target = r.owner;
          f.inode = r.inode;
          f.validUntilMs = now + this.limits.positiveTtlMs;
          f.untilUs = Infinity;
        }
      }
      if (f.validUntilMs < now) this.flows.delete(key);
    }
    this.settle();
  }

  /**
   * The recent endpoints took in more events (they are complete up to a later time): the held packets they can
   * now decide are counted.
   */
  recentAdvanced(): void {
    this.settle(); // memoised verdicts of the trace carry their own time limit (untilUs): nothing else to redo
  }

  /** The capture and the tracepoints have ended: what they hold is all there is; the held packets are decided with it. */
  recentFinished(): void {
    this.recentDone = true;
    this.settle();
  }

  /** The tracepoints stopped (failed): /proc alone decides from here on, held packets included. */
  dropRecent(): void {
    this.opts.recent = null;
    this.settle();
  }

  /** Counts the held packets that can be decided now; asks for another scan if some wait for one. */
  private settle(): void {
    const snapshot = this.snapshot;
    if (!snapshot || !this.held.size) return;
    const now = this.opts.now();
    const recent = this.opts.recent;
    this.lastAcc = null;
    let again = false;
    for (const [key, h] of this.held) {
      const incoming = h.dir === RECV;
      const r = snapshot.resolve(h.proto, h.lip, h.lport, h.rip, h.rport, incoming);
      let target: Owner | null | typeof AMBIGUOUS = null;
      if (r.kind === 'process') {
        target = r.owner;
        this.remember(key, h, incoming, target, r.inode, now + this.limits.positiveTtlMs, Infinity);
      } else {
        const ready = !recent || this.recentDone || recent.ready(h.lastUs);
        const final = this.snapshotUs > h.firstUs;
        if (ready && final) target = this.decide(key, h, incoming, r, h.firstUs, h.lastUs, now);
        else if (ready && recent && !waitsForProc(h.proto, incoming)) target = this.namedByTrace(key, h, incoming, h.firstUs, h.lastUs, now);
        // Captured after this scan began, and not for the trace to name (or it could not): a later scan decides.
        if (!target && !final && (!recent || ready || waitsForProc(h.proto, incoming))) again = true;
      }
      if (!target) continue;
      this.held.delete(key);
      if (target === AMBIGUOUS) this.split(h, r);
      else for (const c of h.counts) this.add(this.clamp(c.bucket), target, c.dev, h.dir, c.pk, c.bytes);
    }
    if (again && this.held.size) this.opts.requestScan();
  }

  /**
   * A held flow whose ports two processes used within its span (a port given up and taken again): each packet goes
   * to the owner at its own time — if they were kept one by one; else all are unknown (counted).
   */
  private split(h: Held, r: Resolution): void {
    const recent = this.opts.recent!;
    const fallback = this.snapshotUs > h.lastUs ? verdict(r, h.proto, h.tcpFlags, h.dir === RECV) : UNKNOWN;
    if (!h.packets) {
      for (const c of h.counts) {
        this.counts.ambiguous += c.pk;
        this.add(this.clamp(c.bucket), UNKNOWN, c.dev, h.dir, c.pk, c.bytes);
      }
      return;
    }
    this.counts.traced++;
    for (const [t, bucket, dev, bytes] of h.packets) {
      const owner = recent.lookup(h.proto, h.lip, h.lport, h.rip, h.rport, t, t);
      this.add(this.clamp(bucket), owner && owner !== AMBIGUOUS ? owner : fallback, dev, h.dir, 1, bytes);
    }
  }

  /** A TCP or UDP packet, seen at one local endpoint: the sender's (XMIT) or the receiver's (RECV). */
  side(
    timeUs: number,
    dev: string,
    dir: Direction,
    proto: L4Proto,
    localIp: string,
    localPort: number,
    remoteIp: string,
    remotePort: number,
    tcpFlags: number,
    bytes: number,
  ): void {
    this.busy = true;
    this.lastAcc = null;
    const key = `${dir}${proto}${localIp}|${localPort}|${remoteIp}|${remotePort}`;
    const f = this.flows.get(key);
    const now = this.opts.now();
    if (f) {
      if (f.validUntilMs >= now && timeUs <= f.untilUs) {
        this.add(this.bucketOf(timeUs), f.target, dev, dir, 1, bytes);
        this.lastValidUntilUs = Math.min(f.validUntilMs * 1000, f.untilUs);
        return;
      }
      this.flows.delete(key);
      this.generation++;
    }
    const incoming = dir === RECV;
    const r: Resolution = this.snapshot ? this.snapshot.resolve(proto, localIp, localPort, remoteIp, remotePort, incoming) : { kind: 'absent' };
    const flow = { proto, lip: localIp, lport: localPort, rip: remoteIp, rport: remotePort, tcpFlags };
    if (r.kind === 'process') {
      this.remember(key, flow, incoming, r.owner, r.inode, now + this.limits.positiveTtlMs, Infinity);
      this.add(this.bucketOf(timeUs), r.owner, dev, dir, 1, bytes);
      this.lastValidUntilUs = (now + this.limits.positiveTtlMs) * 1000;
      return;
    }
    const recent = this.opts.recent;
    const ready = !recent || recent.ready(timeUs);
    const final = this.snapshotUs > timeUs;
    let target: Owner | null | typeof AMBIGUOUS = null; // one packet: never AMBIGUOUS
    if (ready && final) target = this.decide(key, flow, incoming, r, timeUs, timeUs, now);
    else if (ready && recent && !waitsForProc(proto, incoming)) target = this.namedByTrace(key, flow, incoming, timeUs, timeUs, now);
    if (target && target !== AMBIGUOUS) {
      this.add(this.bucketOf(timeUs), target, dev, dir, 1, bytes);
      const f2 = this.flows.get(key)!;
      this.lastValidUntilUs = Math.min(f2.validUntilMs * 1000, f2.untilUs);
      return;
    }
    // A packet the trace may name waits for it before costing a /proc scan (settle asks for one if it does not).
    this.hold(key, dev, dir, flow, timeUs, bytes, !final && (!recent || waitsForProc(proto, incoming)));
  }

  /**
   * The final verdict on a flow's packets captured from fromUs to toUs, which a snapshot newer than them does not
   * give a process: kernel or unknown, unless the recent endpoints name its owner. Remembered for the flow.
   */
  private decide(key: string, flow: FlowKey, incoming: boolean, r: Resolution, fromUs: number, toUs: number, now: number): Owner | typeof AMBIGUOUS {
    const target = verdict(r, flow.proto, flow.tcpFlags, incoming);
    const recent = this.opts.recent;
    if (recent && (target === UNKNOWN || (flow.proto === 'UDP' && incoming && r.kind === 'absent'))) {
      const owner = recent.lookup(flow.proto, flow.lip, flow.lport, flow.rip, flow.rport, fromUs, toUs);
      if (owner === AMBIGUOUS) return owner; // not remembered: the flow's next packets are asked again
      if (owner) {
        this.counts.traced++;
        this.remember(key, flow, incoming, owner, 0, now + this.limits.negativeTtlMs, recent.completeUntilUs());
        return owner;
      }
      // Unknown may yet be named by a later event (a process reusing the ports): valid only as far as the trace is read.
      if (target === UNKNOWN) {
        this.remember(key, flow, incoming, target, 0, now + this.limits.negativeTtlMs, recent.completeUntilUs());
        return target;
      }
    }
    this.remember(key, flow, incoming, target, 0, now + this.limits.negativeTtlMs, Infinity);
    return target;
  }

  /** A packet's owner as the recent endpoints name it, before /proc has looked; null if they do not. */
  private namedByTrace(key: string, flow: FlowKey, incoming: boolean, fromUs: number, toUs: number, now: number): Owner | null | typeof AMBIGUOUS {
    const recent = this.opts.recent!;
    const owner = recent.lookup(flow.proto, flow.lip, flow.lport, flow.rip, flow.rport, fromUs, toUs);
    if (!owner || owner === AMBIGUOUS) return owner;
    this.counts.traced++;
    this.remember(key, flow, incoming, owner, 0, now + this.limits.negativeTtlMs, recent.completeUntilUs());
    return owner;
  }

  /** A packet no socket can own (not TCP/UDP: ARP, ICMP, a later fragment; or malformed). */
  kernel(timeUs: number, dev: string, dir: Direction, bytes: number): void {
    this.add(this.bucketOf(timeUs), KERNEL, dev, dir, 1, bytes);
  }

  /** A TCP/UDP packet whose ports could not be read (cut by the snap length). */
  unknown(timeUs: number, dev: string, dir: Direction, bytes: number): void {
    this.add(this.bucketOf(timeUs), UNKNOWN, dev, dir, 1, bytes);
  }

  /**
   * Hands out interval k's table, most packets first, and forgets it. Packets
   * still held for a rescan are counted in a later interval.
   */
  takeInterval(k: number): NettopRow[] {
    const time = this.intervalEnd(k);
    const rows: NettopRow[] = [];
    for (let i = this.taken + 1; i <= k; i++) {
      const table = this.tables.get(i);
      this.tables.delete(i);
      if (i !== k || !table) continue;
      for (const byPid of table.values()) {
        for (const a of byPid.values()) {
          rows.push({
            time,
            pid: a.pid,
            uid: a.uid,
            dev: a.dev,
            xmitPk: a.xmitPk,
            recvPk: a.recvPk,
            xmitKb: Math.floor(a.xmitBytes / 1024),
            recvKb: Math.floor(a.recvBytes / 1024),
            command: a.command,
            xmitBytes: a.xmitBytes,
            recvBytes: a.recvBytes,
          });
        }
      }
    }
    this.taken = Math.max(this.taken, k);
    this.generation++;
    return rows.sort(byActivity);
  }

  private remember(key: string, flow: FlowKey, incoming: boolean, target: Owner, inode: number, validUntilMs: number, untilUs: number): void {
    if (!this.flows.has(key) && this.flows.size >= this.limits.maxFlows) {
      // Evict the oldest entry (Map keeps insertion order): it is re-resolved if its flow comes back.
      const oldest = this.flows.keys().next();
      if (!oldest.done) this.flows.delete(oldest.value);
      this.generation++;
    }
    this.flows.set(key, { proto: flow.proto, lip: flow.lip, lport: flow.lport, rip: flow.rip, rport: flow.rport, incoming, target, inode, validUntilMs, untilUs });
  }

  private hold(key: string, dev: string, dir: Direction, flow: FlowKey, timeUs: number, bytes: number, scan: boolean): void {
    const bucket = this.bucketOf(timeUs);
    let h = this.held.get(key);
    if (!h) {
      if (this.held.size >= this.limits.maxPending) {
        this.counts.holdOverflow++;
        this.add(bucket, UNKNOWN, dev, dir, 1, bytes);
        this.lastAcc = null; // not a verdict on the flow: not to be memoised
        return;
      }
      h = { proto: flow.proto, lip: flow.lip, lport: flow.lport, rip: flow.rip, rport: flow.rport, dir, tcpFlags: flow.tcpFlags, firstUs: timeUs, lastUs: timeUs, scanAsked: false, packets: [], counts: [] };
      this.held.set(key, h);
    }
    if (timeUs > h.lastUs) h.lastUs = timeUs;
    if (h.packets) {
      if (h.packets.length < MAX_HELD_PACKETS) h.packets.push([timeUs, bucket, dev, bytes]);
      else h.packets = null;
    }
    if (scan && !h.scanAsked) {
      h.scanAsked = true; // once per held flow (settle asks again for those a scan left undecided)
      this.opts.requestScan();
    }
    this.counts.held++;
    const c = h.counts.find((x) => x.bucket === bucket && x.dev === dev);
    if (c) {
      c.pk++;
      c.bytes += bytes;
    } else h.counts.push({ bucket, dev, pk: 1, bytes });
  }

  private add(bucket: number, owner: Owner, dev: string, dir: Direction, pk: number, bytes: number): void {
    if (owner.pid > 0) this.counts.attributed += pk;
    else if (owner.pid === KERNEL_PID) this.counts.kernel += pk;
    else this.counts.unknown += pk;
    let table = this.tables.get(bucket);
    if (!table) this.tables.set(bucket, (table = new Map()));
    let byPid = table.get(dev);
    if (!byPid) table.set(dev, (byPid = new Map()));
    let a = byPid.get(owner.pid);
    if (!a) {
      a = { pid: owner.pid, uid: owner.uid, command: owner.command, dev, xmitPk: 0, recvPk: 0, xmitBytes: 0, recvBytes: 0 };
      byPid.set(owner.pid, a);
    } else if (a.command !== owner.command || a.uid !== owner.uid) {
      a.command = owner.command; // exec() or setuid() during the interval: the latest wins
      a.uid = owner.uid;
    }
    if (dir === XMIT) {
      a.xmitPk += pk;
      a.xmitBytes += bytes;
    } else {
      a.recvPk += pk;
      a.recvBytes += bytes;
    }
    this.lastAcc = a;
  }

  /** The fast path: one more packet in a row side() resolved earlier in this generation. */
  bump(a: Acc, dir: Direction, bytes: number): void {
    this.busy = true;
    if (a.pid > 0) this.counts.attributed++;
    else if (a.pid === KERNEL_PID) this.counts.kernel++;
    else this.counts.unknown++;
    if (dir === XMIT) {
      a.xmitPk++;
      a.xmitBytes += bytes;
    } else {
      a.recvPk++;
      a.recvBytes += bytes;
    }
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
export function verdict(r: Resolution, proto: L4Proto, tcpFlags: number, incoming: boolean): Owner {
  switch (r.kind) {
    case 'process':
      return r.owner;
    case 'foreign':
      return KERNEL; // forwarded, or not addressed to us
    case 'orphan':
      return UNKNOWN; // a socket was there, its process let go before we looked
    case 'absent':
      if (proto === 'UDP') return incoming ? KERNEL : UNKNOWN; // a datagram for a closed port / sent from a socket already gone
      if (tcpFlags & TCP_RST) return KERNEL; // resets: the kernel's answer to a closed port or a dead connection
      if (incoming && (tcpFlags & (TCP_SYN | TCP_ACK)) === TCP_SYN) return KERNEL; // a SYN to a port nobody listens on
      return UNKNOWN;
  }
}

/** Most packets first (nettop.stp sorts by packet count), then most bytes, then pid and device for a stable order. */
export function byActivity(a: NettopRow, b: NettopRow): number {
  return (
    b.xmitPk + b.recvPk - (a.xmitPk + a.recvPk) ||
    b.xmitBytes + b.recvBytes - (a.xmitBytes + a.recvBytes) ||
    a.pid - b.pid ||
    (a.dev < b.dev ? -1 : a.dev > b.dev ? 1 : 0)
  );
}
