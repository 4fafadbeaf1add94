// Reads a classic pcap file (what tcpdump -w writes): link type and frames.
import { readFileSync } from 'node:fs';

export interface PcapFrame {
  data: Uint8Array;
  wireLen: number;
}

export function readPcap(file: string): { linkType: number; frames: PcapFrame[] } {
  const b = readFileSync(file);
  const magic = b.readUInt32LE(0);
  const le = magic === 0xa1b2c3d4 || magic === 0xa1b23c4d;
  const u32 = (o: number) => (le ? b.readUInt32LE(o) : b.readUInt32BE(o));
  const linkType = u32(20);
  const frames: PcapFrame[] = [];
  for (let o = 24; o + 16 <= b.length; ) {
    const caplen = u32(o + 8);
    const wireLen = u32(o + 12);
    frames.push({ data: new Uint8Array(b.subarray(o + 16, o + 16 + caplen)), wireLen });
    o += 16 + caplen;
  }
  return { linkType, frames };
}
