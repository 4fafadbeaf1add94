// One frame in, one packet row (or a count of why not) out: the same for live
// capture and for a capture file read again, so both give the same rows. Pure.

import { decodeFrame, PacketType, TcpFlag, type Decoded } from '../../core/packet.ts';
import type { PacketRow } from './definition.ts';

export type FrameCounts = { seen: number; rows: number; notIp: number; otherProto: number; malformed: number; truncated: number; ipTruncated: number };

export class FrameRows {
  readonly counts: FrameCounts = { seen: 0, rows: 0, notIp: 0, otherProto: 0, malformed: 0, truncated: 0, ipTruncated: 0 };

  /** The row of a frame, with its decoded headers; null (counted) if it is not a TCP/UDP packet. */
  row(linkType: number, buf: Uint8Array, offset: number, caplen: number, wireLen: number, time: number, dev: (d: Decoded) => string): { row: PacketRow; decoded: Decoded } | null {
    const counts = this.counts;
    counts.seen++;
    const d = decodeFrame(linkType, buf, offset, caplen, wireLen);
    if (typeof d === 'string') {
      if (d === 'not-ip') counts.notIp++;
      else if (d === 'other-protocol') counts.otherProto++;
      else if (d === 'truncated') counts.truncated++;
      else counts.malformed++;
      return null;
    }
    counts.rows++;
    if (d.ipTruncated) counts.ipTruncated++;
    const f = d.tcpFlags;
    const row: PacketRow = {
      time,
      dev: dev(d),
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
      pid: -1,
      command: '',
      uid: -1,
      cgroup: '',
    };
    return { row, decoded: d };
  }
}

/** A frame libpcap's "in" direction would not have given: sent by this host (cooked captures say so). */
export function isOutgoing(d: Decoded): boolean {
  return d.pktType === PacketType.OUTGOING;
}
