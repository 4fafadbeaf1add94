// nettop's per-frame step: a LINUX_SLL2 frame (libpcap on "any") in, the
// engine's counts out. Pure (no Node imports), so it is unit tested on real
// captured frames.
//
// Directions: libpcap keeps one copy of each packet on lo (the incoming one),
// so a lo packet is counted twice, XMIT at its source endpoint and RECV at its
// destination; elsewhere the cooked header's packet type tells (OUTGOING =
// sent by this host; HOST, BROADCAST, MULTICAST = received; OTHERHOST = for
// another host, seen on a promiscuous interface: the kernel's).
//
// Bytes: the device's frame length, as nettop.stp's skb length at the device:
// the 20-byte cooked header is replaced by the device's own link header,
// which depends on the device's ARPHRD type (the cooked header carries it):
// 14 bytes on Ethernet and loopback, none on tun, tunnels and PPP.

import { decodeFrame, LinkType, PacketType } from '../../core/packet.ts';
import { RECV, XMIT, type Direction, type NettopEngine } from './engine.ts';
import { FlowMemo } from './fastpath.ts';
import { ARPHRD_LOOPBACK, linkHeaderLength, SLL2_HEADER } from './link.ts';

export class FrameCounter {
  frames = 0;
  malformed = 0;
  private readonly memo = new FlowMemo();
  private lastIfindex = -1;
  private lastDev = '';

  constructor(
    private readonly engine: NettopEngine,
    /** ifindex → interface name. */
    private readonly devName: (ifindex: number) => string,
  ) {}

  /** Fast-path hits so far (frames counted through the memo). */
  get memoHits(): number {
    return this.memo.hits;
  }

  /** One frame of `caplen` captured bytes at buf[off], `wireLen` long, captured at timeUs (µs since the epoch). */
  frame(buf: Uint8Array, off: number, caplen: number, wireLen: number, timeUs: number): void {
    this.frames++;
    const engine = this.engine;
    if (caplen < SLL2_HEADER) {
      this.malformed++;
      return;
    }
    const ifindex = ((buf[off + 4]! << 24) | (buf[off + 5]! << 16) | (buf[off + 6]! << 8) | buf[off + 7]!) >>> 0;
    const hatype = (buf[off + 8]! << 8) | buf[off + 9]!;
    const pktType = buf[off + 10]!;
    if (ifindex !== this.lastIfindex) {
      this.lastIfindex = ifindex;
      this.lastDev = this.devName(ifindex);
    }
    const dev = this.lastDev;
    const bytes = wireLen - SLL2_HEADER + linkHeaderLength(hatype);
    const loop = hatype === ARPHRD_LOOPBACK;
    const dir: Direction = pktType === PacketType.OUTGOING ? XMIT : RECV;

    // A header identical to one counted earlier in this generation: counted through the memo.
    const memo = this.memo;
    const memoable = pktType !== PacketType.OTHERHOST && memo.prepare(buf, off, caplen);
    let bucket = 0;
    if (memoable) {
      bucket = engine.bucketOf(timeUs);
      if (memo.hit(engine.generation, bucket, timeUs)) {
        if (loop) {
          engine.bump(memo.first, XMIT, bytes);
          engine.bump(memo.second!, RECV, bytes);
        } else engine.bump(memo.first, dir, bytes);
        return;
      }
    }

    const d = decodeFrame(LinkType.LINUX_SLL2, buf, off, caplen, wireLen);
    if (typeof d === 'string') {
      if (d === 'malformed') this.malformed++;
      // TCP/UDP cut by the snap length had an owner we cannot name; everything else is the kernel's.
      if (d === 'truncated') {
        if (loop) {
          engine.unknown(timeUs, dev, XMIT, bytes);
          engine.unknown(timeUs, dev, RECV, bytes);
        } else engine.unknown(timeUs, dev, dir, bytes);
      } else if (loop) {
        engine.kernel(timeUs, dev, XMIT, bytes);
        engine.kernel(timeUs, dev, RECV, bytes);
      } else engine.kernel(timeUs, dev, dir, bytes);
      return;
    }
    if (loop) {
      engine.side(timeUs, dev, XMIT, d.proto, d.src, d.sport, d.dst, d.dport, d.tcpFlags, bytes);
      const a = engine.lastAcc;
      const until = engine.lastValidUntilUs;
      engine.side(timeUs, dev, RECV, d.proto, d.dst, d.dport, d.src, d.sport, d.tcpFlags, bytes);
      const b = engine.lastAcc;
      if (memoable && a && b) memo.store(engine.generation, bucket, Math.min(until, engine.lastValidUntilUs), a, b);
      return;
    }
    if (pktType === PacketType.OTHERHOST) {
      engine.kernel(timeUs, dev, RECV, bytes);
      return;
    }
    if (dir === XMIT) engine.side(timeUs, dev, XMIT, d.proto, d.src, d.sport, d.dst, d.dport, d.tcpFlags, bytes);
    else engine.side(timeUs, dev, RECV, d.proto, d.dst, d.dport, d.src, d.sport, d.tcpFlags, bytes);
    if (memoable && engine.lastAcc) memo.store(engine.generation, bucket, engine.lastValidUntilUs, engine.lastAcc, null);
  }
}
