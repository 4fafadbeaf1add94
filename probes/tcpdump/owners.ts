// tcpdump --process: each packet's process, with nettop's attribution (the
// same flow cache, attributor and socket snapshots, attribution/), one packet
// at a time. A packet is its sender's when the sender is local (its source
// address is one of this host's, loopback included, or a container's whose
// network namespace the snapshot holds), else its receiver's.
// A packet whose owner cannot be decided yet (a new socket: the snapshot is
// older than the packet; a short-lived one: the tracepoints are not read up
// to it) waits; rows leave in capture order, so the ones behind it wait too.
// Bounded: past MAX_WAITING the oldest waiting row leaves as unknown (counted).
// Pure: the snapshot, local addresses and clock are handed in.

import { Attributor, HOLD_FOR_SCAN, HOLD_FOR_TRACE, HOLD_TRACE_SILENT, isOwner } from '../../attribution/attributor.ts';
import { FlowCache, type SocketSnapshot } from '../../attribution/flow-cache.ts';
import { flowKey, RECV, XMIT, type Direction, type FlowTuple } from '../../attribution/flow.ts';
import { KERNEL_PID, UNKNOWN, type Owner } from '../../attribution/owner.ts';
import type { EndpointLookup } from '../../attribution/recent-endpoints.ts';
import type { L4Proto } from '../../core/procfs/proc-net.ts';

export const MAX_WAITING = 50_000;
const LIMITS = { maxFlows: 16384, positiveTtlMs: 5000, negativeTtlMs: 1000 };

interface Waiting<T> {
  item: T;
  owner: Owner | null;
  key: string;
  flow: FlowTuple;
  dir: Direction;
  tcpFlags: number;
  timeUs: number;
}

export interface PacketOwnersOptions<T> {
  /** Wall clock in ms, the capture's clock. */
  now(): number;
  /** Asks for a /proc rescan (rate-limited by the caller, who then calls setSnapshot). */
  requestScan(): void;
  recent: EndpointLookup | null;
  /** Each item with its owner, in the order packet() was called. */
  emit(item: T, owner: Owner): void;
}

export class PacketOwners<T> {
  readonly counts = { attributed: 0, kernel: 0, unknown: 0, held: 0, holdOverflow: 0 };
  private readonly cache = new FlowCache<null>(LIMITS.maxFlows);
  private readonly attributor: Attributor<null>;
  private readonly queue: Waiting<T>[] = [];
  private head = 0;
  private local: ReadonlySet<string> = new Set();
  /** True when packets came since the last snapshot: the periodic rescan is only worth it then. */
  active = false;

  constructor(private readonly opts: PacketOwnersOptions<T>) {
    this.attributor = new Attributor<null>(this.cache, LIMITS, opts.recent, { traced: 0 });
  }

  get waiting(): number {
    return this.queue.length - this.head;
  }

  /** A new socket snapshot (scan begun at startedMs) and this host's addresses: waiting rows are decided again. */
  setSnapshot(snapshot: SocketSnapshot, startedMs: number, localAddresses: ReadonlySet<string>): void {
    this.local = localAddresses;
    this.active = false;
    this.attributor.setSnapshot(snapshot, startedMs, this.opts.now());
    this.settle();
  }

  recentAdvanced(): void {
    this.settle();
  }

  recentFinished(): void {
    this.attributor.finishRecent();
    this.settle();
  }

  dropRecent(): void {
    this.attributor.dropRecent();
    this.settle();
  }

  /** One TCP/UDP packet (addresses as packet.ts prints them), captured at timeUs. */
  packet(item: T, proto: L4Proto, src: string, sport: number, dst: string, dport: number, tcpFlags: number, timeUs: number): void {
    this.active = true;
    // Sent from here, or from another network namespace whose sockets the snapshot holds (a container): its sender's.
    const sent = this.isLocal(src) || this.attributor.elsewhere(src);
    const flow: FlowTuple = sent
      ? { proto, localIp: src, localPort: sport, remoteIp: dst, remotePort: dport }
      : { proto, localIp: dst, localPort: dport, remoteIp: src, remotePort: sport };
    const dir: Direction = sent ? XMIT : RECV;
    const key = flowKey(dir, flow);
    const owner = this.decide(key, flow, dir, tcpFlags, timeUs);
    if (owner && this.head === this.queue.length) {
      this.emit(item, owner);
      return;
    }
    if (!owner) this.counts.held++;
    this.queue.push({ item, owner, key, flow, dir, tcpFlags, timeUs });
    if (this.waiting > MAX_WAITING) {
      const first = this.queue[this.head]!;
      if (!first.owner) {
        first.owner = UNKNOWN; // not a verdict on the flow: not remembered
        this.counts.holdOverflow++;
      }
    }
    this.flush();
  }

  /** The end: what still waits is decided with what there is (unknown if nothing names it). */
  finish(): void {
    this.settle();
    for (let i = this.head; i < this.queue.length; i++) this.queue[i]!.owner ??= UNKNOWN;
    this.flush();
  }

  private isLocal(ip: string): boolean {
    return ip.startsWith('127.') || ip === '::1' || ip.startsWith('::ffff:127.') || this.local.has(ip);
  }

  /** The owner now, or null if it must wait (a scan asked for when that decides it). */
  private decide(key: string, flow: FlowTuple, dir: Direction, tcpFlags: number, timeUs: number): Owner | null {
    const nowMs = this.opts.now();
    const cached = this.cache.get(key, nowMs, timeUs);
    if (cached) return cached.owner;
    const decision = this.attributor.decide(key, flow, dir, tcpFlags, timeUs, timeUs, nowMs);
    if (isOwner(decision)) return decision.owner;
    if (decision === HOLD_FOR_SCAN || decision === HOLD_TRACE_SILENT) {
      if (this.attributor.hasSnapshot) this.opts.requestScan();
      return null;
    }
    if (decision === HOLD_FOR_TRACE) return null;
    // Two owners within one packet's time (not expected): the one the trace names at that time, else the verdict.
    return this.attributor.ownerAt(flow, timeUs) ?? this.attributor.fallback(flow, dir, tcpFlags, timeUs);
  }

  private settle(): void {
    for (let i = this.head; i < this.queue.length; i++) {
      const w = this.queue[i]!;
      if (!w.owner) w.owner = this.decide(w.key, w.flow, w.dir, w.tcpFlags, w.timeUs);
    }
    this.flush();
  }

  private flush(): void {
    const q = this.queue;
    while (this.head < q.length && q[this.head]!.owner) {
      const w = q[this.head++]!;
      this.emit(w.item, w.owner!);
    }
    if (this.head === q.length) {
      q.length = 0;
      this.head = 0;
    } else if (this.head > 4096 && this.head * 2 > q.length) {
      q.splice(0, this.head);
      this.head = 0;
    }
  }

  private emit(item: T, owner: Owner): void {
    if (owner.pid > 0) this.counts.attributed++;
    else if (owner.pid === KERNEL_PID) this.counts.kernel++;
    else this.counts.unknown++;
    this.opts.emit(item, owner);
  }
}
