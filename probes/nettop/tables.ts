// nettop's interval tables: the rows being counted, one table per interval of
// capture time (device → pid → counts), handed out once each and forgotten.
// Kept apart from attribution so the counting a packet costs is plain to see:
// three Map lookups on the full path, none on the fast path (bump). Pure.
//
// Interval k ends at startUs + (k + 1) * intervalUs; the source takes it a
// little after that (packets reach us up to ~20 ms late), so a packet sent just
// before the boundary is still in the right table. Later stragglers go to the
// next open interval rather than being lost.

import type { Owner } from '../../attribution/socket-index.ts';
import { KERNEL_PID, type NettopRow } from './definition.ts';
import { XMIT, type Direction } from '../../attribution/flow.ts';

/** One row being counted. The fast path (fastpath.ts) keeps it and bumps it directly. */
export interface Acc {
  pid: number;
  uid: number;
  command: string;
  /** Its cgroup's name (a unit, a container...), '' when not known. */
  cgroup: string;
  dev: string;
  xmitPk: number;
  recvPk: number;
  xmitBytes: number;
  recvBytes: number;
}

/** Packets counted, by kind of owner. */
export interface OwnerCounts {
  attributed: number;
  kernel: number;
  unknown: number;
}

/** One interval's table: device → pid → counts. */
type Table = Map<string, Map<number, Acc>>;

export class IntervalTables {
  private readonly tables = new Map<number, Table>();
  /** Index of the last interval handed out by take. */
  private taken = -1;
  /** Calls of take: a row kept by the fast path is stale once this changes. */
  private takes = 0;

  constructor(
    /** µs since the epoch at which interval 0 starts. */
    private readonly startUs: number,
    private readonly intervalUs: number,
    /** Shared with the engine's counters: bumped here for every packet counted. */
    private readonly counts: OwnerCounts,
  ) {}

  get takeCount(): number {
    return this.takes;
  }

  /** Interval index of a capture time. */
  bucketOf(timeUs: number): number {
    return this.clamp(Math.floor((timeUs - this.startUs) / this.intervalUs));
  }

  /** Stragglers go to the oldest open interval; a clock jump forward no further than the next one. */
  clamp(bucket: number): number {
    if (bucket <= this.taken) return this.taken + 1;
    if (bucket > this.taken + 2) return this.taken + 2;
    return bucket;
  }

  /** End of interval k, µs since the epoch: its rows' TIME. */
  intervalEnd(k: number): number {
    return this.startUs + (k + 1) * this.intervalUs;
  }

  /** Counts `packets` packets of `bytes` in all for owner on dev; the row they went to. */
  add(bucket: number, owner: Owner, dev: string, dir: Direction, packets: number, bytes: number): Acc {
    let table = this.tables.get(bucket);
    if (!table) this.tables.set(bucket, (table = new Map()));
    let byPid = table.get(dev);
    if (!byPid) table.set(dev, (byPid = new Map()));
    let acc = byPid.get(owner.pid);
    if (!acc) {
      acc = { pid: owner.pid, uid: owner.uid, command: owner.command, cgroup: owner.cgroup ?? '', dev, xmitPk: 0, recvPk: 0, xmitBytes: 0, recvBytes: 0 };
      byPid.set(owner.pid, acc);
    } else if (acc.command !== owner.command || acc.uid !== owner.uid) {
      acc.command = owner.command; // exec() or setuid() during the interval: the latest wins
      acc.uid = owner.uid;
    }
    if (owner.cgroup && acc.cgroup !== owner.cgroup) acc.cgroup = owner.cgroup; // moved to another cgroup; an owner named by the trace has none
    this.count(acc, dir, packets, bytes);
    return acc;
  }

  /** Counts packets in a row add() returned in this interval (the fast path). */
  count(acc: Acc, dir: Direction, packets: number, bytes: number): void {
    const counts = this.counts;
    if (acc.pid > 0) counts.attributed += packets;
    else if (acc.pid === KERNEL_PID) counts.kernel += packets;
    else counts.unknown += packets;
    if (dir === XMIT) {
      acc.xmitPk += packets;
      acc.xmitBytes += bytes;
    } else {
      acc.recvPk += packets;
      acc.recvBytes += bytes;
    }
  }

  /** Hands out interval k's table, most packets first, and forgets it and any earlier one. */
  take(k: number): NettopRow[] {
    const time = this.intervalEnd(k);
    const rows: NettopRow[] = [];
    for (let i = this.taken + 1; i <= k; i++) {
      const table = this.tables.get(i);
      this.tables.delete(i);
      if (i !== k || !table) continue;
      for (const byPid of table.values()) {
        for (const acc of byPid.values()) {
          rows.push({
            time,
            pid: acc.pid,
            uid: acc.uid,
            dev: acc.dev,
            xmitPk: acc.xmitPk,
            recvPk: acc.recvPk,
            xmitKb: Math.floor(acc.xmitBytes / 1024),
            recvKb: Math.floor(acc.recvBytes / 1024),
            command: acc.command,
            cgroup: acc.cgroup,
            xmitBytes: acc.xmitBytes,
            recvBytes: acc.recvBytes,
          });
        }
      }
    }
    this.taken = Math.max(this.taken, k);
    this.takes++;
    return rows.sort(byActivity);
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
