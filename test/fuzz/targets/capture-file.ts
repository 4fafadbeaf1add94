// The capture file reader (core/capture-file.ts), behind `tcpdump --read`.
// Inputs are files: pcapng from the writer (random captures, see pcapng.ts),
// pcap in either byte order and µs or ns, then mutated byte-wise. Invariants:
// only CaptureFileError is ever thrown; every record lies inside the buffer it
// was handed; the records do not depend on how the file is cut into chunks;
// and a file written by writePcapng (or built here as pcap) and not mutated
// reads back as exactly the packets written (interface, time, bytes, lengths,
// comments).

import { CaptureFileError, CaptureFileParser } from '../../../core/capture-file.ts';
import { writePcapng } from '../../../core/pcapng.ts';
import { check, type Target } from '../engine.ts';
import { mutateBytes } from '../mutate.ts';
import type { Rng } from '../rng.ts';
import { generateCapture } from './pcapng.ts';

interface Input {
  bytes: Uint8Array;
  /** What an unmutated file holds, as records: null once mutated. */
  expected: Rec[] | null;
  /** Where the file is cut into chunks. */
  cuts: number[];
}

type Rec = { iface: number; timeUs: number; data: string; wireLen: number; comments: string[] };

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

function pcapFile(rng: Rng): { bytes: Uint8Array; expected: Rec[] } {
  const little = rng.chance(0.5);
  const nanos = rng.chance(0.3);
  const n = rng.small(12);
  const records: { sec: number; frac: number; data: Uint8Array; wire: number }[] = [];
  for (let i = 0; i < n; i++) {
    const data = rng.bytes(rng.small(300));
    records.push({ sec: rng.int(2 ** 32), frac: rng.int(nanos ? 1e9 : 1e6), data, wire: data.length + (rng.chance(0.7) ? 0 : rng.int(2000)) });
  }
  const size = 24 + records.reduce((s, r) => s + 16 + r.data.length, 0);
  const out = new Uint8Array(size);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, nanos ? 0xa1b23c4d : 0xa1b2c3d4, little);
  dv.setUint16(4, 2, little);
  dv.setUint16(6, 4, little);
  dv.setUint32(16, 262144, little);
  const linkType = rng.pick([1, 113, 276, 101, 0]);
  dv.setUint32(20, linkType, little);
  let at = 24;
  for (const r of records) {
    dv.setUint32(at, r.sec, little);
    dv.setUint32(at + 4, r.frac, little);
    dv.setUint32(at + 8, r.data.length, little);
    dv.setUint32(at + 12, r.wire, little);
    out.set(r.data, at + 16);
    at += 16 + r.data.length;
  }
  const expected = records.map((r) => ({ iface: 0, timeUs: r.sec * 1e6 + (nanos ? Math.floor(r.frac / 1000) : r.frac), data: hex(r.data), wireLen: r.wire, comments: [] }));
  return { bytes: out, expected };
}

function pcapngFile(rng: Rng): { bytes: Uint8Array; expected: Rec[] } | null {
  const cap = generateCapture(rng, { maxPackets: 12, oversize: false, wild: false });
  let bytes: Uint8Array;
  try {
    bytes = writePcapng(cap.interfaces, cap.packets);
  } catch {
    return null;
  }
  const expected = cap.packets.map((p) => ({ iface: p.iface, timeUs: Math.round(p.time), data: hex(p.data), wireLen: Math.max(p.wireLen, p.data.length), comments: p.comment ? [p.comment] : [] }));
  return { bytes, expected };
}

function cutsFor(rng: Rng, length: number): number[] {
  return Array.from({ length: rng.small(6) }, () => rng.int(length + 1)).sort((a, b) => a - b);
}

/** Reads `bytes` handed over in chunks ending at `cuts` (then the rest), as the CLI reads a file: the unparsed rest first. */
function read(bytes: Uint8Array, cuts: number[]): Rec[] {
  const parser = new CaptureFileParser();
  const out: Rec[] = [];
  let pending = new Uint8Array(0);
  let from = 0;
  for (const end of [...cuts, bytes.length]) {
    if (end < from) continue;
    const have = new Uint8Array(pending.length + end - from);
    have.set(pending);
    have.set(bytes.subarray(from, end), pending.length);
    from = end;
    const used = parser.parse(have, have.length, (r) => {
      check(r.offset >= 0 && r.offset + r.caplen <= have.length, () => `a record at ${r.offset}+${r.caplen} outside the ${have.length} bytes handed over`);
      check(r.iface >= 0 && r.iface < parser.interfaces.length, () => `a record of interface ${r.iface} of ${parser.interfaces.length}`);
      out.push({ iface: r.iface, timeUs: r.timeUs, data: hex(r.buf.subarray(r.offset, r.offset + r.caplen)), wireLen: r.wireLen, comments: r.comments });
    });
    check(used >= 0 && used <= have.length, () => `parse consumed ${used} of ${have.length}`);
    pending = have.slice(used);
  }
  return out;
}

export function captureFileTarget(): Target<Input> {
  let records = 0;
  const gen = (rng: Rng): Input => {
    const file = rng.chance(0.4) ? pcapFile(rng) : (pcapngFile(rng) ?? pcapFile(rng));
    return { bytes: file.bytes, expected: file.expected, cuts: cutsFor(rng, file.bytes.length) };
  };
  return {
    name: 'capture-file:reader',
    what: 'CaptureFileParser on pcap/pcapng files (written, then mutated), handed over in random chunks: only CaptureFileError, records inside the buffer, the same records however cut, written packets read back exactly',
    coverage: ['core/capture-file.ts'],
    generateRate: 0.4,
    seeds: (rng) => Array.from({ length: 12 }, () => gen(rng)),
    generate: gen,
    mutate: (rng, input, other) => {
      const bytes = mutateBytes(rng, input.bytes, { maxLen: 1 << 16, other: () => other().bytes });
      return { bytes, expected: null, cuts: cutsFor(rng, bytes.length) };
    },
    run: (input) => {
      let whole: Rec[];
      try {
        whole = read(input.bytes, []);
      } catch (e) {
        check(e instanceof CaptureFileError, () => `threw ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`);
        return 'refused';
      }
      const chunked = read(input.bytes, input.cuts);
      check(JSON.stringify(chunked) === JSON.stringify(whole), 'the records depend on where the file was cut');
      if (input.expected) check(JSON.stringify(whole) === JSON.stringify(input.expected), () => `read back ${JSON.stringify(whole).slice(0, 300)}, written ${JSON.stringify(input.expected).slice(0, 300)}`);
      records += whole.length;
      return input.expected ? 'written and read back' : whole.length ? 'mutated, records read' : 'mutated, no record';
    },
    show: (input) => `${hex(input.bytes).slice(0, 4000)} cuts ${JSON.stringify(input.cuts)}`,
    finish: () => [`records read: ${records.toLocaleString('en')}`],
  };
}
