// The pcapng writer (core/pcapng.ts). Random captures — 1-4
// interfaces of the link types the app captures, packets from the frame
// generator or random bytes, timestamps over the whole µs range (and at the
// 32-bit split of the 64-bit timestamp), comments and interface names of any
// Unicode, up to the 65,535 bytes a pcapng option can hold (and, when asked,
// beyond: what must then happen is an error, not a corrupt file) — written,
// then read back here block by block (every length, padding, option and
// trailer checked against the pcapng spec) and, in the full run, by
// `tshark -r` (tshark.ts).

import { writePcapng, type PcapngInterface, type PcapngPacket } from '../../../core/pcapng.ts';
import { check, Violation, type Target } from '../engine.ts';
import { generateFrame, LINKS } from '../gen-frames.ts';
import type { Rng } from '../rng.ts';

export interface Capture {
  interfaces: PcapngInterface[];
  packets: PcapngPacket[];
  application?: string;
}

export type WritePcapng = typeof writePcapng;

const LINK_TYPES = LINKS.map((l) => l.linkType);
const TIMES = [0, 1, 2 ** 32 - 1, 2 ** 32, 2 ** 32 + 1, 1_800_000_000_000_000, 2 ** 53 - 1];

/** Printable text (tshark shows control characters escaped): ASCII, Latin, CJK, emoji. */
export function text(rng: Rng, max: number): string {
  const n = rng.small(max + 1);
  let s = '';
  while (s.length < n) {
    const r = rng.int(10);
    s += r < 6 ? String.fromCharCode(32 + rng.int(95)) : r < 8 ? String.fromCharCode(0xa1 + rng.int(0x17f - 0xa1)) : r < 9 ? String.fromCharCode(0x4e00 + rng.int(0x5000)) : String.fromCodePoint(0x1f600 + rng.int(0x50));
  }
  return s;
}

export interface CaptureOptions {
  maxPackets: number;
  /** Also names and comments over 65,535 bytes of UTF-8 (rarely). */
  oversize: boolean;
  /** Any string (controls, lone surrogates) rather than printable text, and link types the app never writes. */
  wild: boolean;
}

export function generateCapture(rng: Rng, o: CaptureOptions): Capture {
  const str = (max: number) => {
    if (o.oversize && rng.chance(0.001)) return 'é'.repeat(rng.range(32768, 40000));
    return o.wild && rng.chance(0.3) ? String.fromCharCode(...Array.from({ length: rng.small(max) }, () => rng.int(0x10000))) : text(rng, max);
  };
  const interfaces: PcapngInterface[] = Array.from({ length: rng.range(1, 4) }, () => ({
    name: rng.chance(0.9) ? rng.pick(['lo', 'eth0', 'any', 'wlp0s20f3', 'veth12ab@if3']) : str(64),
    linkType: !o.wild || rng.chance(0.95) ? rng.pick(LINK_TYPES) : rng.int(300),
    snaplen: rng.pick([0, 256, 262144, 65535, rng.int(2 ** 32)]),
  }));
  const packets: PcapngPacket[] = [];
  let time = rng.chance(0.5) ? rng.pick(TIMES) : rng.int(2 ** 53);
  for (let i = rng.small(o.maxPackets + 1); i > 0; i--) {
    const iface = rng.int(interfaces.length);
    const data = rng.chance(0.8) ? generateFrame(rng, interfaces[iface]!.linkType).bytes : rng.bytes(rng.chance(0.99) ? rng.small(2000) : rng.int(65536));
    if (rng.chance(0.3)) time = rng.chance(0.5) ? rng.pick(TIMES) : rng.int(2 ** 53);
    else time = Math.min(2 ** 53 - 1, time + rng.int(1_000_000) + (rng.chance(0.05) ? 0.5 : 0));
    const p: PcapngPacket = { iface, time, wireLen: data.length + (rng.chance(0.8) ? 0 : rng.int(65536)), data };
    if (rng.chance(0.05)) p.comment = str(200);
    packets.push(p);
  }
  return { interfaces, packets, ...(rng.chance(0.1) ? { application: str(40) } : {}) };
}

