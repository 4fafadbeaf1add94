// nettop's per-frame step: a LINUX_SLL2 frame (libpcap on "any") in, the
// engine's counts out; what the engine decided (the row and how long the
// decision holds) is memoised by the fast path from side()'s return value. Pure (no Node imports), so it is unit tested on real
// captured frames.
//
// Directions: libpcap keeps one copy of each packet on lo (the incoming one),
// so a lo packet is counted twice, XMIT at its source endpoint and RECV at its
// destination; so is a packet to or from another network namespace whose
// sockets the snapshot holds (a container behind a veth: its process sent or
// receives it, as a host process or the kernel does on our side); elsewhere the cooked header's packet type tells (OUTGOING =
// sent by this host; HOST, BROADCAST, MULTICAST = received; OTHERHOST = for
// another host, seen on a promiscuous interface: the kernel's).
//
// Bytes: the device's frame length, as nettop.stp's skb length at the device:
// the 20-byte cooked header is replaced by the device's own link header,
// which depends on the device's ARPHRD type (the cooked header carries it):
// 14 bytes on Ethernet and loopback, none on tun, tunnels and PPP.

import { decodeFrame, LinkType, PacketType, SLL2_HEADER_LENGTH } from '../../core/packet.ts';
import type { NettopEngine } from './engine.ts';
import { FlowMemo } from './fastpath.ts';
import { validUntilUs } from '../../attribution/flow-cache.ts';
import { RECV, XMIT, type Direction, type FlowTuple } from '../../attribution/flow.ts';
import { ARPHRD_LOOPBACK, linkHeaderLength } from './link.ts';

export class FrameCounter {
  frames = 0;
  malformed = 0;
  private readonly memo = new FlowMemo();
  private lastIfindex = -1;
  private lastDev = '';
  /** The flow as the sender's and as the receiver's endpoint see it: reused for every frame (the engine copies what it keeps). */
  private readonly senderFlow: FlowTuple = { proto: 'TCP', localIp: '', localPort: 0, remoteIp: '', remotePort: 0 };
  private readonly receiverFlow: FlowTuple = { proto: 'TCP', localIp: '', localPort: 0, remoteIp: '', remotePort: 0 };

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
    if (caplen < SLL2_HEADER_LENGTH) {
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
    const bytes = wireLen - SLL2_HEADER_LENGTH + linkHeaderLength(hatype);
    const loop = hatype === ARPHRD_LOOPBACK;
    const dir: Direction = pktType === PacketType.OUTGOING ? XMIT : RECV;

    // A header identical to one counted earlier in this generation: counted through the memo.
    const memo = this.memo;
    const memoable = pktType !== PacketType.OTHERHOST && memo.prepare(buf, off, caplen);
    let bucket = 0;
    if (memoable) {
      bucket = engine.bucketOf(timeUs);
      if (memo.hit(engine.generation, bucket, timeUs)) {
        const second = memo.second;
        if (second) {
          engine.bump(memo.first, XMIT, bytes);
          engine.bump(second, RECV, bytes);
        } else engine.bump(memo.first, dir, bytes);
        return;
      }
    }

    const decoded = decodeFrame(LinkType.LINUX_SLL2, buf, off, caplen, wireLen);
    if (typeof decoded === 'string') {
      if (decoded === 'malformed') this.malformed++;
      // TCP/UDP cut by the snap length had an owner we cannot name; everything else is the kernel's.
      if (decoded === 'truncated') {
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
    const sender = this.senderFlow;
    const receiver = this.receiverFlow;
    sender.proto = receiver.proto = decoded.proto;
    sender.localIp = receiver.remoteIp = decoded.src;
    sender.localPort = receiver.remotePort = decoded.sport;
    sender.remoteIp = receiver.localIp = decoded.dst;
    sender.remotePort = receiver.localPort = decoded.dport;
    // The memo keeps a decision only under the generation it was made in: one that changed it is not kept.
    const generation = engine.generation;
    // Both ends are local on lo, and on a link to another network namespace whose sockets we read (a container's veth).
    if (loop || (pktType !== PacketType.OTHERHOST && engine.elsewhere(dir === XMIT ? decoded.dst : decoded.src))) {
      const first = engine.side(timeUs, dev, XMIT, sender, decoded.tcpFlags, bytes);
      // Read before the second side: its decision may evict this one's cache entry.
      const firstAcc = first?.acc ?? null;
      const firstUntilUs = first ? validUntilUs(first) : 0;
      const second = engine.side(timeUs, dev, RECV, receiver, decoded.tcpFlags, bytes);
      if (memoable && firstAcc && second) memo.store(generation, bucket, Math.min(firstUntilUs, validUntilUs(second)), firstAcc, second.acc);
      return;
    }
    if (pktType === PacketType.OTHERHOST) {
      engine.kernel(timeUs, dev, RECV, bytes);
      return;
    }
    const decision = dir === XMIT ? engine.side(timeUs, dev, XMIT, sender, decoded.tcpFlags, bytes) : engine.side(timeUs, dev, RECV, receiver, decoded.tcpFlags, bytes);
    if (memoable && decision) memo.store(generation, bucket, validUntilUs(decision), decision.acc!, null);
  }
}
