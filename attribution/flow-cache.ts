// The flow cache (nettop's and tcpdump's): what each flow (direction, tuple) was last decided to
// be, so a packet costs one Map lookup and no /proc access. An entry is the
// decision itself: the owner, the socket that named it and until when it holds.
// Owners of live sockets are confirmed at each rescan and forgotten
// positiveTtlMs after their socket is gone (so the FIN and the last ACKs of a
// closed connection still go to their process); the attributor gives kernel and
// unknown verdicts a shorter life. Bounded: the oldest entry goes first. Pure.

import type { Owner, Resolution } from './socket-index.ts';
import { copyFlow, type FlowTuple } from './flow.ts';

/** What attribution needs of a socket snapshot (SocketIndex). */
export interface SocketSnapshot {
  resolve(flow: FlowTuple, incoming: boolean): Resolution;
  has(inode: number): boolean;
  /** True if ip is an address of another network namespace whose sockets the snapshot holds (namespaces.ts). */
  elsewhere?(ip: string): boolean;
  /** True if ip is ours or another namespace's whose sockets the snapshot holds. */
  knows?(ip: string): boolean;
}

/** A decided flow: its owner and how long that holds. */
export interface CachedFlow<Slot = unknown> {
  readonly flow: FlowTuple;
  readonly incoming: boolean;
  owner: Owner;
  /** The socket that decided it; 0 for kernel/unknown verdicts and owners named by the recent endpoints. */
  inode: number;
  /** Wall clock (ms) after which the entry is forgotten. */
  validUntilMs: number;
  /** Decided by the recent endpoints: valid for packets captured up to here (µs); Infinity otherwise. */
  untilUs: number;
  /** What the caller keeps with the flow (nettop: the row its latest packet was counted in), set as it counts it. */
  acc: Slot | null;
}

/** The latest capture time (µs) a decision holds for, on the same clock as the capture. */
export function validUntilUs(entry: CachedFlow<unknown>): number {
  return Math.min(entry.validUntilMs * 1000, entry.untilUs);
}

export class FlowCache<Slot = unknown> {
  private readonly flows = new Map<string, CachedFlow<Slot>>();
  /** Bumped whenever an entry is forgotten or revised: a decision kept elsewhere is stale once it changes. */
  changes = 0;

  constructor(private readonly maxFlows: number) {}

  get size(): number {
    return this.flows.size;
  }

  /** The entry still valid at wall time nowMs for a packet captured at timeUs; an expired one is forgotten. */
  get(key: string, nowMs: number, timeUs: number): CachedFlow<Slot> | null {
    const entry = this.flows.get(key);
    if (!entry) return null;
    if (entry.validUntilMs >= nowMs && timeUs <= entry.untilUs) return entry;
    this.flows.delete(key);
    this.changes++;
    return null;
  }

  /** Records a decision; the oldest entry makes room if the cache is full (it is re-decided if its flow comes back). */
  remember(key: string, flow: FlowTuple, incoming: boolean, owner: Owner, inode: number, validUntilMs: number, untilUs: number): CachedFlow<Slot> {
    if (!this.flows.has(key) && this.flows.size >= this.maxFlows) {
      const oldest = this.flows.keys().next();
      if (!oldest.done) this.flows.delete(oldest.value);
      this.changes++;
    }
    const entry: CachedFlow<Slot> = { flow: copyFlow(flow), incoming, owner, inode, validUntilMs, untilUs, acc: null };
    this.flows.set(key, entry);
    return entry;
  }

  /**
   * A new socket snapshot: owners of live sockets confirmed (their holder may have changed: exit after fork),
   * kernel/unknown verdicts revised where a process now holds the endpoint, expired entries forgotten.
   */
  refresh(snapshot: SocketSnapshot, nowMs: number, positiveTtlMs: number): void {
    this.changes++;
    for (const [key, entry] of this.flows) {
      if (entry.inode && snapshot.has(entry.inode)) {
        const r = snapshot.resolve(entry.flow, entry.incoming);
        if (r.kind === 'process' && r.inode === entry.inode) entry.owner = r.owner;
        entry.validUntilMs = nowMs + positiveTtlMs;
      } else if (!entry.inode) {
        const r = snapshot.resolve(entry.flow, entry.incoming);
        if (r.kind === 'process') {
          entry.owner = r.owner;
          entry.inode = r.inode;
          entry.validUntilMs = nowMs + positiveTtlMs;
          entry.untilUs = Infinity;
        }
      }
      if (entry.validUntilMs < nowMs) this.flows.delete(key);
    }
  }
}
