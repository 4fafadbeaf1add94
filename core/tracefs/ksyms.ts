// Kernel addresses → function names, from /proc/kallsyms text (the tracepoint's
// `location` is an address; dropwatch.stp printed raw addresses unless symbols
// were loaded). Pure: the table is built from the file's text.

export interface ResolvedSymbol {
  /** The function's name, e.g. "__udp4_lib_rcv"; the hex address when unknown. */
  readonly name: string;
  /** As the kernel's %pS prints it: "__udp4_lib_rcv+0x5c7/0xb30", with " [module]" for modules. */
  readonly full: string;
}

export class KernelSymbols {
  private readonly addrs: BigUint64Array;
  private readonly names: string[];
  private readonly cache = new Map<bigint, ResolvedSymbol>();
  private static readonly MAX_CACHE = 10_000;

  /** Text symbols (t, T, w, W) of a /proc/kallsyms dump; all-zero addresses (no permission) give an empty table. */
  constructor(kallsyms: string) {
    const entries: [bigint, string][] = [];
    for (const line of kallsyms.split('\n')) {
      const sp1 = line.indexOf(' ');
      if (sp1 <= 0) continue;
      const type = line[sp1 + 1];
      if (type !== 't' && type !== 'T' && type !== 'w' && type !== 'W') continue;
      const addr = BigInt(`0x${line.slice(0, sp1)}`);
      if (addr === 0n) continue;
      const rest = line.slice(sp1 + 3);
      const tab = rest.indexOf('\t');
      const name = tab < 0 ? rest : `${rest.slice(0, tab)} ${rest.slice(tab + 1)}`; // "name [module]"
      entries.push([addr, name]);
    }
    entries.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    this.addrs = BigUint64Array.from(entries.map((e) => e[0]));
    this.names = entries.map((e) => e[1]);
  }

  get size(): number {
    return this.addrs.length;
  }

  resolve(addr: bigint): ResolvedSymbol {
    const hit = this.cache.get(addr);
    if (hit) return hit;
    const r = this.lookup(addr);
    if (this.cache.size >= KernelSymbols.MAX_CACHE) this.cache.clear();
    this.cache.set(addr, r);
    return r;
  }

  private lookup(addr: bigint): ResolvedSymbol {
    const hex = `0x${addr.toString(16)}`;
    let lo = 0;
    let hi = this.addrs.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (this.addrs[mid]! <= addr) {
        found = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    if (found < 0) return { name: hex, full: hex };
    const start = this.addrs[found]!;
    const next = this.addrs[found + 1];
    const size = next !== undefined ? next - start : 0n;
    if (next === undefined && addr - start > 0x100000n) return { name: hex, full: hex }; // past the last symbol
    const entry = this.names[found]!;
    const sp = entry.indexOf(' ');
    const name = sp < 0 ? entry : entry.slice(0, sp);
    const mod = sp < 0 ? '' : entry.slice(sp);
    return { name, full: `${name}+0x${(addr - start).toString(16)}/0x${size.toString(16)}${mod}` };
  }
}
