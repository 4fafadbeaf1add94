// The tcpdump probe's source: libpcap on the "any" device (every interface,
// including ones that come up later; the cooked header names the interface)
// or on each named interface; or, with --read, a capture file (read.node.ts).
// With --process each packet's process is found as nettop finds it (the shared
// attribution/: /proc snapshots and tracepoints, scheduled by OwnerWatch) and
// written into the row and the pcapng export's comment.

import { DEFAULT_SNAPLEN, PcapCapture, type CapturedPacket } from '../../kernel/capture/pcap.node.ts';
import { FrameRing } from '../../core/frame-ring.ts';
import type { ProbeSource, ProbeSink, RunningProbe } from '../../runtime/source.ts';
import { InterfaceNames } from '../../kernel/interfaces.node.ts';
import { LINK_TYPE_NAMES, type Decoded } from '../../core/packet.ts';
import { OwnerWatch, systemClock } from '../../attribution/owner-watch.ts';
import { startSystemTracer, systemScanner } from '../../attribution/system.node.ts';
import { localAddresses } from '../../attribution/socket-table.node.ts';
import type { Owner } from '../../attribution/owner.ts';
import { EXPORT_FRAMES, type PacketRow, type TcpdumpOptions } from './definition.ts';
import { FrameRows } from './rows.ts';
import { PacketOwners } from './owners.ts';
import { readCaptureFile } from './read.node.ts';

/** A row with the ring's number of its frame, while its owner is being decided. */
type Pending = { row: PacketRow; frame: number };

export const tcpdumpSource: ProbeSource<TcpdumpOptions, PacketRow> = async (options, sink) => {
  const only = processFilter(options, sink);
  const running = options.read ? await readCaptureFile(options, only?.sink ?? sink) : await capture(options, only?.sink ?? sink, !!only);
  if (!only) return running;
  return { ...running, description: `${running.description}, only ${only.what}`, counters: () => ({ ...running.counters(), otherProcess: only.left }) };
};

/**
 * --pid, --comm: only that process's rows go on, the rest are counted. Decided here, in the collector, on the owner
 * the attribution gives each packet (or a file's comments give it), so the others never cross to the host.
 */
function processFilter(options: TcpdumpOptions, sink: ProbeSink<PacketRow>): { sink: ProbeSink<PacketRow>; what: string; readonly left: number } | null {
  const pid = options.pid || 0;
  const comm = options.comm || '';
  if (!pid && !comm) return null;
  const keep = (r: PacketRow) => (!pid || r.pid === pid) && (!comm || r.command === comm);
  const f = {
    left: 0,
    what: [pid ? `PID ${pid}` : '', comm ? `command '${comm}'` : ''].filter(Boolean).join(' and '),
    sink: {
      ...sink,
      row: (r: PacketRow) => (keep(r) ? sink.row(r) : void f.left++),
      rows: (rows: PacketRow[]) => {
        const kept = rows.filter(keep);
        f.left += rows.length - kept.length;
        if (kept.length) sink.rows(kept);
      },
    },
  };
  return f;
}

async function capture(options: TcpdumpOptions, sink: ProbeSink<PacketRow>, attribute: boolean): Promise<RunningProbe> {
  const devices = options.ifaces.length ? [...new Set(options.ifaces)] : ['any'];
  const names = new InterfaceNames();
  const frames = new FrameRows();
  const captures: PcapCapture[] = [];
  // The newest frames as captured, for a pcapng export.
  const ring = new FrameRing(EXPORT_FRAMES, DEFAULT_SNAPLEN);
  // --pid and --comm need each packet's owner too, whether or not its columns are shown.
  const owners = options.process || attribute ? startOwners(ring, sink) : null;

  const handle = (device: string, iface: number) => {
    const devName = (d: Decoded) => (d.ifindex >= 0 ? names.name(d.ifindex) : device);
    return (p: CapturedPacket) => onFrame(p, iface, devName);
  };
  const onFrame = (p: CapturedPacket, iface: number, devName: (d: Decoded) => string) => {
    const frame = ring.add(iface, p.time, p.data, p.offset, p.caplen, p.wireLen);
    const r = frames.row(p.linkType, p.data, p.offset, p.caplen, p.wireLen, p.time, devName);
    if (!r) return;
    if (!owners) sink.row(r.row);
    else owners.packets.packet({ row: r.row, frame }, r.decoded.proto, r.decoded.src, r.decoded.sport, r.decoded.dst, r.decoded.dport, r.decoded.tcpFlags, p.time);
  };

  try {
    for (const device of devices) {
      const iface = ring.interfaces.length; // this capture's index in the export, registered once it is open
      const onPacket = handle(device, iface);
      const direction = options.bothDirections ? 'inout' : 'in';
      // The filter is the user's: checked under a time bound and compiled off the event loop.
      const capture = await PcapCapture.open({ device, filter: options.filter, direction }, onPacket);
      captures.push(capture);
      ring.addInterface({ name: device, linkType: capture.linkType, snaplen: DEFAULT_SNAPLEN });
    }
  } catch (e) {
    for (const c of captures) c.close();
    owners?.stop();
    throw e;
  }
  owners?.watch.start();

  const described = captures.map((c) => `${c.options.device} (${LINK_TYPE_NAMES[c.linkType] ?? `DLT ${c.linkType}`})`);
  return {
    description:
      `libpcap on ${described.join(', ')}, ${options.bothDirections ? 'both directions' : 'received packets'}${options.filter ? `, filter '${options.filter}'` : ''}` +
      (owners ? `, processes: ${owners.watch.describe()}` : ''),
    use: { facility: 'libpcap', lacks: owners?.watch.lacks() ?? [] },
    counters: () => ({
      ...frames.counts,
      kernelDrops: captures.reduce((n, c) => n + c.kernelDrops(), 0),
      ...owners?.packets.counts,
      ...(owners ? { traceOverruns: owners.watch.counters().traceOverruns, scans: owners.watch.counters().scans } : {}),
    }),
    stop: async () => {
      for (const c of captures) c.close();
      owners?.stop();
    },
    capturedFrames: () => ({ interfaces: ring.interfaces, packets: ring.packets() }),
  };
}

/** --process: the attribution, fed by /proc and the tracepoints; each row leaves with its owner, in capture order. */
function startOwners(ring: FrameRing, sink: ProbeSink<PacketRow>) {
  const watch: OwnerWatch = new OwnerWatch(systemClock, systemScanner, startSystemTracer(), {
    snapshot: (index, startedMs) => packets.setSnapshot(index, startedMs, localAddresses()),
    recentAdvanced: () => packets.recentAdvanced(),
    recentDropped: () => packets.dropRecent(),
    active: () => packets.active,
    failed: (e) => sink.fail(e),
  });
  const packets: PacketOwners<Pending> = new PacketOwners<Pending>({
    now: Date.now,
    requestScan: () => watch.requestScan(),
    recent: watch.recent,
    emit: ({ row, frame }, owner: Owner) => {
      row.pid = owner.pid;
      row.command = owner.command;
      row.uid = owner.uid;
      row.cgroup = owner.cgroup ?? '';
      ring.setOwner(frame, row);
      sink.row(row);
    },
  });
  watch.scan();
  let stopped = false;
  return {
    watch,
    packets,
    stop: () => {
      if (stopped) return;
      stopped = true;
      watch.stopTimers();
      watch.pollTrace(true);
      packets.recentFinished();
      if (packets.waiting) watch.scan();
      watch.cancelScan();
      watch.closeTracer();
      packets.finish();
    },
  };
}
