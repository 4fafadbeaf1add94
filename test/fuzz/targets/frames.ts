// decodeFrame (core/packet.ts), one target per link type it knows,
// and one for link types it does not. Invariants, on every input:
//   - it returns a DecodeFailure or a Decoded, never throws;
//   - it never reads past the captured length: the frame decoded from an
//     exact-size copy, from the start of a larger buffer whose bytes beyond the
//     frame are 0x00 or 0xff, from an offset inside a buffer with other bytes
//     before and after it, and with a caplen larger than the buffer, decodes
//     the same; and on every 8th input a guarded view throws on any read
//     outside [offset, offset + caplen);
//   - lengths never exceed the input: link header, IP header and TCP/UDP
//     header all lie within the captured bytes; 'truncated' only when the wire
//     length is beyond the captured one; the IP length within the wire length
//     (once the decoder caps it: issue 12 item 6);
//   - what it returns is what the bytes say: addresses (IPv6 in RFC 5952 text),
//     the IP length field, interface index and packet type, family per link type.

import { isIPv4 } from 'node:net';
import { decodeFrame as realDecodeFrame, type DecodeResult, type Decoded } from '../../../core/packet.ts';
import { check, hex, type RunContext, type Target } from '../engine.ts';
import { cut, fixtureFrames, generateFrame, LINKS, type FrameInput } from '../gen-frames.ts';
import { mutateBytes } from '../mutate.ts';
import type { Rng } from '../rng.ts';

export type DecodeFrame = typeof realDecodeFrame;

const FAILURES = new Set(['truncated', 'malformed', 'not-ip', 'other-protocol', 'unsupported-link']);
const KEYS = ['linkLen', 'ifindex', 'pktType', 'family', 'src', 'dst', 'proto', 'sport', 'dport', 'tcpFlags', 'ipLen'];
const MAX_VLAN_TAGS = 4;
const PAD = 96;

// Scratch buffers for the padded decodes, refilled after each use.
const scratch = { zero: new Uint8Array(0), ones: new Uint8Array(0), mid: new Uint8Array(0) };
function scratchOf(kind: 'zero' | 'ones' | 'mid', size: number, fill: number): Uint8Array {
  if (scratch[kind].length < size) scratch[kind] = new Uint8Array(Math.max(size, 2 * scratch[kind].length)).fill(fill);
  return scratch[kind];
}

export function sameResult(a: DecodeResult, b: DecodeResult): boolean {
  if (typeof a === 'string' || typeof b === 'string') return a === b;
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  for (const k of ka) if ((a as unknown as Record<string, unknown>)[k] !== (b as unknown as Record<string, unknown>)[k]) return false;
  return true;
}

export const showResult = (r: DecodeResult) => (typeof r === 'string' ? r : JSON.stringify(r));

/** A view of `bytes` that throws on any index read outside [lo, hi). */
export function guarded(bytes: Uint8Array, lo: number, hi: number): Uint8Array {
  return new Proxy(bytes, {
    get(t, k) {
      if (typeof k === 'string' && k.length && k.length < 16 && k.charCodeAt(0) <= 57) {
        const i = Number(k);
        if (Number.isInteger(i)) {
          check(i >= lo && i < hi, () => `read of byte ${i}, outside the captured bytes [${lo}, ${hi})`);
          return t[i];
        }
      }
      const v = Reflect.get(t, k) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(t) : v;
    },
  });
}

const be16 = (b: Uint8Array, i: number) => (b[i]! << 8) | b[i + 1]!;
const be32 = (b: Uint8Array, i: number) => ((b[i]! << 24) | (b[i + 1]! << 16) | (b[i + 2]! << 8) | b[i + 3]!) >>> 0;

/** RFC 5952 text of 16 bytes, worked out independently: the WHATWG URL serialiser, and dotted quads for IPv4-mapped. */
export function ipv6Text(b: Uint8Array, i: number): string {
  const g = Array.from({ length: 8 }, (_, k) => be16(b, i + 2 * k).toString(16));
  if (g.slice(0, 5).every((x) => x === '0') && g[5] === 'ffff') return `::ffff:${b[i + 12]}.${b[i + 13]}.${b[i + 14]}.${b[i + 15]}`;
  return new URL(`http://[${g.join(':')}]/`).hostname.slice(1, -1);
}

