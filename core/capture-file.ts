// Reading capture files: pcap (either byte order, µs or ns timestamps) and
// pcapng (sections in either byte order, interfaces with their names and
// timestamp resolution, enhanced and simple packet blocks, packet comments).
// Written here rather than taken from libpcap's pcap_open_offline because the
// `cap` binding has no offline capture; pure, bounds-checked and fuzzed like
// every decoder (bytes in, records out). Streaming: parse() takes what is
// buffered and consumes whole records only, so a 1 GB file never sits in memory.

import { BYTE_ORDER_MAGIC, EPB, IDB, IF_NAME, IF_TSRESOL, OPT_COMMENT, OPT_END, SHB, SPB } from './pcapng.ts';

export interface FileInterface {
  linkType: number;
  /** if_name of a pcapng interface; '' in pcap files (they carry no names). */
  name: string;
}

export interface FileRecord {
  iface: number;
  /** µs since the epoch. */
  timeUs: number;
  /** The captured bytes: buf[offset, offset + caplen). Valid only during the callback. */
  buf: Uint8Array;
  offset: number;
  caplen: number;
  wireLen: number;
  /** The packet's comments (pcapng opt_comment), in file order. */
  comments: string[];
}

/** A block or record larger than this is refused as malformed (libpcap's own limit is 256 KiB per packet). */
export const MAX_BLOCK_BYTES = 16 << 20;

export class CaptureFileError extends Error {}

const PCAP_US = 0xa1b2c3d4;
const PCAP_NS = 0xa1b23c4d;

interface NgInterface extends FileInterface {
  /** Timestamp units per second. */
  unitsPerSec: bigint;
  snaplen: number;
}

export class CaptureFileParser {
  format: 'pcap' | 'pcapng' | null = null;
  /** Every interface seen, across pcapng sections (a record's iface indexes this). */
  readonly interfaces: FileInterface[] = [];
  private little = true;
  private nanos = false;
  /** pcapng: the current section's interfaces, as indexes into `interfaces`. */
  private section: number[] = [];
  private sectionIfaces: NgInterface[] = [];
  private readonly decoder = new TextDecoder('utf-8', { fatal: false });

  /** Parses the whole records in buf[0, length); returns the bytes consumed (the rest waits for more). */
  parse(buf: Uint8Array, length: number, onRecord: (r: FileRecord) => void): number {
    const dv = new DataView(buf.buffer, buf.byteOffset, length);
    let at = 0;
    if (this.format === null) {
      if (length < 24) return 0;
      const be = dv.getUint32(0, false);
      const le = dv.getUint32(0, true);
      if (be === SHB) this.format = 'pcapng';
      else if (le === PCAP_US || le === PCAP_NS) {
        this.format = 'pcap';
        this.little = true;
        this.nanos = le === PCAP_NS;
      } else if (be === PCAP_US || be === PCAP_NS) {
        this.format = 'pcap';
        this.little = false;
        this.nanos = be === PCAP_NS;
      } else throw new CaptureFileError('not a pcap or pcapng file (unknown magic number)');
      if (this.format === 'pcap') {
        this.interfaces.push({ linkType: dv.getUint32(20, this.little) & 0xffff, name: '' });
        at = 24;
      }
    }
    return this.format === 'pcap' ? this.parsePcap(buf, dv, at, length, onRecord) : this.parsePcapng(buf, dv, at, length, onRecord);
  }

  private parsePcap(buf: Uint8Array, dv: DataView, at: number, length: number, onRecord: (r: FileRecord) => void): number {
    const le = this.little;
    while (at + 16 <= length) {
      const caplen = dv.getUint32(at + 8, le);
      if (caplen > MAX_BLOCK_BYTES) throw new CaptureFileError(`a record of ${caplen} bytes at offset ${at}: malformed`);
      if (at + 16 + caplen > length) break;
      const sec = dv.getUint32(at, le);
      const frac = dv.getUint32(at + 4, le);
      const timeUs = sec * 1e6 + (this.nanos ? Math.floor(frac / 1000) : frac);
      const wireLen = Math.max(dv.getUint32(at + 12, le), caplen);
      onRecord({ iface: 0, timeUs, buf, offset: at + 16, caplen, wireLen, comments: [] });
      at += 16 + caplen;
    }
    return at;
  }

