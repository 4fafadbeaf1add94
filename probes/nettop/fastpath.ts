// nettop's fast path: a small direct-mapped memo from a frame's raw header
// bytes (interface, ARPHRD type, packet type, protocol, addresses, ports) to
// the rows its packet was last counted in. A flood is mostly one flow, so most
// packets are counted with a hash and a byte compare — no decoding into
// strings, no flow-cache key, no Map lookups. Pure; no Node imports.
//
// The memo only repeats what the engine decided for an identical header (the
// decision side() returned: its row and validity) within one engine generation
// (no new /proc snapshot, no flow forgotten, no interval taken since) and
// before the flow's cache entry expires; anything else takes
// the full path (decodeFrame + NettopEngine.side). Frames that are not plain
// IPv4/IPv6 TCP/UDP (VLAN tags, IPv6 extension headers, fragments, ARP...)
// always take the full path.

import type { Acc } from './tables.ts';
import { SLL2_HEADER_LENGTH } from '../../core/packet.ts';

const SLOTS = 4096; // a power of two
const KEY_MAX = 48; // 7 (SLL2) + 1 (protocol) + 32 (IPv6 addresses) + 4 (ports)

export class FlowMemo {
  private readonly keys = new Uint8Array(SLOTS * KEY_MAX);
  private readonly lens = new Uint8Array(SLOTS);
  private readonly gens = new Float64Array(SLOTS).fill(-1);
  private readonly buckets = new Float64Array(SLOTS);
  private readonly untilUs = new Float64Array(SLOTS);
  private readonly accA: (Acc | null)[] = new Array<Acc | null>(SLOTS).fill(null);
  private readonly accB: (Acc | null)[] = new Array<Acc | null>(SLOTS).fill(null);
  private readonly scratch = new Uint8Array(KEY_MAX);
  private slot = 0;
  private len = 0;
  hits = 0;

  /**
   * Reads the key of a LINUX_SLL2 frame at buf[off] (caplen bytes). False if
   * the frame is not a plain IPv4/IPv6 TCP/UDP packet (or a fragment of one).
   */
  prepare(buf: Uint8Array, off: number, caplen: number): boolean {
    if (caplen < SLL2_HEADER_LENGTH + 20) return false;
    const k = this.scratch;
    let n = 0;
    for (let i = 4; i < 11; i++) k[n++] = buf[off + i]!; // ifindex, ARPHRD type, packet type
    const etherType = (buf[off]! << 8) | buf[off + 1]!;
    const ip = off + SLL2_HEADER_LENGTH;
    let ports: number;
    if (etherType === 0x0800) {
      const vihl = buf[ip]!;
      if (vihl >> 4 !== 4) return false;
      const ihl = (vihl & 15) * 4;
      if (ihl < 20 || caplen < SLL2_HEADER_LENGTH + ihl + 4) return false;
      if ((((buf[ip + 6]! << 8) | buf[ip + 7]!) & 0x3fff) !== 0) return false; // MF or an offset: a fragment
      const proto = buf[ip + 9]!;
      if (proto !== 6 && proto !== 17) return false;
      k[n++] = proto;
      for (let i = 12; i < 20; i++) k[n++] = buf[ip + i]!;
      ports = ip + ihl;
    } else if (etherType === 0x86dd) {
      if (caplen < SLL2_HEADER_LENGTH + 44 || buf[ip]! >> 4 !== 6) return false;
      const next = buf[ip + 6]!;
      if (next !== 6 && next !== 17) return false; // extension headers: the full path
      k[n++] = next;
      for (let i = 8; i < 40; i++) k[n++] = buf[ip + i]!;
      ports = ip + 40;
    } else {
      return false;
    }
    for (let i = 0; i < 4; i++) k[n++] = buf[ports + i]!;
    // FNV-1a
    let h = 0x811c9dc5;
    for (let i = 0; i < n; i++) h = Math.imul(h ^ k[i]!, 0x01000193);
    this.slot = (h >>> 0) & (SLOTS - 1);
    this.len = n;
    return true;
  }

  /** True if the prepared key was memoised in this generation and interval, and is still valid at timeUs. */
  hit(generation: number, bucket: number, timeUs: number): boolean {
    const s = this.slot;
    if (this.gens[s] !== generation || this.buckets[s] !== bucket || timeUs > this.untilUs[s]! || this.lens[s] !== this.len) return false;
    const base = s * KEY_MAX;
    const k = this.scratch;
    for (let i = 0; i < this.len; i++) if (this.keys[base + i] !== k[i]) return false;
    this.hits++;
    return true;
  }

  /** The rows of the prepared key's sides, after hit(): the sender's (or only) side, then the receiver's on lo. */
  get first(): Acc {
    return this.accA[this.slot]!;
  }

  get second(): Acc | null {
    return this.accB[this.slot] ?? null;
  }

  /** Memoises the prepared key: counted in rows a (and b, on lo) of interval `bucket`, valid until untilUs. */
  store(generation: number, bucket: number, untilUs: number, a: Acc, b: Acc | null): void {
    const s = this.slot;
    this.keys.set(this.scratch.subarray(0, this.len), s * KEY_MAX);
    this.lens[s] = this.len;
    this.gens[s] = generation;
    this.buckets[s] = bucket;
    this.untilUs[s] = untilUs;
    this.accA[s] = a;
    this.accB[s] = b;
  }
}