const enc = new TextEncoder();

/** Reads the file back per the pcapng spec and checks it holds exactly the capture. Returns the packets read. */
export function checkPcapng(bytes: Uint8Array, cap: Capture): number {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let o = 0;
  const blocks: { type: number; body: DataView; at: number }[] = [];
  while (o < bytes.length) {
    check(o + 12 <= bytes.length, () => `a block header at ${o} runs past the end (${bytes.length})`);
    const len = dv.getUint32(o + 4, true);
    check(len % 4 === 0 && len >= 12 && o + len <= bytes.length, () => `block at ${o}: total length ${len}`);
    check(dv.getUint32(o + len - 4, true) === len, () => `block at ${o}: trailing length ${dv.getUint32(o + len - 4, true)}, leading ${len}`);
    blocks.push({ type: dv.getUint32(o, true), body: new DataView(bytes.buffer, bytes.byteOffset + o + 8, len - 12), at: o });
    o += len;
  }
  check(blocks.length === 1 + cap.interfaces.length + cap.packets.length, () => `${blocks.length} blocks for ${cap.interfaces.length} interfaces and ${cap.packets.length} packets`);

  const options = (b: DataView, from: number, where: string): Map<number, Uint8Array> => {
    const out = new Map<number, Uint8Array>();
    let p = from;
    if (p === b.byteLength) return out;
    for (;;) {
      check(p + 4 <= b.byteLength, () => `${where}: an option header runs past the block`);
      const code = b.getUint16(p, true);
      const len = b.getUint16(p + 2, true);
      if (code === 0) {
        check(len === 0 && p + 4 === b.byteLength, () => `${where}: opt_endofopt with length ${len}, ${b.byteLength - p - 4} bytes after it`);
        return out;
      }
      const padded = (len + 3) & ~3;
      check(p + 4 + padded <= b.byteLength, () => `${where}: option ${code} of ${len} bytes runs past the block`);
      const v = new Uint8Array(b.buffer, b.byteOffset + p + 4, len);
      for (let i = len; i < padded; i++) check(b.getUint8(p + 4 + i) === 0, () => `${where}: option padding not zero`);
      check(!out.has(code), () => `${where}: option ${code} twice`);
      out.set(code, v);
      p += 4 + padded;
    }
  };
  const same = (a: Uint8Array | undefined, s: string, what: string) => {
    const want = enc.encode(s);
    check(a !== undefined && a.length === want.length && a.every((x, i) => x === want[i]), () => `${what}: ${a ? JSON.stringify(new TextDecoder().decode(a).slice(0, 80)) : 'missing'}, written ${JSON.stringify(s.slice(0, 80))}`);
  };

  const shb = blocks[0]!;
  check(shb.type === 0x0a0d0d0a && shb.body.getUint32(0, true) === 0x1a2b3c4d, 'no section header block first');
  check(shb.body.getUint16(4, true) === 1 && shb.body.getUint16(6, true) === 0 && shb.body.getBigInt64(8, true) === -1n, 'section header: version 1.0, length -1');
  same(options(shb.body, 16, 'section header').get(4), cap.application ?? 'NetProbes', 'shb_userappl');

  cap.interfaces.forEach((iface, i) => {
    const b = blocks[1 + i]!;
    check(b.type === 1, () => `block ${1 + i}: type ${b.type}, not an interface description`);
    check(b.body.getUint16(0, true) === iface.linkType && b.body.getUint16(2, true) === 0 && b.body.getUint32(4, true) === iface.snaplen >>> 0, () => `interface ${i}: link type or snaplen`);
    same(options(b.body, 8, `interface ${i}`).get(2), iface.name, `interface ${i} if_name`);
  });

  cap.packets.forEach((p, i) => {
    const b = blocks[1 + cap.interfaces.length + i]!;
    const where = `packet ${i}`;
    check(b.type === 6, () => `${where}: block type ${b.type}`);
    check(b.body.getUint32(0, true) === p.iface, () => `${where}: interface ${b.body.getUint32(0, true)}, written ${p.iface}`);
    const ts = (BigInt(b.body.getUint32(4, true)) << 32n) | BigInt(b.body.getUint32(8, true));
    check(ts === BigInt(Math.round(p.time)), () => `${where}: timestamp ${ts}, written ${p.time}`);
    const caplen = b.body.getUint32(12, true);
    check(caplen === p.data.length && b.body.getUint32(16, true) === p.wireLen, () => `${where}: lengths ${caplen}/${b.body.getUint32(16, true)}, written ${p.data.length}/${p.wireLen}`);
    const padded = (caplen + 3) & ~3;
    check(20 + padded <= b.body.byteLength, () => `${where}: data runs past the block`);
    for (let k = 0; k < caplen; k++) if (b.body.getUint8(20 + k) !== p.data[k]) check(false, `${where}: byte ${k} differs`);
    for (let k = caplen; k < padded; k++) check(b.body.getUint8(20 + k) === 0, `${where}: data padding not zero`);
    const opts = options(b.body, 20 + padded, where);
    if (p.comment) same(opts.get(1), p.comment, `${where} comment`);
    else check(opts.size === 0, () => `${where}: options where none were written`);
  });
  return cap.packets.length;
}

