// Structure-aware frames: a link-layer header for each link type the decoder
// knows, 0-5 VLAN tags, IPv4 (options, fragments, odd header and total
// lengths) or IPv6 (chains of extension headers), then TCP, UDP or something
// else — mostly well formed, with each length field sometimes wrong, and the
// whole cut at a random snap length now and then. Plus the captured fixture
// frames (test/fixtures/*.pcap), re-wrapped for every link type.

import path from 'node:path';
import { readPcap } from '../helpers/pcap-file.ts';
import { concat } from './mutate.ts';
import type { Rng } from './rng.ts';

export interface FrameInput {
  linkType: number;
  bytes: Uint8Array;
  wireLen: number;
}

/** The link types decodeFrame knows (libpcap DLT_ values), with their fixed header length. */
export const LINKS = [
  { name: 'EN10MB', linkType: 1, header: 14, vlan: true },
  { name: 'LINUX_SLL', linkType: 113, header: 16, vlan: true },
  { name: 'LINUX_SLL2', linkType: 276, header: 20, vlan: true },
  { name: 'RAW', linkType: 12, header: 0, vlan: false },
  { name: 'RAW_OPENBSD', linkType: 14, header: 0, vlan: false },
  { name: 'RAW_LINKTYPE', linkType: 101, header: 0, vlan: false },
  { name: 'IPV4', linkType: 228, header: 0, vlan: false },
  { name: 'IPV6', linkType: 229, header: 0, vlan: false },
  { name: 'NULL', linkType: 0, header: 4, vlan: false },
  { name: 'LOOP', linkType: 108, header: 4, vlan: false },
] as const;

export const TPIDS = [0x8100, 0x88a8, 0x9100, 0x9200];
const FIXTURES = path.join(import.meta.dirname, '..', 'fixtures');

const u16 = (v: number) => Uint8Array.of((v >> 8) & 0xff, v & 0xff);
const u32 = (v: number) => Uint8Array.of((v >>> 24) & 0xff, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff);
const u32le = (v: number) => Uint8Array.of(v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff);

/** An IP packet (or not) and the EtherType naming it. */
interface Payload {
  etherType: number;
  bytes: Uint8Array;
}

/** The link header (and VLAN tags) for one link type in front of a payload. */
export function wrap(rng: Rng, linkType: number, p: Payload, tags = 0): Uint8Array {
  const vlan: Uint8Array[] = [];
  let outer = p.etherType;
  for (let i = tags - 1; i >= 0; i--) {
    vlan.unshift(concat(u16(rng.int(0x10000)), u16(outer)));
    outer = rng.chance(0.9) ? rng.pick(TPIDS) : rng.int(0x10000);
  }
  const tagBytes = concat(...vlan);
  const version = p.bytes.length ? p.bytes[0]! >> 4 : 0;
  switch (linkType) {
    case 1:
      return concat(rng.bytes(12), u16(outer), tagBytes, p.bytes);
    case 113: // pkttype, ARPHRD type, address length, 8 address bytes, protocol
      return concat(u16(rng.chance(0.8) ? rng.int(5) : rng.int(0x10000)), u16(rng.pick([1, 772, 65534, rng.int(0x10000)])), u16(6), rng.bytes(8), u16(outer), tagBytes, p.bytes);
    case 276: // protocol, reserved, ifindex, ARPHRD type, pkttype, address length, 8 address bytes
      return concat(u16(outer), u16(0), u32(rng.chance(0.7) ? rng.int(64) : rng.u32()), u16(rng.pick([1, 772, 65534, 776, rng.int(0x10000)])), Uint8Array.of(rng.chance(0.8) ? rng.int(5) : rng.int(256)), Uint8Array.of(6), rng.bytes(8), tagBytes, p.bytes);
    case 0:
    case 108: {
      // BSD loopback: the address family, in host order (NULL) or network order (LOOP)
      const af = version === 4 ? 2 : version === 6 ? rng.pick([10, 24, 28, 30]) : rng.pick([0, 1, 2, 10, 17, 0x02000000, rng.u32()]);
      const le = linkType === 0 ? rng.chance(0.8) : rng.chance(0.1);
      return concat(le ? u32le(af) : u32(af), p.bytes);
    }
    default: // RAW, IPV4, IPV6: the IP packet is the frame
      return p.bytes;
  }
}

