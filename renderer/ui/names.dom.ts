// Names for numbers: reverse DNS names for addresses (asked of the host in
// batches, cached, bounded; only while the toggle is on) and service names for
// well-known ports.

import { useSyncExternalStore } from 'react';
import type { NetprobesApi } from '../../ipc/api.ts';
import { serviceName } from '../../core/services.ts';

const MAX_NAMES = 8192;
const BATCH = 256;

export class Names {
  enabled = false;
  version = 0;
  private readonly known = new Map<string, string | null>();
  private readonly queued = new Set<string>();
  private timer: ReturnType<typeof setTimeout> | null = null;
  private readonly listeners = new Set<() => void>();

  constructor(private readonly api: NetprobesApi) {}

  setEnabled(on: boolean): void {
    this.enabled = on;
    this.bump();
  }

  /** "name (address)" when the toggle is on and a name is known; the address otherwise (a lookup is queued). */
  address(ip: string): string {
    if (!this.enabled || !ip) return ip;
    const name = this.known.get(ip);
    if (name === undefined) this.queue(ip);
    return name ? `${name} (${ip})` : ip;
  }

  port(port: number): string {
    if (!this.enabled) return String(port);
    const s = serviceName(port);
    return s ? `${port} ${s}` : String(port);
  }

  subscribe = (l: () => void) => {
    this.listeners.add(l);
    return () => void this.listeners.delete(l);
  };

  private queue(ip: string): void {
    if (this.queued.size >= BATCH * 4) return;
    this.queued.add(ip);
    this.timer ??= setTimeout(() => void this.flush(), 200);
  }

  private async flush(): Promise<void> {
    this.timer = null;
    const ips = [...this.queued].slice(0, BATCH);
    for (const ip of ips) this.queued.delete(ip);
    try {
      const answer = await this.api.request({ type: 'resolveNames', ips });
      if (this.known.size + ips.length > MAX_NAMES) this.known.clear();
      for (const ip of ips) this.known.set(ip, answer[ip] ?? null);
      this.bump();
    } catch {
      for (const ip of ips) this.known.set(ip, null);
    }
    if (this.queued.size) this.timer = setTimeout(() => void this.flush(), 200);
  }

  private bump(): void {
    this.version++;
    for (const l of this.listeners) l();
  }
}

export function useNames(names: Names): number {
  return useSyncExternalStore(names.subscribe, () => names.version);
}
