// Packet capture through libpcap (the patched `cap` binding). Configured for
// throughput, after what we measured (docs/BENCHMARKS.md): immediate mode off (TPACKET_V3
// blocks instead of one ring slot per packet), a short read timeout so rows
// still arrive promptly, a small snap length (we decode headers only), and
// packets delivered in batches of one buffer per JavaScript callback.
//
// A user's filter expression goes through PcapCapture.open: compiling one is
// native code that can take seconds, so it is checked under a time bound in a
// child process (filter-check.node.ts), then compiled for real on a libuv
// pool thread while the capture is paused, never on the event loop.

import { Cap } from 'cap';
import { ProbeError } from '../../core/probe-error.ts';
import { LinkType } from '../../core/packet.ts';
import { badFilter, checkFilter, FILTER_COMPILE_TIMEOUT_MS, refuseFilter } from './filter-check.node.ts';

export interface CaptureOptions {
  device: string;
  filter: string;
  direction: 'in' | 'inout';
  snaplen?: number;
  /** Kernel ring size in bytes. */
  bufferBytes?: number;
}

/** One captured packet; `data` is valid only during the callback (the buffer is reused). */
export interface CapturedPacket {
  data: Buffer;
  offset: number;
  caplen: number;
  wireLen: number;
  /** µs since the epoch. */
  time: number;
  /** The capture's DLT_ link type. */
  linkType: number;
}

/** Bytes kept of each frame: headers only, which is all the probes decode (and what a pcapng export holds). */
export const DEFAULT_SNAPLEN = 256;
const DEFAULT_RING = 32 << 20;
const READ_TIMEOUT_MS = 20;
const BATCH_BUFFER = 1 << 20;
const RECORD_HEADER = 16;

export class PcapCapture {
  readonly linkType: number;
  private readonly cap = new Cap();
  private readonly buffer = Buffer.alloc(BATCH_BUFFER);
  private closed = false;
  /** Drops as last read: kept past close, so an end-of-run summary still reports them. */
  private drops = 0;

  /**
   * Opens a capture for a filter from the user: the expression is checked in
   * a child process (rejects with a ProbeError if it is too long, invalid, or
   * takes longer than compileTimeoutMs), then compiled off the event loop.
   */
  static async open(options: CaptureOptions, onPacket: (p: CapturedPacket) => void, compileTimeoutMs = FILTER_COMPILE_TIMEOUT_MS): Promise<PcapCapture> {
    if (!options.filter) return new PcapCapture(options, onPacket);
    const refused = refuseFilter(options.filter); // before anything opens
    if (refused) throw refused;
    const capture = new PcapCapture(options, onPacket, true);
    try {
      // The link type is known once open; meanwhile the kernel rejects every packet.
      await checkFilter(options.filter, { linkType: capture.linkType, snaplen: options.snaplen ?? DEFAULT_SNAPLEN, device: options.device }, compileTimeoutMs);
      await new Promise<void>((resolve, reject) =>
        capture.cap.setFilter(options.filter, (e) => (e ? reject(badFilter(options.filter, e.message)) : resolve())),
      );
      capture.cap.resume();
    } catch (e) {
      capture.close();
      throw e;
    }
    return capture;
  }

  /**
   * Opens at once. A filter given here compiles on this thread: for short
   * ones we build ourselves (nettop's interface list); a user's goes through open().
   */
  constructor(
    readonly options: CaptureOptions,
    onPacket: (p: CapturedPacket) => void,
    paused = false,
  ) {
    try {
      this.cap.open(options.device, paused ? '' : options.filter, options.bufferBytes ?? DEFAULT_RING, this.buffer, {
        snaplen: options.snaplen ?? DEFAULT_SNAPLEN,
        immediate: false,
        timeout: READ_TIMEOUT_MS,
        promisc: false,
        direction: options.direction,
        batch: true,
        paused,
        // On "any", ask for cooked v2: its header carries the interface index.
        ...(options.device === 'any' ? { datalink: LinkType.LINUX_SLL2 } : {}),
      });
    } catch (e) {
      throw pcapError(options, e);
    }
    this.linkType = this.cap.linkType();
    const packet: CapturedPacket = { data: this.buffer, offset: 0, caplen: 0, wireLen: 0, time: 0, linkType: this.linkType };
    const buf = this.buffer;
    this.cap.on('packets', (nbytes, count) => {
      let off = 0;
      for (let i = 0; i < count && off + RECORD_HEADER <= nbytes; i++) {
        const caplen = buf.readUInt32LE(off);
        packet.caplen = caplen;
        packet.wireLen = buf.readUInt32LE(off + 4);
        packet.time = buf.readUInt32LE(off + 8) * 1e6 + buf.readUInt32LE(off + 12);
        packet.offset = off + RECORD_HEADER;
        off += RECORD_HEADER + ((caplen + 3) & ~3);
        onPacket(packet);
      }
    });
  }

  /** Packets the kernel dropped because the ring was full, since open. */
  kernelDrops(): number {
    if (this.closed) return this.drops;
    const s = this.cap.stats();
    this.drops = s.dropped + s.ifdropped;
    return this.drops;
  }

  close(): void {
    if (this.closed) return;
    try {
      this.kernelDrops();
    } catch {
      /* keep the last count */
    }
    this.closed = true;
    this.cap.close();
  }
}

function pcapError(options: CaptureOptions, e: unknown): ProbeError {
  const msg = e instanceof Error ? e.message : String(e);
  if (/permission|not permitted|EPERM|Operation not permitted/i.test(msg)) {
    return new ProbeError(
      'privilege',
      `capturing on ${options.device} needs root or CAP_NET_RAW (libpcap said: ${msg}). Run as root, e.g. sudo npx netprobes ..., or start the collector as administrator in the app.`,
    );
  }
  if (/No such device|doesn't exist|SIOCGIFHWADDR|no such/i.test(msg)) {
    return new ProbeError('input', `no interface named ${options.device} (libpcap said: ${msg})`);
  }
  if (/syntax|filter|parse|illegal|unknown/i.test(msg) && options.filter) {
    return new ProbeError('input', `bad filter expression '${options.filter}': ${msg}`);
  }
  return new ProbeError('feature', `libpcap could not open ${options.device}: ${msg}`);
}