function tcp(rng: Rng): Uint8Array {
  const doff = rng.chance(0.9) ? rng.range(5, 15) : rng.range(0, 4);
  const optLen = Math.max(0, doff * 4 - 20);
  const h = concat(u16(rng.int(0x10000)), u16(rng.int(0x10000)), rng.bytes(8), Uint8Array.of((doff << 4) | rng.int(16), rng.int(256)), rng.bytes(6), rng.bytes(optLen));
  return concat(h, rng.bytes(rng.small(200)));
}

function udp(rng: Rng): Uint8Array {
  const data = rng.bytes(rng.small(200));
  const len = rng.chance(0.9) ? 8 + data.length : rng.int(0x10000);
  return concat(u16(rng.int(0x10000)), u16(rng.int(0x10000)), u16(len), u16(rng.int(0x10000)), data);
}

function l4(rng: Rng, proto: number): Uint8Array {
  return proto === 6 ? tcp(rng) : proto === 17 ? udp(rng) : rng.bytes(rng.small(100));
}

const pickProto = (rng: Rng) => (rng.chance(0.85) ? rng.pick([6, 17]) : rng.pick([1, 58, 132, 50, 0, 255, rng.int(256)]));

function ipv4(rng: Rng): Uint8Array {
  const ihl = rng.chance(0.95) ? (rng.chance(0.7) ? 5 : rng.range(5, 15)) : rng.range(0, 4);
  const proto = pickProto(rng);
  const body = l4(rng, proto);
  const total = rng.chance(0.85) ? Math.max(ihl, 5) * 4 + body.length : rng.pick([0, 19, 20, 39, 40, 65535, rng.int(0x10000)]);
  const frag = rng.chance(0.85) ? rng.pick([0, 0x4000]) : rng.pick([0x2000, 0x0001, 0x1fff, rng.int(0x10000)]);
  const head = concat(Uint8Array.of(0x40 | ihl, rng.int(256)), u16(total), u16(rng.int(0x10000)), u16(frag), Uint8Array.of(rng.int(256), proto), u16(0), rng.bytes(8));
  return concat(head, rng.bytes(Math.max(0, ihl * 4 - 20)), body);
}

const EXT = [0, 43, 60, 135, 139, 140, 44, 51];

function ipv6(rng: Rng): Uint8Array {
  const n = rng.chance(0.6) ? 0 : rng.chance(0.8) ? rng.range(1, 3) : rng.range(4, 10);
  const kinds = Array.from({ length: n }, () => (rng.chance(0.95) ? rng.pick(EXT) : rng.int(256)));
  const last = pickProto(rng);
  const parts: Uint8Array[] = [];
  for (let i = 0; i < n; i++) {
    const next = i + 1 < n ? kinds[i + 1]! : last;
    const kind = kinds[i]!;
    if (kind === 44) {
      const off = rng.chance(0.8) ? 0 : rng.int(0x10000);
      parts.push(concat(Uint8Array.of(next, 0), u16(off), rng.bytes(4)));
    } else if (kind === 51) {
      const len = rng.chance(0.9) ? rng.range(1, 6) : rng.int(256);
      parts.push(concat(Uint8Array.of(next, len), rng.bytes(Math.min((len + 2) * 4, 64) - 2)));
    } else {
      const len = rng.chance(0.9) ? rng.range(0, 3) : rng.int(256);
      parts.push(concat(Uint8Array.of(next, len), rng.bytes(Math.min((len + 1) * 8, 64) - 2)));
    }
  }
  const first = n ? kinds[0]! : last;
  const body = concat(...parts, l4(rng, last));
  const plen = rng.chance(0.85) ? body.length : rng.pick([0, 7, 8, 19, 20, 65535, rng.int(0x10000)]);
  const addr = () => (rng.chance(0.3) ? concat(new Uint8Array(10), rng.chance(0.5) ? u16(0xffff) : u16(0), rng.bytes(4)) : rng.chance(0.2) ? concat(new Uint8Array(rng.int(16)), rng.bytes(16)).subarray(0, 16) : rng.bytes(16));
  return concat(Uint8Array.of(0x60 | rng.int(16), rng.int(256)), u16(rng.int(0x10000)), u16(plen), Uint8Array.of(first, rng.int(256)), addr(), addr(), body);
}