/** Checks one result against the bytes it came from. */
export function validate(linkType: number, known: boolean, bytes: Uint8Array, wireLen: number, r: DecodeResult, ctx: RunContext | null): string {
  const caplen = bytes.length;
  if (typeof r === 'string') {
    check(FAILURES.has(r), () => `unknown failure\n${JSON.stringify(r)}`);
    check((r === 'unsupported-link') === !known, () => `${r} for link type ${linkType}`);
    check(r !== 'truncated' || wireLen > caplen, () => `'truncated' although the wire length ${wireLen} is not beyond the ${caplen} captured bytes`);
    return r;
  }
  check(typeof r === 'object' && r !== null && KEYS.every((k) => Object.hasOwn(r, k)), () => `not a Decoded\n${JSON.stringify(r)}`);
  const d: Decoded = r;
  const link = LINKS.find((l) => l.linkType === linkType)!;
  const tags = (d.linkLen - link.header) / 4;
  check(Number.isInteger(tags) && tags >= 0 && tags <= (link.vlan ? MAX_VLAN_TAGS : 0), () => `linkLen ${d.linkLen} for ${link.name} (header ${link.header})`);
  const ipMin = d.family === 4 ? 20 : 40;
  const l4Min = d.proto === 'TCP' ? 20 : 8;
  check(d.proto === 'TCP' || d.proto === 'UDP', `proto ${String(d.proto)}`);
  check(d.linkLen + ipMin + l4Min <= caplen, () => `headers end past the captured bytes: linkLen ${d.linkLen} + IPv${d.family} ${ipMin} + ${d.proto} ${l4Min} > caplen ${caplen}`);
  const ip = d.linkLen;
  check(bytes[ip]! >> 4 === d.family, () => `family ${d.family} but version nibble ${bytes[ip]! >> 4}`);
  if (linkType === 228) check(d.family === 4, 'IPV4 link type decoded as IPv6');
  if (linkType === 229) check(d.family === 6, 'IPV6 link type decoded as IPv4');
  if (d.family === 4) {
    const v4 = (o: number) => `${bytes[o]}.${bytes[o + 1]}.${bytes[o + 2]}.${bytes[o + 3]}`;
    check(isIPv4(d.src) && d.src === v4(ip + 12) && d.dst === v4(ip + 16), () => `IPv4 addresses are not what the bytes say\n${d.src} → ${d.dst}, bytes say ${v4(ip + 12)} → ${v4(ip + 16)}`);
    checkIpLen(d, be16(bytes, ip + 2), wireLen, ctx);
    check(d.ipLen >= (bytes[ip]! & 15) * 4 + l4Min, () => `ipLen ${d.ipLen} leaves no room for the ${d.proto} header`);
  } else {
    check(d.src === ipv6Text(bytes, ip + 8) && d.dst === ipv6Text(bytes, ip + 24), () => `IPv6 addresses are not the bytes' RFC 5952 text\n${d.src} → ${d.dst}, RFC 5952 says ${ipv6Text(bytes, ip + 8)} → ${ipv6Text(bytes, ip + 24)}`);
    checkIpLen(d, be16(bytes, ip + 4) + 40, wireLen, ctx);
    check(d.ipLen >= 40 + l4Min, () => `ipLen ${d.ipLen} leaves no room for the ${d.proto} header`);
  }
  for (const [k, max] of [['sport', 0xffff], ['dport', 0xffff], ['tcpFlags', 0x3f]] as const) check(Number.isInteger(d[k]) && d[k] >= 0 && d[k] <= max, () => `${k} ${d[k]}`);
  if (d.proto === 'UDP') check(d.tcpFlags === 0, 'UDP with TCP flags');
  check(d.ifindex === (linkType === 276 ? be32(bytes, 4) : -1), () => `ifindex ${d.ifindex}`);
  check(d.pktType === (linkType === 276 ? bytes[10] : linkType === 113 ? be16(bytes, 0) : -1), () => `pktType ${d.pktType}`);
  return `IPv${d.family} ${d.proto}${tags ? ' +VLAN' : ''}`;
}

/**
 * The IP length: what the header states, or (since issue 12 item 6, when the
 * Decoded says `ipTruncated`) that capped at what the wire carried after the
 * link header. With the cap, never more than the wire; without it, a length
 * beyond the wire is noted.
 */
function checkIpLen(d: Decoded, stated: number, wireLen: number, ctx: RunContext | null): void {
  const onWire = wireLen - d.linkLen;
  const capped = (d as { ipTruncated?: unknown }).ipTruncated;
  if (capped === undefined) {
    check(d.ipLen === stated, () => `ipLen ${d.ipLen}, header says ${stated}`);
    if (stated > onWire) ctx?.note('ipLen beyond the wire: the IP header claims more bytes than the frame carried (issue 12 item 6)', `ipLen ${d.ipLen}, wire ${wireLen} - link ${d.linkLen}`);
    return;
  }
  check(d.ipLen === Math.min(stated, onWire), () => `ipLen ${d.ipLen}: header says ${stated}, the wire carried ${onWire} after the link header`);
  check(capped === d.ipLen < stated, () => `ipTruncated ${String(capped)} with ipLen ${d.ipLen} of ${stated} stated`);
}

