// The last N captured frames, for a pcapng export: one preallocated buffer of
// fixed slots (no allocation per packet), the oldest overwritten first. Each
// frame may carry its process (tcpdump --process), decided after the frame was
// added (its socket's owner may need a /proc scan): it becomes the EPB comment.

import { processComment, type CommentOwner, type PcapngInterface, type PcapngPacket } from './pcapng.ts';

const NO_OWNER = -2;

export class FrameRing {
  private readonly data: Uint8Array;
  private readonly caplen: Uint32Array;
  private readonly wireLen: Uint32Array;
  private readonly iface: Uint8Array;
  private readonly time: Float64Array;
  /** Each frame's process (pid -2: none named); the strings are the owner's own, not copies. */
  private readonly pid: Int32Array;
  private readonly uid: Int32Array;
  private readonly command: string[];
  private readonly cgroup: string[];
  private next = 0;
  private filled = 0;
  /** Frames added so far: add() returns each one's number, for setOwner(). */
  private added = 0;
  readonly interfaces: PcapngInterface[] = [];

  constructor(
    readonly slots: number,
    readonly slotBytes: number,
  ) {
    this.data = new Uint8Array(slots * slotBytes);
    this.caplen = new Uint32Array(slots);
    this.wireLen = new Uint32Array(slots);
    this.iface = new Uint8Array(slots);
    this.time = new Float64Array(slots);
    this.pid = new Int32Array(slots).fill(NO_OWNER);
    this.uid = new Int32Array(slots);
    this.command = new Array<string>(slots).fill('');
    this.cgroup = new Array<string>(slots).fill('');
  }

  /** Registers a capture's interface; returns its index for add(). */
  addInterface(i: PcapngInterface): number {
    this.interfaces.push(i);
    return this.interfaces.length - 1;
  }

  /** Keeps a frame (its first slotBytes bytes); returns its number, for setOwner(). */
  add(iface: number, time: number, src: Uint8Array, offset: number, caplen: number, wireLen: number): number {
    const n = Math.min(caplen, this.slotBytes);
    const slot = this.next;
    this.data.set(src.subarray(offset, offset + n), slot * this.slotBytes);
    this.caplen[slot] = n;
    this.wireLen[slot] = wireLen;
    this.iface[slot] = iface;
    this.time[slot] = time;
    this.pid[slot] = NO_OWNER;
    this.next = (slot + 1) % this.slots;
    if (this.filled < this.slots) this.filled++;
    return this.added++;
  }

  /** Names frame number `frame`'s process, unless the frame was overwritten since. */
  setOwner(frame: number, owner: CommentOwner): void {
    if (frame < this.added - this.filled || frame >= this.added) return;
    const slot = frame % this.slots;
    this.pid[slot] = owner.pid;
    this.uid[slot] = owner.uid;
    this.command[slot] = owner.command;
    this.cgroup[slot] = owner.cgroup ?? '';
  }

  /** The frames held, oldest first (copies). */
  packets(): PcapngPacket[] {
    const out: PcapngPacket[] = [];
    const start = this.filled < this.slots ? 0 : this.next;
    for (let k = 0; k < this.filled; k++) {
      const slot = (start + k) % this.slots;
      const at = slot * this.slotBytes;
      const packet: PcapngPacket = { iface: this.iface[slot]!, time: this.time[slot]!, wireLen: this.wireLen[slot]!, data: this.data.slice(at, at + this.caplen[slot]!) };
      if (this.pid[slot] !== NO_OWNER) packet.comment = processComment({ pid: this.pid[slot]!, uid: this.uid[slot]!, command: this.command[slot]!, cgroup: this.cgroup[slot]! });
      out.push(packet);
    }
    return out;
  }
}
