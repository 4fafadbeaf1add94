// nettop's source: libpcap on the "any" device (every interface, including
// ones that come up later), in cooked v2 framing, whose header gives each
// packet's interface, the interface's ARPHRD type and the direction; --iface
// narrows it with an in-kernel "ifindex N" filter. Frames are counted by
// frames.ts (directions, byte lengths) into engine.ts (attribution, intervals).
// Socket owners come from /proc (attribution/socket-table.node.ts), scanned at
// start, when a packet's socket is not in the last snapshot (at most every
// MIN_SCAN_GAP_MS), and every REFRESH_MS while traffic flows — never per packet.
// Sockets too short-lived for /proc (opened, used and closed between two scans)
// are named by tracepoints in the sending task's context, in a private tracefs
// instance (attribution/recent-endpoints-trace.node.ts), read every POLL_MS,
// before each scan and before each interval's table goes out; packets that
// need them wait until they are read up to the packet's time. Without tracefs
// (or with NETPROBES_NETTOP_TRACE=0) /proc alone names owners, and such
// sockets' packets are unknown. The description says which is in use.
//
// The four OS inputs — clock, /proc scanner, capture and tracer — are
// interfaces (NettopInputs), the real ones wired by default, so the scheduling
// here (scan rate limit, rescan on a miss, retries of held packets, draining at
// stop) is unit tested with fakes, without root.

import { PcapCapture, type CapturedPacket } from '../../kernel/capture/pcap.node.ts';
import type { ProbeSource } from '../../runtime/source.ts';
import { scanSockets } from './attribution/socket-table.node.ts';
import { startEndpointTracer } from './attribution/recent-endpoints-trace.node.ts';
import type { EndpointLookup } from './attribution/recent-endpoints.ts';
import { InterfaceNames, listInterfaces } from '../../kernel/interfaces.node.ts';
import { LinkType } from '../../core/packet.ts';
import { ProbeError } from '../../core/probe-error.ts';
import type { NettopOptions, NettopRow } from './definition.ts';
import { NettopEngine } from './engine.ts';
import type { SocketSnapshot } from './flow-cache.ts';
import { FrameCounter } from './frames.ts';

/** Rescans of /proc on demand are at least this far apart. */
export const MIN_SCAN_GAP_MS = 100;
/** While traffic flows, /proc is rescanned this often to confirm live owners and let dead ones expire. */
export const REFRESH_MS = 2000;
/** An interval's table is taken this long after its end: packets reach us up to libpcap's read timeout (20 ms) late. */
export const GRACE_MS = 120;
/** On stop, libpcap's last blocks are read until no frame came for QUIET_MS (at most DRAIN_MAX_MS). */
export const QUIET_MS = 60;
export const DRAIN_MAX_MS = 600;
/** The tracepoints' ring buffers are read this often (and before every /proc scan). */
export const POLL_MS = 40;

/** Wall time (ms, the capture's clock) and timers. */
export interface NettopClock {
  now(): number;
  setTimeout(run: () => void, ms: number): unknown;
  clearTimeout(timer: unknown): void;
  setInterval(run: () => void, ms: number): unknown;
  clearInterval(timer: unknown): void;
}

/** One /proc scan: the sockets' snapshot, when the scan began (ms) and how long it took. Throws if /proc cannot be read. */
export interface SocketScanner {
  scan(): { index: SocketSnapshot; startedMs: number; tookMs: number };
}

/** An open capture on "any"; frames go to the callback given at open. */
export interface NettopCapture {
  readonly linkType: number;
  kernelDrops(): number;
  close(): void;
}

/** The tracepoints that name the owners of short-lived sockets (the public face of EndpointTracer). */
export interface NettopTracer {
  readonly table: EndpointLookup & { readonly counts: { evicted: number; lossy: number } };
  readonly tracepoints: readonly string[];
  readonly counts: { unresolved: number };
  /** Reads what the kernel has now; true if the table is complete up to a later time. `last`: no event is left. */
  poll(last?: boolean): boolean;
  overruns(): number;
  close(): void;
}

export interface NettopInputs {
  clock: NettopClock;
  scanner: SocketScanner;
  /** Opens the capture with an in-kernel filter ('' for all); throws if it cannot. */
  openCapture(filter: string, onPacket: (packet: CapturedPacket) => void): NettopCapture;
  /** Starts the tracer, or says why it is not available. */
  startTracer(): NettopTracer | { unavailable: string };
  /** ifindex → interface name. */
  interfaceName?(ifindex: number): string;
}