/** Decodes one input every way the invariants need, and checks them. */
export function checkFrame(decode: DecodeFrame, input: FrameInput, known: boolean, guard: boolean, ctx: RunContext | null): string {
  const { linkType, bytes, wireLen } = input;
  const caplen = bytes.length;
  const r = decode(linkType, bytes, 0, caplen, wireLen);
  const label = validate(linkType, known, bytes, wireLen, r, ctx);
  const expect = (what: string, other: DecodeResult) =>
    check(sameResult(r, other), () => `${what}, the result differs\nthere: ${showResult(other)}\nexact-size copy: ${showResult(r)}`);

  // Bytes beyond caplen: zeros, then ones.
  for (const [kind, fill] of [['zero', 0x00], ['ones', 0xff]] as const) {
    const buf = scratchOf(kind, caplen + PAD, fill);
    buf.set(bytes);
    try {
      expect(`with ${PAD} bytes of 0x${fill.toString(16).padStart(2, '0')} after the captured bytes`, decode(linkType, buf, 0, caplen, wireLen));
    } finally {
      buf.fill(fill, 0, caplen);
    }
  }
  // At an offset, other bytes before and after.
  const off = 1 + ((caplen * 7 + wireLen) % 61);
  const mid = scratchOf('mid', off + caplen + PAD, 0xa5);
  mid.set(bytes, off);
  try {
    expect(`at offset ${off} in a larger buffer`, decode(linkType, mid, off, caplen, wireLen));
    if (guard) expect('through a guarded view', decode(linkType, guarded(mid, off, off + caplen), off, caplen, wireLen));
  } finally {
    mid.fill(0xa5, off, off + caplen);
  }
  // A caplen larger than the buffer is clamped to it.
  expect('with caplen + 4096 on an exact-size buffer', decode(linkType, bytes, 0, caplen + 4096, wireLen));
  return label;
}

function mutate(rng: Rng, input: FrameInput, other: () => FrameInput): FrameInput {
  const bytes = mutateBytes(rng, input.bytes, { maxLen: 4096, other: () => other().bytes });
  if (rng.chance(0.2)) return cut(rng, input.linkType, bytes);
  const grown = input.wireLen - input.bytes.length; // keep a snap-length cut a cut
  return { linkType: input.linkType, bytes, wireLen: Math.max(0, bytes.length + grown) };
}

export function frameTarget(link: (typeof LINKS)[number], decode: DecodeFrame = realDecodeFrame, suffix = ''): Target<FrameInput> {
  let n = 0;
  return {
    name: `frame:${link.name}${suffix}`,
    what: `decodeFrame, link type ${link.linkType} (${link.name})`,
    coverage: ['core/packet.ts'],
    seeds: (rng) => fixtureFrames(rng, link.linkType),
    generate: (rng) => generateFrame(rng, link.linkType),
    mutate,
    run: (input, ctx) => checkFrame(decode, input, true, (n++ & 7) === 0, ctx),
    show: (input) => `linkType ${input.linkType} wireLen ${input.wireLen} caplen ${input.bytes.length}: ${hex(input.bytes)}`,
  };
}

/** Link types decodeFrame does not know: always 'unsupported-link', whatever the bytes. */
export function unknownLinkTarget(decode: DecodeFrame = realDecodeFrame): Target<FrameInput> {
  const known = new Set<number>([...LINKS.map((l) => l.linkType)]);
  const other = (rng: Rng) => {
    for (;;) {
      const lt = rng.chance(0.5) ? rng.int(300) : rng.chance(0.5) ? rng.u32() : rng.pick([-1, 2 ** 32, 1.5, NaN]);
      if (!known.has(lt)) return lt;
    }
  };
  return {
    name: 'frame:unknown-link-types',
    what: 'decodeFrame with link types it does not know (DLT values 0-299 and random 32-bit ones)',
    coverage: ['core/packet.ts'],
    generateRate: 0.5,
    seeds: (rng) => fixtureFrames(rng, 1).map((f) => ({ ...f, linkType: other(rng) })),
    generate: (rng) => ({ ...generateFrame(rng, 1), linkType: other(rng) }),
    mutate: (rng, input, o) => ({ ...mutate(rng, input, o), linkType: rng.chance(0.2) ? other(rng) : input.linkType }),
    run: (input, ctx) => {
      const r = checkFrame(decode, input, false, false, ctx);
      check(r === 'unsupported-link', () => `link type ${input.linkType} decoded as ${r}`);
      return r;
    },
    show: (input) => `linkType ${input.linkType} wireLen ${input.wireLen}: ${hex(input.bytes)}`,
  };
}
