// dropwatch's aggregator: kfree_skb events → per-interval counts per kernel
// location, drop reason and protocol. Pure, unit tested without root.
//
// Counting is keyed on the raw location address (cheap at ~800k events/s);
// names are resolved once per distinct address when a table is made, and rows
// merge the addresses of one function, as the issue asks (LOCATION = the
// function alone).

import type { ResolvedSymbol } from '../../core/tracefs/ksyms.ts';
import type { DropRow } from './definition.ts';

/** Distinct (location, reason, protocol) keys kept per interval; drops at further keys are counted as shed. */
export const MAX_KEYS = 4096;

interface Site {
  readonly hi: number;
  readonly lo: number;
  /** (reason << 16 | protocol) → count */
  readonly counts: Map<number, number>;
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

  /** One drop at address hi:lo (two u32 halves), with the reason (−1 when the kernel has none) and protocol. */
  add(hi: number, lo: number, reason: number, protocol: number, n = 1): void {
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
    const c = site.counts.get(rk);
    if (c === undefined) {
      if (this.keys >= MAX_KEYS) {
        this.shedKeys += n;
        return;
      }
      this.keys++;
      site.counts.set(rk, n);
    } else site.counts.set(rk, c + n);
  }

  /**
   * The interval's table, most drops first (ties by location, reason), and a
   * fresh interval. `resolve` names an address; `reasonName` names a reason.
   */
  snapshot(timeUs: number, resolve: (addr: bigint) => ResolvedSymbol, reasonName: (r: number) => string): DropRow[] {
    const merged = new Map<string, DropRow>();
    for (const site of this.sites.values()) {
      const sym = resolve((BigInt(site.hi) << 32n) | BigInt(site.lo));
      for (const [rk, count] of site.counts) {
        const reason = Math.floor(rk / 0x10000) - 1;
        const protocol = rk % 0x10000;
        const row: DropRow = {
          time: timeUs,
          count,
          location: sym.name,
          reason: reason < 0 ? '' : reasonName(reason),
          protocol: protocolName(protocol),
          sites: `${sym.full} ×${count}`,
        };
        const k = `${row.location}\0${row.reason}\0${row.protocol}`;
        const had = merged.get(k);
        if (had) {
          had.count += count;
          had.sites += `, ${row.sites}`;
        } else merged.set(k, row);
      }
    }
    this.sites = new Map();
    this.keys = 0;
    return [...merged.values()].sort(
      (a, b) => b.count - a.count || a.location.localeCompare(b.location) || a.reason.localeCompare(b.reason) || a.protocol.localeCompare(b.protocol),
    );
  }
}
