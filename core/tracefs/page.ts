// Walking one page ("sub-buffer") read from per_cpu/cpuN/trace_pipe_raw. Pure,
// so it is unit tested on pages captured on a real kernel.
//
// A page is a header (u64 timestamp, local_t commit — offsets from
// events/header_page) and then events, each with a 32-bit header:
// type_len:5 (low bits) / time_delta:27. type_len 1..28: data of type_len*4
// bytes follows; 0: a u32 length (counting itself) then the data; 29: padding
// or a discarded event (u32 length of what follows); 30: time extend (u32 with
// the delta's high bits); 31: an absolute timestamp. Every header's
// time_delta adds to the running timestamp, as libtraceevent's kbuffer does.

export interface PageLayout {
  readonly timestampOffset: number;
  readonly commitOffset: number;
  readonly commitSize: number;
  readonly dataOffset: number;
}

export const TYPE_PADDING = 29;
export const TYPE_TIME_EXTEND = 30;
export const TYPE_TIME_STAMP = 31;
const TS_SHIFT = 27;
/**
 * High bits of `commit` that flag lost events; the rest is the data length (ring_buffer.c). When the writer
 * overwrote events the reader had not read, the next page handed to the reader has RB_MISSED_EVENTS set and, if
 * there was room after the data, the number of events lost stored there as an unsigned long (RB_MISSED_STORED).
 */
const COMMIT_LENGTH_MASK = 0x3fff_ffff;
const RB_MISSED_EVENTS = 0x8000_0000;
const RB_MISSED_STORED = 0x4000_0000;

export interface PageStats {
  /** Data events delivered to the callback. */
  events: number;
  /** True when the kernel flagged events lost before this page (overwritten). */
  missed: boolean;
  /** How many: the count the kernel stored after the data (0 when not flagged or not stored). */
  missedEvents: number;
  /** Bytes of event data the page said it holds. */
  length: number;
  /** True when an event ran past the committed length: the rest of the page was skipped. */
  corrupt: boolean;
}

/**
 * Calls `onEvent(buf, offset, length, tsNs)` for every data event in the page,
 * `offset` pointing at the record (common_type first). Timestamps are in the
 * instance's trace clock, in ns, as a number (exact below 2^53 ns ≈ 104 days).
 */
export function walkPage(
  buf: Buffer,
  pageStart: number,
  pageSize: number,
  layout: PageLayout,
  onEvent: (buf: Buffer, offset: number, length: number, tsNs: number) => void,
): PageStats {
  const tsLo = buf.readUInt32LE(pageStart + layout.timestampOffset);
  const tsHi = buf.readUInt32LE(pageStart + layout.timestampOffset + 4);
  let ts = tsHi * 0x1_0000_0000 + tsLo;
  const commitRaw = buf.readUInt32LE(pageStart + layout.commitOffset);
  const length = commitRaw & COMMIT_LENGTH_MASK;
  const missed = (commitRaw & RB_MISSED_EVENTS) !== 0;
  const start = pageStart + layout.dataOffset;
  const end = Math.min(start + length, pageStart + pageSize, buf.length);
  let missedEvents = 0;
  const countAt = start + length;
  if (missed && (commitRaw & RB_MISSED_STORED) !== 0 && countAt + layout.commitSize <= Math.min(pageStart + pageSize, buf.length)) {
    missedEvents = layout.commitSize >= 8 ? Number(buf.readBigUInt64LE(countAt)) : buf.readUInt32LE(countAt);
  }
  const stats: PageStats = { events: 0, missed, missedEvents, length, corrupt: false };
  let off = start;
  while (off + 4 <= end) {
    const h = buf.readUInt32LE(off);
    const typeLen = h & 0x1f;
    const delta = h >>> 5;
    if (typeLen === TYPE_PADDING) {
      ts += delta;
      if (off + 8 > end) break;
      if (delta === 0 && buf.readUInt32LE(off + 4) === 0) break; // null event: the rest is empty
      off += 4 + buf.readUInt32LE(off + 4);
      continue;
    }
    if (typeLen === TYPE_TIME_EXTEND || typeLen === TYPE_TIME_STAMP) {
      if (off + 8 > end) {
        stats.corrupt = true;
        break;
      }
      const ext = buf.readUInt32LE(off + 4) * 2 ** TS_SHIFT + delta;
      if (typeLen === TYPE_TIME_EXTEND) ts += ext;
      else ts = ext; // absolute (59 bits); our clocks stay far below that
      off += 8;
      continue;
    }
    ts += delta;
    let dataOff: number;
    let dataLen: number;
    if (typeLen === 0) {
      if (off + 8 > end) {
        stats.corrupt = true;
        break;
      }
      dataLen = ((buf.readUInt32LE(off + 4) - 4 + 3) & ~3) >>> 0;
      dataOff = off + 8;
    } else {
      dataLen = typeLen * 4;
      dataOff = off + 4;
    }
    if (dataLen <= 0 || dataOff + dataLen > end) {
      stats.corrupt = true;
      break;
    }
    stats.events++;
    onEvent(buf, dataOff, dataLen, ts);
    off = dataOff + dataLen;
  }
  return stats;
}

/** Parses a per_cpu/cpuN/stats file: "overrun: 3", "dropped events: 0", ... */
export function parseCpuStats(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const m = /^([a-z ]+):\s*(\d+)\s*$/.exec(line.trim());
    if (m) out[m[1]!] = Number(m[2]);
  }
  return out;
}