  private parsePcapng(buf: Uint8Array, dv: DataView, at: number, length: number, onRecord: (r: FileRecord) => void): number {
    while (at + 12 <= length) {
      const typeBE = dv.getUint32(at, false);
      if (typeBE === SHB) {
        // The section's byte order is in its byte-order magic; the block length is read in it.
        if (at + 12 > length) break;
        const magic = dv.getUint32(at + 8, true);
        if (magic === BYTE_ORDER_MAGIC) this.little = true;
        else if (dv.getUint32(at + 8, false) === BYTE_ORDER_MAGIC) this.little = false;
        else throw new CaptureFileError(`a section header with no byte-order magic at offset ${at}`);
      }
      const le = this.little;
      const type = dv.getUint32(at, le);
      const total = dv.getUint32(at + 4, le);
      if (total < 12 || total % 4 !== 0 || total > MAX_BLOCK_BYTES) throw new CaptureFileError(`a block of ${total} bytes at offset ${at}: malformed`);
      if (at + total > length) break;
      if (dv.getUint32(at + total - 4, le) !== total) throw new CaptureFileError(`a block at offset ${at} whose two lengths differ: malformed`);
      const body = at + 8;
      const end = at + total - 4;
      if (typeBE === SHB) {
        this.section = [];
        this.sectionIfaces = [];
      } else if (type === IDB) {
        if (end - body < 8) throw new CaptureFileError(`an interface block too short at offset ${at}`);
        const iface: NgInterface = { linkType: dv.getUint16(body, le), name: '', unitsPerSec: 1_000_000n, snaplen: dv.getUint32(body + 4, le) };
        this.options(buf, dv, body + 8, end, (code, o, n) => {
          if (code === IF_NAME) iface.name = this.decoder.decode(buf.subarray(o, o + n)).replace(/\0+$/, '');
          else if (code === IF_TSRESOL && n >= 1) {
            const r = buf[o]!;
            const exp = BigInt(r & 0x7f);
            if (exp <= 60n) iface.unitsPerSec = r & 0x80 ? 1n << exp : 10n ** exp;
          }
        });
        this.section.push(this.interfaces.length);
        this.sectionIfaces.push(iface);
        this.interfaces.push({ linkType: iface.linkType, name: iface.name });
      } else if (type === EPB) {
        if (end - body < 20) throw new CaptureFileError(`a packet block too short at offset ${at}`);
        const local = dv.getUint32(body, le);
        const iface = this.sectionIfaces[local];
        if (!iface) throw new CaptureFileError(`a packet of interface ${local}, which the section does not describe (offset ${at})`);
        const caplen = dv.getUint32(body + 12, le);
        const data = body + 20;
        if (data + caplen > end) throw new CaptureFileError(`a packet longer than its block at offset ${at}: malformed`);
        const ts = (BigInt(dv.getUint32(body + 4, le)) << 32n) | BigInt(dv.getUint32(body + 8, le));
        const timeUs = iface.unitsPerSec === 1_000_000n ? Number(ts) : Number((ts * 1_000_000n) / iface.unitsPerSec);
        const comments: string[] = [];
        this.options(buf, dv, data + ((caplen + 3) & ~3), end, (code, o, n) => {
          if (code === OPT_COMMENT) comments.push(this.decoder.decode(buf.subarray(o, o + n)));
        });
        const wireLen = Math.max(dv.getUint32(body + 16, le), caplen);
        onRecord({ iface: this.section[local]!, timeUs, buf, offset: data, caplen, wireLen, comments });
      } else if (type === SPB) {
        const iface = this.sectionIfaces[0];
        if (!iface) throw new CaptureFileError(`a simple packet block before any interface (offset ${at})`);
        if (end - body < 4) throw new CaptureFileError(`a simple packet block too short at offset ${at}`);
        const wireLen = dv.getUint32(body, le);
        const caplen = Math.min(wireLen, end - body - 4, iface.snaplen || Infinity);
        onRecord({ iface: this.section[0]!, timeUs: 0, buf, offset: body + 4, caplen, wireLen: Math.max(wireLen, caplen), comments: [] });
      }
      // Other blocks (statistics, name resolution, custom, the obsolete packet block) carry no packet we show.
      at += total;
    }
    return at;
  }

  /** Walks a pcapng option list in [at, end): code, value offset and length of each, until opt_endofopt. */
  private options(_buf: Uint8Array, dv: DataView, at: number, end: number, each: (code: number, offset: number, length: number) => void): void {
    while (at + 4 <= end) {
      const code = dv.getUint16(at, this.little);
      const n = dv.getUint16(at + 2, this.little);
      if (code === OPT_END) return;
      if (at + 4 + n > end) return; // a cut option: the rest of the list is ignored
      each(code, at + 4, n);
      at += 4 + ((n + 3) & ~3);
    }
  }
}
