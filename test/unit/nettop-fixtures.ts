// Real /proc text captured on the development machine (see nettop-proc-net.test.ts for what it holds).

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parseProcNet, type ProcSocket } from '../../core/procfs/proc-net.ts';

export const fixture = (name: string): string => readFileSync(new URL(`../fixtures/nettop/${name}`, import.meta.url), 'utf8');

export function fixtureSockets(): ProcSocket[] {
  return [
    ...parseProcNet(fixture('proc-net-tcp.txt'), 'TCP', 4).sockets,
    ...parseProcNet(fixture('proc-net-tcp6.txt'), 'TCP', 6).sockets,
    ...parseProcNet(fixture('proc-net-udp.txt'), 'UDP', 4).sockets,
    ...parseProcNet(fixture('proc-net-udp6.txt'), 'UDP', 6).sockets,
  ];
}

/** One record of a pcap file: capture time (µs since the epoch), the bytes captured and the length on the wire. */
export interface PcapRecord {
  timeUs: number;
  data: Uint8Array;
  wireLen: number;
}

/** The records of a little-endian µs pcap file of LINUX_SLL2 frames (test/fixtures/nettop/). */
export function readSll2Pcap(name: string): PcapRecord[] {
  const bytes = readFileSync(new URL(`../fixtures/nettop/${name}`, import.meta.url));
  assert.equal(bytes.readUInt32LE(0), 0xa1b2c3d4, 'little-endian µs pcap');
  assert.equal(bytes.readUInt32LE(20), 276, 'LINUX_SLL2');
  const records: PcapRecord[] = [];
  for (let off = 24; off + 16 <= bytes.length; ) {
    const included = bytes.readUInt32LE(off + 8);
    records.push({ timeUs: bytes.readUInt32LE(off) * 1e6 + bytes.readUInt32LE(off + 4), wireLen: bytes.readUInt32LE(off + 12), data: bytes.subarray(off + 16, off + 16 + included) });
    off += 16 + included;
  }
  return records;
}

/** A LINUX_SLL2 frame of an IPv4 UDP datagram on lo (ifindex 1), as libpcap on "any" gives it: `payload` bytes of data. */
export function loUdpFrame(src: string, sport: number, dst: string, dport: number, payload: number): Uint8Array {
  const frame = new Uint8Array(20 + 20 + 8 + payload);
  const view = new DataView(frame.buffer);
  view.setUint16(0, 0x0800); // IPv4
  view.setUint32(4, 1); // ifindex of lo
  view.setUint16(8, 772); // ARPHRD_LOOPBACK
  frame[10] = 0; // PACKET_HOST: libpcap keeps lo's incoming copy
  frame[11] = 6;
  frame[20] = 0x45;
  view.setUint16(22, 20 + 8 + payload);
  frame[28] = 64;
  frame[29] = 17; // UDP
  frame.set(src.split('.').map(Number), 32);
  frame.set(dst.split('.').map(Number), 36);
  view.setUint16(40, sport);
  view.setUint16(42, dport);
  view.setUint16(44, 8 + payload);
  return frame;
}

/** A /proc/net socket line as parsed (state 7: TCP_CLOSE, an unconnected UDP socket). */
export const procSocket = (proto: 'TCP' | 'UDP', localIp: string, localPort: number, remoteIp: string, remotePort: number, inode: number, state = 7): ProcSocket => ({
  proto, family: localIp.includes(':') ? 6 : 4, localIp, localPort, remoteIp, remotePort, state, uid: 0, inode,
});
