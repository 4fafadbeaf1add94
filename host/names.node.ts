// Reverse names for addresses, for the renderer's "names" toggle: getnameinfo
// (so /etc/hosts counts, as in every other tool), asynchronous, cached, bounded
// in entries, in concurrent lookups and in time.

import { promises as dns } from 'node:dns';
import { isIP } from 'node:net';

const MAX_ENTRIES = 4096;
const TTL_MS = 10 * 60_000;
const LOOKUP_TIMEOUT_MS = 2000;
const MAX_CONCURRENT = 4;

export class NameCache {
  private readonly cache = new Map<string, { name: string | null; at: number }>();
  private readonly inflight = new Map<string, Promise<string | null>>();
  private running = 0;
  private readonly waiting: (() => void)[] = [];

  async resolve(ips: readonly string[]): Promise<Record<string, string | null>> {
    const out: Record<string, string | null> = {};
    await Promise.all(
      ips.filter((ip) => isIP(ip)).map(async (ip) => {
        out[ip] = await this.one(ip);
      }),
    );
    return out;
  }

  private one(ip: string): Promise<string | null> {
    const hit = this.cache.get(ip);
    if (hit && Date.now() - hit.at < TTL_MS) return Promise.resolve(hit.name);
    const pending = this.inflight.get(ip);
    if (pending) return pending;
    const p = this.lookup(ip).finally(() => this.inflight.delete(ip));
    this.inflight.set(ip, p);
    return p;
  }

  private async lookup(ip: string): Promise<string | null> {
    if (this.running >= MAX_CONCURRENT) await new Promise<void>((r) => this.waiting.push(r));
    this.running++;
    let name: string | null = null;
    try {
      const timeout = new Promise<null>((r) => setTimeout(() => r(null), LOOKUP_TIMEOUT_MS).unref());
      name = await Promise.race([dns.lookupService(ip, 0).then((r) => (r.hostname === ip ? null : r.hostname)), timeout]);
    } catch {
      name = null; // no name (ENOTFOUND) or no resolver: the address stands
    } finally {
      this.running--;
      this.waiting.shift()?.();
    }
    if (this.cache.size >= MAX_ENTRIES) this.cache.delete(this.cache.keys().next().value!);
    this.cache.set(ip, { name, at: Date.now() });
    return name;
  }
}
