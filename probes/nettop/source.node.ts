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

import { PcapCapture, type CapturedPacket } from '../../kernel/capture/pcap.node.ts';
import type { ProbeSource } from '../../runtime/source.ts';
import { scanSockets } from './attribution/socket-table.node.ts';
import { startEndpointTracer, type EndpointTracer } from './attribution/recent-endpoints-trace.node.ts';
import { InterfaceNames, listInterfaces } from '../../kernel/interfaces.node.ts';
import { LinkType } from '../../core/packet.ts';
import { ProbeError } from '../../core/probe-error.ts';
import type { NettopOptions, NettopRow } from './definition.ts';
import { NettopEngine } from './engine.ts';
import { FrameCounter } from './frames.ts';

/** Rescans of /proc on demand are at least this far apart. */
const MIN_SCAN_GAP_MS = 100;
/** While traffic flows, /proc is rescanned this often to confirm live owners and let dead ones expire. */
const REFRESH_MS = 2000;
/** An interval's table is taken this long after its end: packets reach us up to libpcap's read timeout (20 ms) late. */
const GRACE_MS = 120;
/** On stop, libpcap's last blocks are read until no frame came for QUIET_MS (at most DRAIN_MAX_MS). */
const QUIET_MS = 60;
const DRAIN_MAX_MS = 600;
/** The tracepoints' ring buffers are read this often (and before every /proc scan). */
const POLL_MS = 40;

type Counts = { scans: number; scanMs: number };

export const nettopSource: ProbeSource<NettopOptions, NettopRow> = async (options, sink) => {
  const filter = ifindexFilter(options.ifaces);
  const counts: Counts = { scans: 0, scanMs: 0 };
  const names = new InterfaceNames();
  let stopped = false;

  let tracer: EndpointTracer | null = null;
  let traceWhy = '';
  if (process.env.NETPROBES_NETTOP_TRACE === '0') traceWhy = 'tracepoints turned off by NETPROBES_NETTOP_TRACE=0';
  else {
    const t = startEndpointTracer();
    if ('unavailable' in t) traceWhy = t.unavailable;
    else tracer = t;
  }
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
  let traceFailed = 0;

  let lastScanMs = 0;
  let scanTimer: NodeJS.Timeout | null = null;
  const scan = () => {
    if (scanTimer) clearTimeout(scanTimer);
    scanTimer = null;
    pollTrace(); // every event before the scan is in the table: what /proc no longer shows, it can name
    let r;
    try {
      r = scanSockets();
    } catch (e) {
      stopped = true;
      tracer?.close();
      tracer = null;
      sink.fail(new ProbeError('feature', `cannot read /proc for socket owners: ${e instanceof Error ? e.message : String(e)}`));
      return;
    }
    counts.scans++;
    counts.scanMs += r.tookMs;
    lastScanMs = r.startedMs;
    engine.setSnapshot(r.index, r.startedMs);
  };
  const requestScan = () => {
    if (scanTimer || stopped) return;
    // Never 0 ms: the rest of the current libpcap batch is handled first, and its misses share this scan.
    scanTimer = setTimeout(scan, Math.max(1, lastScanMs + MIN_SCAN_GAP_MS - Date.now()));
  };

  const intervalMs = options.interval * 1000;
  const startMs = Date.now();
  const engine = new NettopEngine({ startUs: startMs * 1000, intervalUs: intervalMs * 1000, now: Date.now, requestScan, recent: tracer?.table ?? null });
  scan();

  // The hot path: one call per captured frame (frames.ts).
  const frames = new FrameCounter(engine, (ifindex) => names.name(ifindex));
  const onPacket = (p: CapturedPacket) => frames.frame(p.data, p.offset, p.caplen, p.wireLen, p.time);

  let capture: PcapCapture;
  try {
    capture = new PcapCapture({ device: 'any', filter, direction: 'inout' }, onPacket);
  } catch (e) {
    if (scanTimer) clearTimeout(scanTimer);
    tracer?.close();
    throw e;
  }
  if (capture.linkType !== LinkType.LINUX_SLL2) {
    capture.close();
    if (scanTimer) clearTimeout(scanTimer);
    tracer?.close();
    throw new ProbeError('feature', `libpcap gave link type ${capture.linkType} on "any", not LINUX_SLL2 (276): nettop needs libpcap 1.10 or later`);
  }

  // One table per interval, each taken GRACE_MS after its end so late packets still make it.
  let k = 0;
  let tickTimer: NodeJS.Timeout | null = null;
  const schedule = () => {
    const due = engine.intervalEnd(k) / 1000 + GRACE_MS;
    tickTimer = setTimeout(tick, Math.max(0, due - Date.now()));
  };
  const tick = () => {
    if (stopped) return;
    pollTrace();
    if (scanTimer && engine.heldCount) scan(); // settle held packets before their table goes out
    sink.rows(engine.takeInterval(k));
    k++;
    schedule();
  };
  schedule();
  const refresh = setInterval(() => {
    if (!stopped && engine.active && !scanTimer) scan();
  }, REFRESH_MS);
  const tracePoll = setInterval(() => {
    if (!stopped) pollTrace();
  }, POLL_MS);

  let finished = false;
  /** The tracer as started, for its counts after it is closed. */
  const traced = tracer as EndpointTracer | null;
  return {
    description:
      `libpcap on any (LINUX_SLL2)${options.ifaces.length ? ` for ${options.ifaces.join(', ')}` : ''}, ` +
      (tracer
        ? `socket owners from /proc and, for short-lived sockets, tracepoints ${tracer.tracepoints.join(', ')} (private tracefs instances)`
        : `socket owners from /proc only (short-lived sockets may be unknown: ${traceWhy})`) +
      `, every ${options.interval} s`,
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
      for (const until = Date.now() + DRAIN_MAX_MS; !stopped && Date.now() < until; ) {
        const before = frames.frames;
        await new Promise((r) => setTimeout(r, QUIET_MS));
        if (frames.frames === before) break;
      }
      stopped = true;
      if (tickTimer) clearTimeout(tickTimer);
      clearInterval(refresh);
      clearInterval(tracePoll);
      capture.close();
      pollTrace(true); // every event up to now: the held packets' senders are in
      engine.recentFinished();
      if (engine.heldCount) scan(); // settle the held packets for the last table
      if (scanTimer) clearTimeout(scanTimer);
      scanTimer = null;
      tracer?.close();
      // As nettop.stp's `probe end`: the interval in progress is printed too, its TIME being the stop.
      const rows = engine.takeInterval(k);
      const nowUs = Date.now() * 1000;
      for (const r of rows) r.time = Math.min(r.time, nowUs);
      sink.rows(rows);
    },
  };
};

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
