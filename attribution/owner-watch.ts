// When the socket owners are looked at again: the scheduling that feeds an
// Attributor, shared by nettop and tcpdump. /proc is scanned at start, when a
// packet's socket is not in the last snapshot (at most every MIN_SCAN_GAP_MS),
// and every REFRESH_MS while traffic flows — never per packet. The tracepoints
// that name short-lived sockets' owners are read every POLL_MS and before each
// scan; if they fail, /proc alone from then on (counted). Pure: the clock, the
// scanner and the tracer are handed in (the real ones are in the probes'
// sources), so this is unit tested with fakes through nettop's source.

import { ProbeError } from '../core/probe-error.ts';
import type { Lack } from '../runtime/source.ts';
import type { SocketSnapshot } from './flow-cache.ts';
import type { EndpointLookup } from './recent-endpoints.ts';

/** Rescans of /proc on demand are at least this far apart. */
export const MIN_SCAN_GAP_MS = 100;
/** While traffic flows, /proc is rescanned this often to confirm live owners and let dead ones expire. */
export const REFRESH_MS = 2000;
/** The tracepoints' ring buffers are read this often (and before every /proc scan). */
export const POLL_MS = 40;

/** Wall time (ms, the capture's clock) and timers. */
export interface OwnerClock {
  now(): number;
  setTimeout(run: () => void, ms: number): unknown;
  clearTimeout(timer: unknown): void;
  setInterval(run: () => void, ms: number): unknown;
  clearInterval(timer: unknown): void;
}

export const systemClock: OwnerClock = {
  now: Date.now,
  setTimeout: (run, ms) => setTimeout(run, ms),
  clearTimeout: (timer) => clearTimeout(timer as ReturnType<typeof setTimeout>),
  setInterval: (run, ms) => setInterval(run, ms),
  clearInterval: (timer) => clearInterval(timer as ReturnType<typeof setInterval>),
};

/** One /proc scan: the sockets' snapshot, when the scan began (ms) and how long it took. Throws if /proc cannot be read. */
export interface SocketScanner {
  scan(): { index: SocketSnapshot; startedMs: number; tookMs: number };
}

/** The tracepoints that name the owners of short-lived sockets (the public face of EndpointTracer). */
export interface OwnerTracer {
  readonly table: EndpointLookup & { readonly counts: { evicted: number; lossy: number } };
  readonly tracepoints: readonly string[];
  readonly counts: { unresolved: number };
  /** Reads what the kernel has now; true if the table is complete up to a later time. `last`: no event is left. */
  poll(last?: boolean): boolean;
  overruns(): number;
  close(): void;
}

/** What the watch tells its attribution (an engine): each is called on the watch's own schedule. */
export interface OwnerWatchHooks {
  /** A new snapshot, whose scan began at startedMs. */
  snapshot(index: SocketSnapshot, startedMs: number): void;
  /** The tracepoints were read further: held packets they can now decide may be decided. */
  recentAdvanced(): void;
  /** The tracepoints failed: /proc alone from here on. */
  recentDropped(): void;
  /** True if packets came since the last snapshot (the periodic refresh is only worth it then). */
  active(): boolean;
  /** /proc cannot be read: the probe cannot go on. */
  failed(error: ProbeError): void;
}

export class OwnerWatch {
  private tracer: OwnerTracer | null = null;
  /** The tracer as started, for its counts after it is closed. */
  private readonly traced: OwnerTracer | null;
  private traceWhy = '';
  private traceFailed = 0;
  private scans = 0;
  private scanMs = 0;
  private lastScanMs = 0;
  private scanTimer: unknown = null;
  private timers: unknown[] = [];
  /** Set when /proc failed or the watch stopped: nothing is scheduled any more. */
  stopped = false;

  constructor(
    private readonly clock: OwnerClock,
    private readonly scanner: SocketScanner,
    started: OwnerTracer | { unavailable: string },
    private readonly hooks: OwnerWatchHooks,
  ) {
    if ('unavailable' in started) this.traceWhy = started.unavailable;
    else this.tracer = started;
    this.traced = this.tracer;
  }