export function pcapngTarget(opts: { oversize: boolean } = { oversize: false }, write: WritePcapng = writePcapng): Target<Capture> {
  let packets = 0;
  const gen = (rng: Rng) => generateCapture(rng, { maxPackets: 24, oversize: opts.oversize, wild: true });
  return {
    name: 'pcapng:writer',
    what: `writePcapng, read back block by block per the pcapng spec${opts.oversize ? ' (names and comments past 65,535 bytes included, rarely)' : ''}`,
    coverage: ['core/pcapng.ts'],
    generateRate: 0.7,
    seeds: (rng) => [{ interfaces: [{ name: 'lo', linkType: 1, snaplen: 256 }], packets: [] }, ...Array.from({ length: 10 }, () => gen(rng))],
    generate: gen,
    mutate: (rng, input) => {
      // Keep the interfaces, regenerate some packets: captures are built, not parsed, so mutation means new combinations.
      const fresh = gen(rng);
      const packets = [...input.packets.filter(() => rng.chance(0.5)), ...fresh.packets.map((p) => ({ ...p, iface: p.iface % input.interfaces.length }))];
      return { ...input, packets };
    },
    run: (cap) => {
      let bytes: Uint8Array;
      try {
        bytes = cap.application === undefined ? write(cap.interfaces, cap.packets) : write(cap.interfaces, cap.packets, cap.application);
      } catch (e) {
        // The writer may refuse what pcapng cannot hold (an option over 65,535 bytes), with an Error that says so.
        const over = [cap.application ?? '', ...cap.interfaces.map((i) => i.name), ...cap.packets.map((p) => p.comment ?? '')].some((s) => enc.encode(s).length > 65535);
        check(over && e instanceof Error, () => `writePcapng threw ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`);
        return 'refused: option over 65,535 bytes';
      }
      const longest = Math.max(...[cap.application ?? '', ...cap.interfaces.map((i) => i.name), ...cap.packets.map((p) => p.comment ?? '')].map((x) => enc.encode(x).length));
      try {
        packets += checkPcapng(bytes, cap);
      } catch (e) {
        if (longest <= 65535 || !(e instanceof Violation)) throw e;
        throw new Violation(`writePcapng wrote an option over the 65,535 bytes a pcapng option length holds, and the file does not read back\n${longest} bytes of UTF-8 in one name or comment, its length field says ${longest & 0xffff}: ${e.message}`);
      }
      return cap.packets.length ? 'written and read back' : 'no packets';
    },
    show: (cap) => {
      const s = JSON.stringify({ ...cap, packets: cap.packets.map((p) => ({ ...p, data: Buffer.from(p.data).toString('hex') })) });
      return s.length > 4000 ? `${s.slice(0, 2000)}…(${s.length} chars)…${s.slice(-2000)}` : s;
    },
    finish: () => [`packets written and read back: ${packets.toLocaleString('en')}`],
  };
}
