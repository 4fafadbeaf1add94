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
// When /proc is scanned and the tracepoints read is attribution/owner-watch.ts
// (shared with tcpdump --process). The four OS inputs — clock, /proc scanner,
// capture and tracer — are interfaces (NettopInputs), the real ones wired by
// default, so the scheduling (scan rate limit, rescan on a miss, retries of
// held packets, draining at stop) is unit tested with fakes, without root.

import { PcapCapture, type CapturedPacket } from '../../kernel/capture/pcap.node.ts';
import type { ProbeSource } from '../../runtime/source.ts';
import { OwnerWatch, systemClock, type OwnerClock, type OwnerTracer, type SocketScanner } from '../../attribution/owner-watch.ts';
import { startSystemTracer, systemScanner } from '../../attribution/system.node.ts';
import { InterfaceNames, listInterfaces } from '../../kernel/interfaces.node.ts';
import { LinkType } from '../../core/packet.ts';
import { ProbeError } from '../../core/probe-error.ts';
import type { NettopOptions, NettopRow } from './definition.ts';
import { NettopEngine } from './engine.ts';
import { FrameCounter } from './frames.ts';

export { MIN_SCAN_GAP_MS, REFRESH_MS, POLL_MS, type SocketScanner } from '../../attribution/owner-watch.ts';
/** An interval's table is taken this long after its end: packets reach us up to libpcap's read timeout (20 ms) late. */
export const GRACE_MS = 120;
/** On stop, libpcap's last blocks are read until no frame came for QUIET_MS (at most DRAIN_MAX_MS). */
export const QUIET_MS = 60;
export const DRAIN_MAX_MS = 600;

/** Wall time (ms, the capture's clock) and timers. */
export type NettopClock = OwnerClock;
/** The tracepoints that name the owners of short-lived sockets. */
export type NettopTracer = OwnerTracer;

/** An open capture on "any"; frames go to the callback given at open. */
export interface NettopCapture {
  readonly linkType: number;
  kernelDrops(): number;
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

/** The real inputs: the system clock, /proc, libpcap on "any" and the tracefs endpoint tracer. */
export const systemInputs: NettopInputs = {
  clock: systemClock,
  scanner: systemScanner,
  openCapture: (filter, onPacket) => new PcapCapture({ device: 'any', filter, direction: 'inout' }, onPacket),
  startTracer: startSystemTracer,
};

/** nettop's source on the given inputs (the real ones by default). */
export function createNettopSource(inputs: NettopInputs = systemInputs): ProbeSource<NettopOptions, NettopRow> {
  return async (options, sink) => {
    const { clock } = inputs;
    const filter = ifindexFilter(options.ifaces);
    let interfaceName = inputs.interfaceName;
    if (!interfaceName) {
      const names = new InterfaceNames();
      interfaceName = (ifindex) => names.name(ifindex);
    }

    const watch: OwnerWatch = new OwnerWatch(clock, inputs.scanner, inputs.startTracer(), {
      snapshot: (index, startedMs) => engine.setSnapshot(index, startedMs),
      recentAdvanced: () => engine.recentAdvanced(),
      recentDropped: () => engine.dropRecent(),
      active: () => engine.active,
      failed: (e) => sink.fail(e),
    });
    const intervalMs = options.interval * 1000;
    const startMs = clock.now();
    const engine: NettopEngine = new NettopEngine({ startUs: startMs * 1000, intervalUs: intervalMs * 1000, now: () => clock.now(), requestScan: () => watch.requestScan(), recent: watch.recent });
    watch.scan();

    // The hot path: one call per captured frame (frames.ts).
    const frames = new FrameCounter(engine, interfaceName);
    const onPacket = (p: CapturedPacket) => frames.frame(p.data, p.offset, p.caplen, p.wireLen, p.time);

    let capture: NettopCapture;
    try {
      capture = inputs.openCapture(filter, onPacket);
    } catch (e) {
      watch.cancelScan();
      watch.closeTracer();
      throw e;
    }
    if (capture.linkType !== LinkType.LINUX_SLL2) {
      capture.close();
      watch.cancelScan();
      watch.closeTracer();
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
      if (watch.stopped) return;
      watch.pollTrace();
      if (watch.scanPending && engine.heldCount) watch.scan(); // settle held packets before their table goes out
      sink.rows(engine.takeInterval(interval));
      interval++;
      schedule();
    };
    schedule();
    watch.start();

    let finished = false;
    return {
      description: `libpcap on any (LINUX_SLL2)${options.ifaces.length ? ` for ${options.ifaces.join(', ')}` : ''}, ${watch.describe()}, every ${options.interval} s`,
      use: { facility: 'libpcap', lacks: watch.lacks() },
      counters: () => ({
        ...engine.counts,
        ...watch.counters(),
        frames: frames.frames,
        malformed: frames.malformed,
        kernelDrops: capture.kernelDrops(),
      }),
      stop: async () => {
        if (finished) return;
        finished = true;
        // After a failure (stopped already) there is nothing left to drain, but timers, capture and tracefs still go.
        for (const until = clock.now() + DRAIN_MAX_MS; !watch.stopped && clock.now() < until; ) {
          const before = frames.frames;
          await new Promise<void>((resolve) => clock.setTimeout(resolve, QUIET_MS));
          if (frames.frames === before) break;
        }
        watch.stopTimers();
        if (tickTimer !== null) clock.clearTimeout(tickTimer);
        capture.close();
        watch.pollTrace(true); // every event up to now: the held packets' senders are in
        engine.recentFinished();
        if (engine.heldCount) watch.scan(); // settle the held packets for the last table
        watch.cancelScan();
        watch.closeTracer();
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