  /** The recent endpoints the attributor asks, or null: /proc alone. */
  get recent(): EndpointLookup | null {
    return this.tracer?.table ?? null;
  }

  /** True while a scan is asked for and not yet done. */
  get scanPending(): boolean {
    return this.scanTimer !== null;
  }

  /** Reads the tracepoints; the attribution then decides the held packets they can now decide. */
  pollTrace(last = false): void {
    if (!this.tracer) return;
    try {
      if (this.tracer.poll(last)) this.hooks.recentAdvanced();
    } catch (e) {
      // Not fatal: /proc alone from here on (counted as traceFailed), the held packets decided without them.
      this.traceWhy = `tracepoints failed: ${e instanceof Error ? e.message : String(e)}`;
      this.traceFailed++;
      this.tracer.close();
      this.tracer = null;
      this.hooks.recentDropped();
    }
  }

  /** Scans /proc now (after reading the tracepoints: what /proc no longer shows, they can name). */
  scan(): void {
    this.cancelScan();
    this.pollTrace();
    let result;
    try {
      result = this.scanner.scan();
    } catch (e) {
      this.stopped = true;
      this.closeTracer();
      this.hooks.failed(new ProbeError('feature', `cannot read /proc for socket owners: ${e instanceof Error ? e.message : String(e)}`));
      return;
    }
    this.scans++;
    this.scanMs += result.tookMs;
    this.lastScanMs = result.startedMs;
    this.hooks.snapshot(result.index, result.startedMs);
  }

  /** Asks for a scan, at least MIN_SCAN_GAP_MS after the last. */
  requestScan(): void {
    if (this.scanTimer !== null || this.stopped) return;
    // Never 0 ms: the rest of the current libpcap batch is handled first, and its misses share this scan.
    this.scanTimer = this.clock.setTimeout(() => this.scan(), Math.max(1, this.lastScanMs + MIN_SCAN_GAP_MS - this.clock.now()));
  }

  /** Starts the periodic refresh and the tracepoints' reads. */
  start(): void {
    this.timers = [
      this.clock.setInterval(() => {
        if (!this.stopped && this.hooks.active() && this.scanTimer === null) this.scan();
      }, REFRESH_MS),
      this.clock.setInterval(() => {
        if (!this.stopped) this.pollTrace();
      }, POLL_MS),
    ];
  }

  /** Stops the timers (a scan or a last read of the tracepoints may still be done by hand). */
  stopTimers(): void {
    this.stopped = true;
    for (const t of this.timers) this.clock.clearInterval(t);
    this.timers = [];
  }

  cancelScan(): void {
    if (this.scanTimer !== null) this.clock.clearTimeout(this.scanTimer);
    this.scanTimer = null;
  }

  closeTracer(): void {
    this.tracer?.close();
    this.tracer = null;
  }

  /** Where owners come from, for the source's description. */
  describe(): string {
    return this.tracer
      ? `socket owners from /proc and, for short-lived sockets, tracepoints ${this.tracer.tracepoints.join(', ')} (private tracefs instances)`
      : `socket owners from /proc only (short-lived sockets may be unknown: ${this.traceWhy})`;
  }

  lacks(): Lack[] {
    return this.tracer ? [] : [{ feature: 'tracepoints for short-lived sockets', fallback: 'socket owners from /proc only (short-lived sockets may be unknown)', reason: this.traceWhy }];
  }

  counters(): { traceOverruns: number; traceEvicted: number; traceUnresolved: number; traceLossy: number; traceFailed: number; scans: number; scanMs: number } {
    const t = this.traced;
    return {
      traceOverruns: t?.overruns() ?? 0,
      traceEvicted: t?.table.counts.evicted ?? 0,
      traceUnresolved: t?.counts.unresolved ?? 0,
      traceLossy: t?.table.counts.lossy ?? 0,
      traceFailed: this.traceFailed,
      scans: this.scans,
      scanMs: Math.round(this.scanMs),
    };
  }
}
