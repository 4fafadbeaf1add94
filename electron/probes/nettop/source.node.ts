// nettop's source: libpcap on the "any" device (every interface, including
// ones that come up later), in cooked v2 framing, whose header gives each
// packet's interface, the interface's ARPHRD type and the direction; --iface
// narrows it with an in-kernel "ifindex N" filter. Frames are counted by
// frames.ts (directions, byte lengths) into engine.ts (attribution, intervals).
// Socket owners come from /proc (attribution/socket-table.node.ts), scanned at
// start, when a packet's socket is not in the last snapshot (at most every
// MIN_SCAN_GAP_MS), and every REFRESH_MS while traffic flows — never per packet.

import { PcapCapture, type CapturedPacket } from '../../collector/capture/pcap.node.ts';
import type { ProbeSource } from '../../collector/source.ts';
import { scanSockets } from '../../collector/attribution/socket-table.node.ts';
import { InterfaceNames, listInterfaces } from '../../node/interfaces.node.ts';
import { LinkType } from '../../shared/packet.ts';
import { ProbeError } from '../../shared/probe-error.ts';
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

type Counts = { scans: number; scanMs: number };

export const nettopSource: ProbeSource<NettopOptions, NettopRow> = async (options, sink) => {
  const filter = ifindexFilter(options.ifaces);
  const counts: Counts = { scans: 0, scanMs: 0 };
  const names = new InterfaceNames();
  let stopped = false;

  let lastScanMs = 0;
  let scanTimer: NodeJS.Timeout | null = null;
  const scan = () => {
    if (scanTimer) clearTimeout(scanTimer);
    scanTimer = null;
    let r;
    try {
      r = scanSockets();
    } catch (e) {
      stopped = true;
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
  const engine = new NettopEngine({ startUs: startMs * 1000, intervalUs: intervalMs * 1000, now: Date.now, requestScan });
  scan();

  // The hot path: one call per captured frame (frames.ts).
  const frames = new FrameCounter(engine, (ifindex) => names.name(ifindex));
  const onPacket = (p: CapturedPacket) => frames.frame(p.data, p.offset, p.caplen, p.wireLen, p.time);

  let capture: PcapCapture;
  try {
    capture = new PcapCapture({ device: 'any', filter, direction: 'inout' }, onPacket);
  } catch (e) {
    if (scanTimer) clearTimeout(scanTimer);
    throw e;
  }
  if (capture.linkType !== LinkType.LINUX_SLL2) {
    capture.close();
    if (scanTimer) clearTimeout(scanTimer);
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
    if (scanTimer && engine.heldCount) scan(); // settle held packets before their table goes out
    sink.rows(engine.takeInterval(k));
    k++;
    schedule();
  };
  schedule();
  const refresh = setInterval(() => {
    if (!stopped && engine.active && !scanTimer) scan();
  }, REFRESH_MS);

  return {
    description: `libpcap on any (LINUX_SLL2)${options.ifaces.length ? ` for ${options.ifaces.join(', ')}` : ''}, socket owners from /proc, every ${options.interval} s`,
    counters: () => ({
      ...engine.counts,
      frames: frames.frames,
      scans: counts.scans,
      scanMs: Math.round(counts.scanMs),
      malformed: frames.malformed,
      kernelDrops: capture.kernelDrops(),
    }),
    stop: async () => {
      if (stopped) return;
      for (const until = Date.now() + DRAIN_MAX_MS; Date.now() < until; ) {
        const before = frames.frames;
        await new Promise((r) => setTimeout(r, QUIET_MS));
        if (frames.frames === before) break;
      }
      stopped = true;
      if (tickTimer) clearTimeout(tickTimer);
      clearInterval(refresh);
      capture.close();
      if (engine.heldCount) scan(); // settle the held packets for the last table
      if (scanTimer) clearTimeout(scanTimer);
      scanTimer = null;
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
