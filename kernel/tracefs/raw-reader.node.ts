// Reading an instance's per_cpu/cpuN/trace_pipe_raw in binary — the text
// trace_pipe cannot keep up with a drop storm (a plain `cat` lost ~27k events in
// 3 s at ~240k drops/s; the binary read keeps up at ~3 % of a core) — and its losses from
// per_cpu/cpuN/stats. Reads are non-blocking and driven by the caller's timer,
// so no threadpool thread sits in a blocking read and close() never waits.

import { readSync } from 'node:fs';
import { monoNowNs } from './clock.node.ts';
import type { TracefsInstance } from './instance.node.ts';
import { parseCpuStats, walkPage, type PageLayout } from '../../core/tracefs/page.ts';

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


/** Events lost before they reached the reader, by cause (sums over CPUs). */
export interface RawLosses {
  /** Overwritten by the writer before they were read (stats "overrun", or the counts stored on pages if larger). */
  overrun: number;
  /** Lost when the writer ran into the page being committed (stats "commit overrun"). */
  commitOverrun: number;
  /** Refused because the buffer was full, in non-overwrite mode (stats "dropped events"). */
  dropped: number;
  /** Handed to us by the kernel ("read events") but not walked: on pages that could not be parsed to their end. */
  unparsed: number;
}

export class RawReader<E extends { tsNs: number }> {
  private readonly fds: { cpu: number; fd: number; walked: number }[] = [];
  private readonly page: Buffer;
  private readonly layout: PageLayout;
  private readonly pageSize: number;
  private held: E[] = [];
  /** Events read in the last moment before the instance closed (a signal closes it before the probe's stop). */
  private pending: E[] = [];
  private closed = false;
  /** Pages that ran past their committed length (skipped), and events shed because too many were held. */
  corruptPages = 0;
  shed = 0;
  pages = 0;
  /** Events the kernel said it overwrote, summed from the pages flagged RB_MISSED_EVENTS / RB_MISSED_STORED. */
  missedOnPages = 0;
  /** Pages flagged RB_MISSED_EVENTS: the kernel overwrote events before them (a loss seen without reading stats). */
  missedPages = 0;
  private last: RawLosses = { overrun: 0, commitOverrun: 0, dropped: 0, unparsed: 0 };
  events = 0;
  /**
   * Every event recorded before this time of the trace clock (ns) has been read: the start of the last poll that
   * emptied every CPU's buffer. -Infinity until one did.
   */
  completeUntilNs = -Infinity;

  constructor(
    private readonly inst: TracefsInstance,
    private readonly decode: Decoder<E>,
    private readonly opts: RawReaderOptions,
  ) {
    const { layout, pageSize } = inst.pageLayout();
    this.layout = layout;
    this.pageSize = pageSize;
    this.page = Buffer.alloc(pageSize);
    for (const cpu of inst.cpus()) this.fds.push({ cpu, fd: inst.openRaw(cpu), walked: 0 });
    // Whoever closes the instance — the probe's stop, or the exit backstop — the events still in the buffers are
    // read first and the kernel's final loss counts kept, so neither is lost silently.
    inst.beforeClose(() => this.readRest());
  }

  /** Reads what the kernel has now; returns the decoded events (sorted by time when ordered). */
  poll(): E[] {
    const out: E[] = this.opts.ordered ? this.held : [];
    this.held = [];
    if (this.pending.length) {
      for (const e of this.pending) out.push(e);
      this.pending = [];
    }
    if (this.inst.isClosed || this.closed) return this.opts.ordered ? this.finishOrdered(out, Infinity) : out;
    const cutoff = monoNowNs();
    if (this.readInto(out, this.opts.maxPagesPerPoll ?? 4096)) this.completeUntilNs = cutoff;
    this.losses();
    return this.opts.ordered ? this.finishOrdered(out, cutoff) : out;
  }

  /** Reads each CPU's buffer up to maxPages pages; true if every one was emptied. */
  private readInto(out: E[], maxPages: number): boolean {
    let emptied = true;
    for (const c of this.fds) {
      const { cpu, fd } = c;
      let empty = false;
      for (let i = 0; i < maxPages; i++) {
        let n: number;
        try {
          n = readSync(fd, this.page, 0, this.pageSize, null);
        } catch (e) {
          const code = (e as NodeJS.ErrnoException).code;
          if (code === 'EAGAIN' || code === 'EWOULDBLOCK') empty = true;
          if (code === 'EAGAIN' || code === 'EWOULDBLOCK' || code === 'EINTR' || code === 'EBADF') break;
          throw e;
        }
        if (n <= 0) {
          empty = true;
          break;
        }
        this.pages++;
        const stats = walkPage(this.page, 0, n, this.layout, (buf, off, len, ts) => {
          const e = this.decode(buf, off, len, ts, cpu);
          if (e !== undefined) out.push(e);
        });
        this.events += stats.events;
        c.walked += stats.events;
        this.missedOnPages += stats.missedEvents;
        if (stats.missed) this.missedPages++;
        if (stats.corrupt) this.corruptPages++;
      }
      if (!empty) emptied = false;
    }
    return emptied;
  }

  private finishOrdered(out: E[], cutoff: number): E[] {
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

  /** Just before the instance closes: what is left in the buffers, and the final counts. */
  private readRest(): void {
    if (this.closed || this.inst.isClosed) return;
    try {
      const rest: E[] = [];
      this.readInto(rest, 1 << 16);
      for (const e of rest) this.pending.push(e);
      this.losses();
    } catch {
      /* closing regardless: what was counted stands */
    }
  }

  /**
   * Events lost before reaching us, by cause, summed over CPUs, from per_cpu/cpuN/stats (refreshed at every poll,
   * so the last counts stand once the instance is gone).
   */
  losses(): RawLosses {
    if (this.inst.isClosed || this.closed) return { ...this.last, overrun: Math.max(this.last.overrun, this.missedOnPages) };
    const l: RawLosses = { overrun: 0, commitOverrun: 0, dropped: 0, unparsed: 0 };
    for (const { cpu, walked } of this.fds) {
      let s: Record<string, number>;
      try {
        s = parseCpuStats(this.inst.read(`per_cpu/cpu${cpu}/stats`));
      } catch {
        return { ...this.last, overrun: Math.max(this.last.overrun, this.missedOnPages) }; // instance gone
      }
      l.overrun += s['overrun'] ?? 0;
      l.commitOverrun += s['commit overrun'] ?? 0;
      l.dropped += s['dropped events'] ?? 0;
      l.unparsed += Math.max(0, (s['read events'] ?? 0) - walked);
    }
    l.overrun = Math.max(l.overrun, this.missedOnPages);
    this.last = l;
    return { ...l };
  }

  /** Every event lost before reaching us (see losses()): overwritten, refused, or unreadable. */
  overruns(): number {
    const l = this.losses();
    return l.overrun + l.commitOverrun + l.dropped + l.unparsed;
  }

  /** Every event still held back (at stop). */
  drain(): E[] {
    const out = this.held.splice(0);
    for (const e of this.pending.splice(0)) out.push(e);
    if (this.opts.ordered) out.sort((a, b) => a.tsNs - b.tsNs);
    return out;
  }

  /** Keeps the final loss counts; events that arrive after the last poll are after the stop, not lost. */
  close(): void {
    if (!this.closed) this.losses();
    this.closed = true;
    for (const { fd } of this.fds) this.inst.closeFd(fd);
  }
}
