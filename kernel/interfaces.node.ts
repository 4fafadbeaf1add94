// Network interfaces from /sys/class/net: readable without privileges, so
// both the collector (ifindex → name for the "any" device) and the host (the
// interface picker) use it.

import { readdirSync, readFileSync } from 'node:fs';

export interface NetInterface {
  name: string;
  ifindex: number;
  up: boolean;
  /** ARPHRD_* link type: 1 Ethernet, 772 loopback, 65534 none (tun), ... */
  arphrd: number;
}

const IFF_UP = 0x1;

export function listInterfaces(sysfs = '/sys/class/net'): NetInterface[] {
  const out: NetInterface[] = [];
  for (const name of readdirSync(sysfs)) {
    try {
      const read = (f: string) => readFileSync(`${sysfs}/${name}/${f}`, 'utf8').trim();
      out.push({
        name,
        ifindex: Number(read('ifindex')),
        up: (Number(read('flags')) & IFF_UP) !== 0,
        arphrd: Number(read('type')),
      });
    } catch {
      // The interface went away between readdir and read.
    }
  }
  return out.sort((a, b) => a.ifindex - b.ifindex);
}

/** ifindex → name, reloaded at most once a second when an index is unknown. */
export class InterfaceNames {
  private names = new Map<number, string>();
  private loadedAt = 0;

  constructor(private readonly now: () => number = Date.now) {
    this.reload();
  }

  name(ifindex: number): string {
    const known = this.names.get(ifindex);
    if (known !== undefined) return known;
    if (this.now() - this.loadedAt >= 1000) {
      this.reload();
      const again = this.names.get(ifindex);
      if (again !== undefined) return again;
    }
    return `if${ifindex}`;
  }

  private reload(): void {
    this.loadedAt = this.now();
    this.names = new Map(listInterfaces().map((i) => [i.ifindex, i.name]));
  }
}
