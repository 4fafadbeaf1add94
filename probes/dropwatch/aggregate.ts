// dropwatch's aggregator: kfree_skb events → per-interval counts per kernel
// location, drop reason and protocol. Pure, unit tested without root.
//
// Counting is keyed on the raw location address (cheap at ~800k events/s);
// names are resolved once per distinct address when a table is made, and rows
// merge the addresses of one function, as the issue asks (LOCATION = the
// function alone). Drops at a local socket (kfree_skb's rx_sk) are kept apart
// per socket, and named by the process that owns it when the table is made
// (socket-owners.ts), so a row says whose packets were lost.

import type { ResolvedSymbol } from '../../core/tracefs/ksyms.ts';
import type { DropRow } from './definition.ts';
import { explainDrop } from './reasons.ts';

/** The process that owned a socket drops happened at, as a row names it; null when it could not be told. */
export interface DropOwner {
  readonly pid: number;
  readonly command: string;
  /** Bytes in the socket's receive queue when /proc was read. */
  readonly queuedBytes?: number;
}

/** A kernel pointer (two u32 halves) as a Map key: exact for kernel addresses (hi 0xffff8…–0xffffffff), 0 for NULL. */
export function pointerKey(hi: number, lo: number): number {
  return hi === 0 && lo === 0 ? 0 : (hi & 0x1fffff) * 0x1_0000_0000 + lo + 1;
}

/** Distinct (location, reason, protocol) keys kept per interval; drops at further keys are counted as shed. */
export const MAX_KEYS = 4096;

interface Site {
  readonly hi: number;
  readonly lo: number;
  /** (reason << 16 | protocol) → socket (pointerKey of rx_sk, 0 for none) → count */
  readonly counts: Map<number, Map<number, number>>;
}

/** EtherType names for kfree_skb's `protocol` (already in host order). */
export function protocolName(p: number): string {
  switch (p) {
    case 0x0800:
      return 'IPv4';
    case 0x86dd:
      return 'IPv6';
    case 0x0806:
      return 'ARP';
    case 0x8100:
      return '802.1Q';
    case 0x88cc:
      return 'LLDP';
    case 0:
      return '';
    default:
      return `0x${p.toString(16).padStart(4, '0')}`;
  }
}

export class DropAggregator {
  private sites = new Map<number, Site>();
  private keys = 0;
  /** Drops seen since start, and drops not tabled because the key limit was reached. */
  total = 0;
  shedKeys = 0;
  /** Drops at a local socket, by whether its process was told (counted when tabled). */
  attributed = 0;
  unattributed = 0;

  /**
   * One drop at address hi:lo (two u32 halves), with the reason (−1 when the kernel has none), protocol, and the
   * socket it was dropped at (pointerKey, 0 for none).
   */
  add(hi: number, lo: number, reason: number, protocol: number, sk = 0, n = 1): void {
    this.total += n;
    // Kernel text lives at hi = 0xffffffff: the low half alone is exact there; other halves stay distinct below 2^53.
    const key = hi === 0xffffffff ? lo : ((hi & 0x1fffff) + 1) * 0x1_0000_0000 + lo;
    let site = this.sites.get(key);
    const rk = (reason + 1) * 0x10000 + protocol;
    if (!site) {
      if (this.keys >= MAX_KEYS) {
        this.shedKeys += n;
        return;
      }
      site = { hi, lo, counts: new Map() };
      this.sites.set(key, site);
    }
    let perSocket = site.counts.get(rk);
    const c = perSocket?.get(sk);
    if (c === undefined) {
      if (this.keys >= MAX_KEYS) {
        this.shedKeys += n;
        return;
      }
      this.keys++;
      if (!perSocket) site.counts.set(rk, (perSocket = new Map()));
      perSocket.set(sk, n);
    } else perSocket!.set(sk, c + n);
  }

  /** The sockets drops were counted at this interval (pointerKeys). */
  sockets(): Set<number> {
    const out = new Set<number>();
    for (const site of this.sites.values()) for (const perSocket of site.counts.values()) for (const sk of perSocket.keys()) if (sk) out.add(sk);
    return out;
  }

  /**
   * The interval's table, most drops first (ties by location, reason), and a
   * fresh interval. `resolve` names an address; `reasonName` names a reason; `owner` names a socket's process
   * (drops at a socket whose owner is not known have PID '' and COMMAND '?'; drops at no socket, both empty).
   */
  snapshot(
    timeUs: number,
    resolve: (addr: bigint) => ResolvedSymbol,
    reasonName: (r: number) => string,
    owner: (sk: number) => DropOwner | null = () => null,
  ): DropRow[] {
    const merged = new Map<string, DropRow>();
    const exact = new Map<DropRow, Map<string, number>>(); // a row's exact sites and their counts
    for (const site of this.sites.values()) {
      const sym = resolve((BigInt(site.hi) << 32n) | BigInt(site.lo));
      for (const [rk, perSocket] of site.counts) {
        const r = Math.floor(rk / 0x10000) - 1;
        const reason = r < 0 ? '' : reasonName(r);
        const protocol = protocolName(rk % 0x10000);
        for (const [sk, count] of perSocket) {
          const o = sk ? owner(sk) : null;
          if (sk) {
            if (o) this.attributed += count;
            else this.unattributed += count;
          }
          const pid = o ? String(o.pid) : '';
          const command = o ? o.command : sk ? '?' : '';
          const k = `${sym.name}\0${reason}\0${protocol}\0${pid}\0${command}`;
          let row = merged.get(k);
          if (!row) {
            row = {
            time: timeUs,
            count,
            location: sym.name,
            reason,
            protocol,
            pid,
            command,
            explanation: explainDrop(reason, { pid, command, queuedBytes: o?.queuedBytes }),
              sites: '',
            };
            merged.set(k, row);
            exact.set(row, new Map());
          } else row.count += count;
          const at = exact.get(row)!;
          at.set(sym.full, (at.get(sym.full) ?? 0) + count);
        }
      }
    }
    for (const [row, at] of exact) row.sites = [...at].map(([full, n]) => `${full} ×${n}`).join(', ');
    this.sites = new Map();
    this.keys = 0;
    return [...merged.values()].sort(
      (a, b) => b.count - a.count || a.location.localeCompare(b.location) || a.reason.localeCompare(b.reason) || a.protocol.localeCompare(b.protocol) || a.pid.localeCompare(b.pid),
    );
  }
}
