// Reading an instance's per_cpu/cpuN/trace_pipe_raw in binary — the text
// trace_pipe cannot keep up with a drop storm (DESIGN.md) — and its losses from
// per_cpu/cpuN/stats. Reads are non-blocking and driven by the caller's timer,
// so no threadpool thread sits in a blocking read and close() never waits.

import { readSync } from 'node:fs';
import type { TracefsInstance } from './instance.node.ts';
import { parseCpuStats, walkPage, type PageLayout } from './raw.ts';

/** Decodes one event record (common_type at `offset`); return undefined to keep nothing. */
export type Decoder<E> = (buf: Buffer, offset: number, length: number, tsNs: number, cpu: number) => E | undefined;

export interface RawReaderOptions {
  /** Sort each poll's events by time across CPUs, holding back events newer than the poll's start. */
  readonly ordered: boolean;
  /** Most pages read per CPU per poll, so one poll never holds the event loop long. */
  readonly maxPagesPerPoll?: number;
  /** Most events held back between polls (ordered mode); the excess is counted as shed. */
  readonly maxHeld?: number;
}

/** The monotonic clock in ns: the instance runs with trace_clock "mono", the same clock. */
export const monoNowNs = (): number => Number(process.hrtime.bigint());

/** µs since the epoch for a trace timestamp in the mono clock. */
export function epochMicrosConverter(): (tsNs: number) => number {
  const offsetUs = Date.now() * 1000 - monoNowNs() / 1000;
  return (tsNs) => Math.round(tsNs / 1000 + offsetUs);
}

export class RawReader<E extends { tsNs: number }> {
  private readonly fds: { cpu: number; fd: number }[] = [];
  private readonly page: Buffer;
  private readonly layout: PageLayout;
  private readonly pageSize: number;
  private held: E[] = [];
  /** Pages that ran past their committed length (skipped), and events shed because too many were held. */
  corruptPages = 0;
  shed = 0;
  pages = 0;
  private lastOverruns = 0;
  events = 0;

  constructor(
    private readonly inst: TracefsInstance,
    private readonly decode: Decoder<E>,
    private readonly opts: RawReaderOptions,
  ) {
    const { layout, pageSize } = inst.pageLayout();
    this.layout = layout;
    this.pageSize = pageSize;
    this.page = Buffer.alloc(pageSize);
    for (const cpu of inst.cpus()) this.fds.push({ cpu, fd: inst.openRaw(cpu) });
  }

  /** Reads what the kernel has now; returns the decoded events (sorted by time when ordered). */
  poll(): E[] {
    if (this.inst.isClosed) return [];
    const cutoff = monoNowNs();
    const maxPages = this.opts.maxPagesPerPoll ?? 4096;
    const out: E[] = this.opts.ordered ? this.held : [];
    this.held = [];
    for (const { cpu, fd } of this.fds) {
      for (let i = 0; i < maxPages; i++) {
        let n: number;
        try {
          n = readSync(fd, this.page, 0, this.pageSize, null);
        } catch (e) {
          const code = (e as NodeJS.ErrnoException).code;
          if (code === 'EAGAIN' || code === 'EWOULDBLOCK' || code === 'EINTR' || code === 'EBADF') break;
          throw e;
        }
        if (n <= 0) break;
        this.pages++;
        const stats = walkPage(this.page, 0, n, this.layout, (buf, off, len, ts) => {
          const e = this.decode(buf, off, len, ts, cpu);
          if (e !== undefined) out.push(e);
        });
        this.events += stats.events;
        if (stats.corrupt) this.corruptPages++;
      }
    }
    if (!this.opts.ordered) return out;
    out.sort((a, b) => a.tsNs - b.tsNs);
    let k = out.length;
    while (k > 0 && out[k - 1]!.tsNs > cutoff) k--;
    const later = out.splice(k);
    const maxHeld = this.opts.maxHeld ?? 100_000;
    if (later.length > maxHeld) {
      this.shed += later.length - maxHeld;
      later.length = maxHeld;
    }
    this.held = later;
    return out;
  }

  /** Events the kernel lost, summed over CPUs: overwritten (overrun) or refused (dropped events). */
  overruns(): number {
    if (this.inst.isClosed) return this.lastOverruns;
    let n = 0;
    for (const { cpu } of this.fds) {
      try {
        const s = parseCpuStats(this.inst.read(`per_cpu/cpu${cpu}/stats`));
        n += (s['overrun'] ?? 0) + (s['dropped events'] ?? 0);
      } catch {
        return this.lastOverruns; // instance gone: the last count stands
      }
    }
    this.lastOverruns = n;
    return n;
  }

  /** Every event still held back (at stop). */
  drain(): E[] {
    return this.held.splice(0);
  }

  close(): void {
    for (const { fd } of this.fds) this.inst.closeFd(fd);
  }
}
