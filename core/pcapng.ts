// pcapng (the format Wireshark and tcpdump read): a section header, one
// interface description per capture, one enhanced packet block per frame,
// optionally with a comment. Pure: frames in, bytes out.

export interface PcapngInterface {
  name: string;
  /** LINKTYPE_ value (libpcap's DLT_ values for the ones we capture). */
  linkType: number;
  snaplen: number;
}

export interface PcapngPacket {
  /** Index into the interfaces. */
  iface: number;
  /** µs since the epoch. */
  time: number;
  wireLen: number;
  data: Uint8Array;
  comment?: string;
}

/** Block types, the byte-order magic and option codes of the pcapng specification (the reader, capture-file.ts, shares them). */
export const SHB = 0x0a0d0d0a;
export const IDB = 0x00000001;
export const SPB = 0x00000003;
export const EPB = 0x00000006;
export const BYTE_ORDER_MAGIC = 0x1a2b3c4d;
export const OPT_END = 0;
export const OPT_COMMENT = 1;
export const IF_NAME = 2;
export const IF_TSRESOL = 9;
const SHB_USERAPPL = 4;

const pad4 = (n: number) => (n + 3) & ~3;
/** An option's length field is 16 bits: longer text cannot be written as one option, and is refused (found by fuzzing). */
const MAX_OPTION_BYTES = 0xffff;
function utf8(text: string): Uint8Array {
  const bytes = new TextEncoder().encode(text);
  if (bytes.length > MAX_OPTION_BYTES) throw new Error(`a pcapng option holds at most ${MAX_OPTION_BYTES} bytes; this name or comment has ${bytes.length}`);
  return bytes;
}

function options(opts: [number, Uint8Array][]): Uint8Array {
  if (!opts.length) return new Uint8Array(0);
  const size = opts.reduce((n, [, v]) => n + 4 + pad4(v.length), 0) + 4;
  const out = new Uint8Array(size);
  const dv = new DataView(out.buffer);
  let o = 0;
  for (const [code, v] of opts) {
    dv.setUint16(o, code, true);
    dv.setUint16(o + 2, v.length, true);
    out.set(v, o + 4);
    o += 4 + pad4(v.length);
  }
  dv.setUint16(o, OPT_END, true);
  return out;
}

function block(type: number, body: Uint8Array): Uint8Array {
  const total = 12 + body.length;
  const out = new Uint8Array(total);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, type, true);
  dv.setUint32(4, total, true);
  out.set(body, 8);
  dv.setUint32(total - 4, total, true);
  return out;
}

export function writePcapng(interfaces: readonly PcapngInterface[], packets: readonly PcapngPacket[], application = 'NetProbes'): Uint8Array {
  const blocks: Uint8Array[] = [];
  {
    const opts = options([[SHB_USERAPPL, utf8(application)]]);
    const body = new Uint8Array(16 + opts.length);
    const dv = new DataView(body.buffer);
    dv.setUint32(0, BYTE_ORDER_MAGIC, true);
    dv.setUint16(4, 1, true); // version 1.0
    dv.setUint16(6, 0, true);
    dv.setBigInt64(8, -1n, true); // section length unknown
    body.set(opts, 16);
    blocks.push(block(SHB, body));
  }
  for (const i of interfaces) {
    const opts = options([[IF_NAME, utf8(i.name)]]); // if_tsresol absent: microseconds
    const body = new Uint8Array(8 + opts.length);
    const dv = new DataView(body.buffer);
    dv.setUint16(0, i.linkType, true);
    dv.setUint32(4, i.snaplen, true);
    body.set(opts, 8);
    blocks.push(block(IDB, body));
  }
  for (const p of packets) {
    const opts = options(p.comment ? [[OPT_COMMENT, utf8(p.comment)]] : []);
    const body = new Uint8Array(20 + pad4(p.data.length) + opts.length);
    const dv = new DataView(body.buffer);
    const ts = BigInt(Math.round(p.time));
    dv.setUint32(0, p.iface, true);
    dv.setUint32(4, Number(ts >> 32n), true);
    dv.setUint32(8, Number(ts & 0xffffffffn), true);
    dv.setUint32(12, p.data.length, true);
    dv.setUint32(16, p.wireLen, true);
    body.set(p.data, 20);
    body.set(opts, 20 + pad4(p.data.length));
    blocks.push(block(EPB, body));
  }
  const out = new Uint8Array(blocks.reduce((n, b) => n + b.length, 0));
  let o = 0;
  for (const b of blocks) {
    out.set(b, o);
    o += b.length;
  }
  return out;
}

/** A packet's process, as NetProbes writes it in an EPB comment. */
export interface CommentOwner {
  pid: number;
  command: string;
  uid: number;
  cgroup?: string;
}

/** The EPB comment that names a packet's process, in ptcpdump's key=value form: `pid=…, comm=…, uid=…, cgroup=…`. */
export function processComment(owner: CommentOwner): string {
  return `pid=${owner.pid}, comm=${owner.command}, uid=${owner.uid}, cgroup=${owner.cgroup ?? ''}`;
}

const PROCESS_COMMENT = /^pid=(-?\d{1,10}), comm=([^\n]*?), uid=(-?\d{1,10})(?:, cgroup=([^\n]*))?$/;

/** The process an EPB comment names (processComment's form), or null for any other comment. */
export function parseProcessComment(comment: string): CommentOwner | null {
  const m = PROCESS_COMMENT.exec(comment);
  if (!m) return null;
  return { pid: Number(m[1]), command: m[2]!, uid: Number(m[3]), cgroup: m[4] ?? '' };
}