const systemClock: NettopClock = {
  now: Date.now,
  setTimeout: (run, ms) => setTimeout(run, ms),
  clearTimeout: (timer) => clearTimeout(timer as NodeJS.Timeout),
  setInterval: (run, ms) => setInterval(run, ms),
  clearInterval: (timer) => clearInterval(timer as NodeJS.Timeout),
};

/** The real inputs: the system clock, /proc, libpcap on "any" and the tracefs endpoint tracer. */
export const systemInputs: NettopInputs = {
  clock: systemClock,
  scanner: { scan: () => scanSockets() },
  openCapture: (filter, onPacket) => new PcapCapture({ device: 'any', filter, direction: 'inout' }, onPacket),
  startTracer: () =>
    process.env.NETPROBES_NETTOP_TRACE === '0' ? { unavailable: 'tracepoints turned off by NETPROBES_NETTOP_TRACE=0' } : startEndpointTracer(),
};

type Counts = { scans: number; scanMs: number };

/** nettop's source on the given inputs (the real ones by default). */
export function createNettopSource(inputs: NettopInputs = systemInputs): ProbeSource<NettopOptions, NettopRow> {
  return async (options, sink) => {
    const { clock, scanner } = inputs;
    const filter = ifindexFilter(options.ifaces);
    const counts: Counts = { scans: 0, scanMs: 0 };
    let interfaceName = inputs.interfaceName;
    if (!interfaceName) {
      const names = new InterfaceNames();
      interfaceName = (ifindex) => names.name(ifindex);
    }
    let stopped = false;

    let tracer: NettopTracer | null = null;
    let traceWhy = '';
    const started = inputs.startTracer();
    if ('unavailable' in started) traceWhy = started.unavailable;
    else tracer = started;
    let traceFailed = 0;
    /** Reads the tracepoints; the engine then counts the held packets they can now decide. */
    const pollTrace = (last = false) => {
      if (!tracer) return;
      try {
        if (tracer.poll(last)) engine.recentAdvanced();
      } catch (e) {
        // Not fatal: /proc alone from here on (counted as traceFailed), the held packets decided without them.
        traceWhy = `tracepoints failed: ${e instanceof Error ? e.message : String(e)}`;
        traceFailed++;
        tracer.close();
        tracer = null;
        engine.dropRecent();
      }
    };

    let lastScanMs = 0;
    let scanTimer: unknown = null;
    const cancelScan = () => {
      if (scanTimer !== null) clock.clearTimeout(scanTimer);
      scanTimer = null;
    };
    const scan = () => {
      cancelScan();
      pollTrace(); // every event before the scan is in the table: what /proc no longer shows, it can name
      let result;
      try {
        result = scanner.scan();
      } catch (e) {
        stopped = true;
        tracer?.close();
        tracer = null;
        sink.fail(new ProbeError('feature', `cannot read /proc for socket owners: ${e instanceof Error ? e.message : String(e)}`));
        return;
      }
      counts.scans++;
      counts.scanMs += result.tookMs;
      lastScanMs = result.startedMs;
      engine.setSnapshot(result.index, result.startedMs);
    };
    const requestScan = () => {
      if (scanTimer !== null || stopped) return;
      // Never 0 ms: the rest of the current libpcap batch is handled first, and its misses share this scan.
      scanTimer = clock.setTimeout(scan, Math.max(1, lastScanMs + MIN_SCAN_GAP_MS - clock.now()));
    };

    const intervalMs = options.interval * 1000;
    const startMs = clock.now();
    const engine = new NettopEngine({ startUs: startMs * 1000, intervalUs: intervalMs * 1000, now: () => clock.now(), requestScan, recent: tracer?.table ?? null });
    scan();

    // The hot path: one call per captured frame (frames.ts).
    const frames = new FrameCounter(engine, interfaceName);
    const onPacket = (p: CapturedPacket) => frames.frame(p.data, p.offset, p.caplen, p.wireLen, p.time);

    let capture: NettopCapture;
    try {
      capture = inputs.openCapture(filter, onPacket);
    } catch (e) {
      cancelScan();
      tracer?.close();
      throw e;
    }
    if (capture.linkType !== LinkType.LINUX_SLL2) {
      capture.close();
      cancelScan();
      tracer?.close();
      throw new ProbeError('feature', `libpcap gave link type ${capture.linkType} on "any", not LINUX_SLL2 (276): nettop needs libpcap 1.10 or later`);
    }

    // One table per interval, each taken GRACE_MS after its end so late packets still make it.
    let interval = 0;
    let tickTimer: unknown = null;
    const schedule = () => {
      const due = engine.intervalEnd(interval) / 1000 + GRACE_MS;
      tickTimer = clock.setTimeout(tick, Math.max(0, due - clock.now()));
    };
    const tick = () => {
      if (stopped) return;
      pollTrace();
      if (scanTimer !== null && engine.heldCount) scan(); // settle held packets before their table goes out
      sink.rows(engine.takeInterval(interval));
      interval++;
      schedule();
    };
    schedule();
    const refresh = clock.setInterval(() => {
      if (!stopped && engine.active && scanTimer === null) scan();
    }, REFRESH_MS);
    const tracePoll = clock.setInterval(() => {
      if (!stopped) pollTrace();
    }, POLL_MS);

    let finished = false;
    /** The tracer as started, for its counts after it is closed. */
    const traced = tracer as NettopTracer | null;
    return {
      description:
        `libpcap on any (LINUX_SLL2)${options.ifaces.length ? ` for ${options.ifaces.join(', ')}` : ''}, ` +
        (tracer
          ? `socket owners from /proc and, for short-lived sockets, tracepoints ${tracer.tracepoints.join(', ')} (private tracefs instances)`
          : `socket owners from /proc only (short-lived sockets may be unknown: ${traceWhy})`) +
        `, every ${options.interval} s`,
      use: {
        facility: 'libpcap',
        lacks: tracer ? [] : [{ feature: 'tracepoints for short-lived sockets', fallback: 'socket owners from /proc only (short-lived sockets may be unknown)', reason: traceWhy }],
      },
      counters: () => ({
        ...engine.counts,
        traceOverruns: traced?.overruns() ?? 0,
        traceEvicted: traced?.table.counts.evicted ?? 0,
        traceUnresolved: traced?.counts.unresolved ?? 0,
        traceLossy: traced?.table.counts.lossy ?? 0,
        traceFailed,
        frames: frames.frames,
        scans: counts.scans,
        scanMs: Math.round(counts.scanMs),
        malformed: frames.malformed,
        kernelDrops: capture.kernelDrops(),
      }),
      stop: async () => {
        if (finished) return;
        finished = true;
        // After a failure (stopped already) there is nothing left to drain, but timers, capture and tracefs still go.
        for (const until = clock.now() + DRAIN_MAX_MS; !stopped && clock.now() < until; ) {
          const before = frames.frames;
          await new Promise<void>((resolve) => clock.setTimeout(resolve, QUIET_MS));
          if (frames.frames === before) break;
        }
        stopped = true;
        if (tickTimer !== null) clock.clearTimeout(tickTimer);
        clock.clearInterval(refresh);
        clock.clearInterval(tracePoll);
        capture.close();
        pollTrace(true); // every event up to now: the held packets' senders are in
        engine.recentFinished();
        if (engine.heldCount) scan(); // settle the held packets for the last table
        cancelScan();
        tracer?.close();
        // As nettop.stp's `probe end`: the interval in progress is printed too, its TIME being the stop.
        const rows = engine.takeInterval(interval);
        const nowUs = clock.now() * 1000;
        for (const row of rows) row.time = Math.min(row.time, nowUs);
        sink.rows(rows);
      },
    };
  };
}

export const nettopSource: ProbeSource<NettopOptions, NettopRow> = createNettopSource();

/** An in-kernel filter for the named interfaces on "any"; '' for all. */
function ifindexFilter(ifaces: readonly string[]): string {
  if (!ifaces.length) return '';
  const known = new Map(listInterfaces().map((i) => [i.name, i.ifindex]));
  const indexes = [...new Set(ifaces)].map((name) => {
    const ifindex = known.get(name);
    if (ifindex === undefined) {
      throw new ProbeError('input', `no interface named ${name} (have: ${[...known.keys()].join(', ')})`);
    }
    return ifindex;
  });
  return indexes.map((i) => `ifindex ${i}`).join(' or ');
}