export function payload(rng: Rng): Payload {
  const r = rng.float();
  if (r < 0.45) return { etherType: 0x0800, bytes: ipv4(rng) };
  if (r < 0.9) return { etherType: 0x86dd, bytes: ipv6(rng) };
  if (r < 0.95) return { etherType: rng.pick([0x0806, 0x88cc, 0x8035, 0x0800, 0x86dd]), bytes: rng.bytes(rng.small(64)) };
  // a version nibble that disagrees with the EtherType
  return { etherType: rng.pick([0x0800, 0x86dd]), bytes: rng.chance(0.5) ? ipv6(rng) : ipv4(rng) };
}

/** A whole frame for one link type: mostly well formed, sometimes cut by a snap length, sometimes lying about its wire length. */
export function generateFrame(rng: Rng, linkType: number): FrameInput {
  const link = LINKS.find((l) => l.linkType === linkType);
  const tags = link?.vlan && rng.chance(0.25) ? rng.range(1, 5) : 0;
  const full = wrap(rng, linkType, payload(rng), tags);
  return cut(rng, linkType, full, (link?.header ?? 0) + 4 * tags);
}

/** Where headers end, from the IP header on: the snap lengths most likely to cut a read short. */
const BOUNDARIES = [0, 1, 4, 8, 20, 24, 28, 40, 44, 48, 60, 64, 80];

/** The frame as captured: whole, or cut by a snap length (often just around a header's end), or with an odd wire length. */
export function cut(rng: Rng, linkType: number, full: Uint8Array, linkLen: number = LINKS.find((l) => l.linkType === linkType)?.header ?? 0): FrameInput {
  const r = rng.float();
  if (r < 0.7) return { linkType, bytes: full, wireLen: full.length };
  if (r < 0.8) return { linkType, bytes: full.subarray(0, rng.int(full.length + 1)), wireLen: full.length };
  if (r < 0.9) return { linkType, bytes: full.subarray(0, Math.max(0, linkLen + rng.pick(BOUNDARIES) + rng.range(-2, 3))), wireLen: full.length };
  if (r < 0.95) return { linkType, bytes: full, wireLen: full.length + rng.small(70000) };
  return { linkType, bytes: full, wireLen: rng.int(full.length + 1) }; // impossible from libpcap, but the decoder is told it
}

/** The IP packets (and their EtherType) inside the captured fixtures, link headers and VLAN tags removed. */
export function fixturePayloads(): Payload[] {
  const out: Payload[] = [];
  for (const file of ['lo-udp.pcap', 'lo-tcp.pcap', 'vlan.pcap', 'any-sll.pcap', 'any-sll2.pcap', 'nettop/any-sll2.pcap']) {
    const { linkType, frames } = readPcap(path.join(FIXTURES, file));
    for (const f of frames) {
      const b = f.data;
      let p = linkType === 1 ? 14 : linkType === 113 ? 16 : 20;
      let et = linkType === 276 ? (b[0]! << 8) | b[1]! : (b[p - 2]! << 8) | b[p - 1]!;
      while (TPIDS.includes(et) && p + 4 <= b.length) {
        et = (b[p + 2]! << 8) | b[p + 3]!;
        p += 4;
      }
      out.push({ etherType: et, bytes: b.slice(p) });
    }
  }
  return out;
}

/** The fixture frames as captured (for their own link type) and re-wrapped for `linkType`, with and without tags. */
export function fixtureFrames(rng: Rng, linkType: number): FrameInput[] {
  const out: FrameInput[] = [];
  for (const file of ['lo-udp.pcap', 'lo-tcp.pcap', 'vlan.pcap', 'any-sll.pcap', 'any-sll2.pcap', 'nettop/any-sll2.pcap']) {
    const pcap = readPcap(path.join(FIXTURES, file));
    if (pcap.linkType === linkType) for (const f of pcap.frames) out.push({ linkType, bytes: f.data, wireLen: f.wireLen });
  }
  const vlan = LINKS.find((l) => l.linkType === linkType)?.vlan ?? false;
  for (const p of fixturePayloads()) {
    out.push({ linkType, bytes: wrap(rng, linkType, p), wireLen: 0 });
    if (vlan) out.push({ linkType, bytes: wrap(rng, linkType, p, rng.range(1, 2)), wireLen: 0 });
  }
  for (const f of out) if (!f.wireLen) f.wireLen = f.bytes.length;
  return out;
}
