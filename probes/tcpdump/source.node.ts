// The tcpdump probe's source: libpcap on the "any" device (every interface,
// including ones that come up later; the cooked header names the interface)
// or on each named interface.

import { DEFAULT_SNAPLEN, PcapCapture, type CapturedPacket } from '../../kernel/capture/pcap.node.ts';
import { FrameRing } from '../../core/frame-ring.ts';
import type { ProbeSource } from '../../runtime/source.ts';
import { InterfaceNames } from '../../kernel/interfaces.node.ts';
import { decodeFrame, LINK_TYPE_NAMES, TcpFlag } from '../../core/packet.ts';
import type { PacketRow, TcpdumpOptions } from './definition.ts';

const EXPORT_FRAMES = 10_000;

type Counts = { seen: number; rows: number; notIp: number; otherProto: number; malformed: number; truncated: number; ipTruncated: number };

export const tcpdumpSource: ProbeSource<TcpdumpOptions, PacketRow> = async (options, sink) => {
  const devices = options.ifaces.length ? [...new Set(options.ifaces)] : ['any'];
  const names = new InterfaceNames();
  const counts: Counts = { seen: 0, rows: 0, notIp: 0, otherProto: 0, malformed: 0, truncated: 0, ipTruncated: 0 };
  const captures: PcapCapture[] = [];
  // The newest frames as captured, for a pcapng export (10,000 × the snap length: ~2.5 MiB).
  const ring = new FrameRing(EXPORT_FRAMES, DEFAULT_SNAPLEN);

  const handle = (device: string, iface: number) => (p: CapturedPacket) => {
    counts.seen++;
    ring.add(iface, p.time, p.data, p.offset, p.caplen, p.wireLen);
    const d = decodeFrame(p.linkType, p.data, p.offset, p.caplen, p.wireLen);
    if (typeof d === 'string') {
      if (d === 'not-ip') counts.notIp++;
      else if (d === 'other-protocol') counts.otherProto++;
      else if (d === 'truncated') counts.truncated++;
      else counts.malformed++;
      return;
    }
    counts.rows++;
    if (d.ipTruncated) counts.ipTruncated++;
    const f = d.tcpFlags;
    sink.row({
      time: p.time,
      dev: d.ifindex >= 0 ? names.name(d.ifindex) : device,
      src: d.src,
      dst: d.dst,
      sport: d.sport,
      dport: d.dport,
      proto: d.proto,
      urg: (f & TcpFlag.URG) !== 0,
      ack: (f & TcpFlag.ACK) !== 0,
      psh: (f & TcpFlag.PSH) !== 0,
      rst: (f & TcpFlag.RST) !== 0,
      syn: (f & TcpFlag.SYN) !== 0,
      fin: (f & TcpFlag.FIN) !== 0,
      length: d.ipLen,
    });
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
    throw e;
  }

  const described = captures.map((c) => `${c.options.device} (${LINK_TYPE_NAMES[c.linkType] ?? `DLT ${c.linkType}`})`);
  return {
    description: `libpcap on ${described.join(', ')}, ${options.bothDirections ? 'both directions' : 'received packets'}${options.filter ? `, filter '${options.filter}'` : ''}`,
    use: { facility: 'libpcap', lacks: [] },
    counters: () => ({ ...counts, kernelDrops: captures.reduce((n, c) => n + c.kernelDrops(), 0) }),
    stop: async () => {
      for (const c of captures) c.close();
    },
    capturedFrames: () => ({ interfaces: ring.interfaces, packets: ring.packets() }),
  };
};
