// tracefs: ring-buffer pages (core/tracefs/page.ts, walkPage) and
// `format` files (format.ts). Seeds: the pages and format files captured on a
// real kernel in test/fixtures/tracefs/.
//
// Pages, as raw-reader.node.ts reads them (a buffer of the sub-buffer size, n
// bytes read into it, n >= the page header):
//   - walkPage never throws (raw.ts has no error of its own: a page it cannot
//     follow is flagged `corrupt`);
//   - bounded output: every event lies within the committed data of the page
//     and within the n bytes read, has a positive length that is a multiple of
//     4, a finite timestamp; at most one event per 4 bytes; missedEvents only
//     when the page says events were missed;
//   - no read past n: the page at the start of a larger buffer whose bytes
//     beyond n are 0x00 or 0xff, and at an offset (pageStart) inside one, give
//     the same events and stats.
// Format files:
//   - parseEventFormat / parseHeaderPage return or throw the module's own
//     Error (its documented messages), nothing else (no TypeError, RangeError);
//   - bounded output: no more fields than lines; names are identifiers;
//     offsets, sizes and array lengths non-negative integers; readInt on every
//     field that fits a record reads a finite number (sizes 1, 2, 4, 8) or
//     throws the module's error; parseSymbolic and parseCpuStats give numbers.

import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { field, parseEventFormat, parseHeaderPage, parseSymbolic, readInt, type EventFormat, type FieldLayout } from '../../../core/tracefs/format.ts';
import { parseCpuStats, walkPage as realWalkPage, type PageLayout } from '../../../core/tracefs/page.ts';
import { check, hex, type RunContext, type Target } from '../engine.ts';
import { concat, mutateBytes, mutateText } from '../mutate.ts';
import type { Rng } from '../rng.ts';

const DIR = path.join(import.meta.dirname, '..', '..', 'fixtures', 'tracefs');
const fixture = (name: string) => readFileSync(path.join(DIR, name));

export type WalkPage = typeof realWalkPage;

/** The layout header_page gives on 64-bit kernels (the fixture), and the one 32-bit kernels give (local_t of 4 bytes). */
const LAYOUTS: PageLayout[] = [
  { timestampOffset: 0, commitOffset: 8, commitSize: 8, dataOffset: 16 },
  { timestampOffset: 0, commitOffset: 8, commitSize: 4, dataOffset: 12 },
];

export interface PageInput {
  layout: number;
  /** The buffer raw-reader reads into: the sub-buffer size. */
  page: Uint8Array;
  /** Bytes read into it. */
  n: number;
}

interface Event {
  off: number;
  len: number;
  ts: number;
}

function walk(walkPage: WalkPage, buf: Buffer, start: number, n: number, layout: PageLayout) {
  const events: Event[] = [];
  const stats = walkPage(buf, start, n, layout, (b, off, len, ts) => {
    check(b === buf, 'callback got another buffer');
    events.push({ off: off - start, len, ts });
  });
  return { stats, events };
}

const u32le = (v: number) => Uint8Array.of(v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff);

/** A page of events built from the ring buffer's event header types, lengths mostly right. */
function generatePage(rng: Rng): PageInput {
  const layout = rng.chance(0.85) ? 0 : 1;
  const L = LAYOUTS[layout]!;
  const size = rng.chance(0.9) ? 4096 : rng.pick([8192, 256, 64, L.dataOffset + rng.int(512)]);
  const parts: Uint8Array[] = [];
  let len = 0;
  const target = rng.chance(0.7) ? rng.int(size - L.dataOffset + 1) : size - L.dataOffset;
  while (len < target) {
    const kind = rng.int(10);
    const delta = rng.chance(0.7) ? rng.int(1 << 10) : rng.int(1 << 27);
    let ev: Uint8Array;
    if (kind < 5) {
      const tl = rng.chance(0.9) ? rng.range(1, 28) : 0;
      const bodyLen = tl ? tl * 4 : 4 * rng.range(1, 64);
      const head = u32le((delta << 5) | tl);
      ev = tl ? concat(head, rng.bytes(bodyLen)) : concat(head, u32le(rng.chance(0.9) ? bodyLen + 4 : rng.u32()), rng.bytes(bodyLen));
    } else if (kind < 7) {
      const skip = rng.chance(0.8) ? 4 * rng.range(0, 16) : rng.u32();
      ev = concat(u32le((delta << 5) | 29), u32le(skip), rng.bytes(Math.min(skip, 64)));
    } else if (kind < 9) {
      ev = concat(u32le((delta << 5) | rng.pick([30, 31])), u32le(rng.chance(0.8) ? rng.int(1 << 16) : rng.u32()));
    } else {
      ev = rng.bytes(4 * rng.range(1, 8));
    }
    parts.push(ev);
    len += ev.length;
  }
  const data = concat(...parts);
  const page = new Uint8Array(size);
  const head = new DataView(page.buffer);
  head.setUint32(L.timestampOffset, rng.u32(), true);
  head.setUint32(L.timestampOffset + 4, rng.chance(0.9) ? rng.int(256) : rng.u32(), true);
  const flags = rng.chance(0.8) ? 0 : rng.pick([0x8000_0000, 0xc000_0000, 0x4000_0000]);
  const stated = rng.chance(0.85) ? Math.min(len, size - L.dataOffset) : rng.u32() & 0x3fff_ffff;
  head.setUint32(L.commitOffset, (stated | flags) >>> 0, true);
  page.set(data.subarray(0, size - L.dataOffset), L.dataOffset);
  if (flags & 0x4000_0000 && L.dataOffset + stated + 8 <= size) head.setUint32(L.dataOffset + stated, rng.int(1000), true);
  return { layout, page, n: rng.chance(0.9) ? size : L.dataOffset + rng.int(size - L.dataOffset + 1) };
}

const PAD = 64;
const scratches = new Map<number, Buffer>();
/** A buffer of at least `size` bytes all `fill`, reused (callers restore what they overwrite). */
function scratch(fill: number, size: number): Buffer {
  let b = scratches.get(fill);
  if (!b || b.length < size) scratches.set(fill, (b = Buffer.alloc(Math.max(size, 2 * (b?.length ?? 0)), fill)));
  return b;
}

export function checkPage(walkPage: WalkPage, input: PageInput): string {
  const L = LAYOUTS[input.layout]!;
  const { page, n } = input;
  const buf = Buffer.from(page.buffer, page.byteOffset, page.byteLength);
  const a = walk(walkPage, buf, 0, n, L);
  const { stats, events } = a;
  const length = stats.length;
  const end = Math.min(L.dataOffset + length, n);
  check(stats.events === events.length, () => `stats.events ${stats.events}, callbacks ${events.length}`);
  check(events.length <= Math.max(0, (n - L.dataOffset) >> 2), () => `${events.length} events in ${n - L.dataOffset} bytes`);
  let last = -1;
  for (const e of events) {
    check(e.off >= L.dataOffset && e.off + e.len <= end && e.off > last, () => `event at ${e.off}, ${e.len} bytes: outside the data [${L.dataOffset}, ${end}) or out of order`);
    check(e.len > 0 && e.len % 4 === 0, () => `event length ${e.len}`);
    check(Number.isFinite(e.ts) && e.ts >= 0, () => `timestamp ${e.ts}`);
    last = e.off;
  }
  check(Number.isFinite(stats.missedEvents) && stats.missedEvents >= 0 && (stats.missed || stats.missedEvents === 0), () => `missedEvents ${stats.missedEvents} (missed: ${stats.missed})`);
  check(Number.isInteger(length) && length >= 0 && length <= 0x3fff_ffff, () => `length ${length}`);

  // Bytes beyond n (the rest of the sub-buffer, stale from an earlier read), then the page at an offset in a larger buffer.
  const same = (what: string, b: ReturnType<typeof walk>) => {
    const s = b.stats;
    const ok =
      s.events === stats.events && s.missed === stats.missed && s.missedEvents === stats.missedEvents && s.length === stats.length && s.corrupt === stats.corrupt &&
      b.events.length === events.length && b.events.every((e, i) => e.off === events[i]!.off && e.len === events[i]!.len && e.ts === events[i]!.ts);
    check(ok, () => `${what}, the events or stats differ\nthere: ${JSON.stringify(b).slice(0, 400)}\nalone: ${JSON.stringify(a).slice(0, 400)}`);
  };
  for (const fill of [0x00, 0xff]) {
    const big = scratch(fill, page.length + PAD);
    big.set(page.subarray(0, n));
    try {
      same(`with bytes beyond n = 0x${fill.toString(16)}`, walk(walkPage, big.subarray(0, page.length + PAD), 0, n, L));
    } finally {
      big.fill(fill, 0, n);
    }
  }
  const at = 8 + (n % 24);
  const shifted = scratch(0x5a, at + page.length + PAD);
  shifted.set(page.subarray(0, n), at);
  try {
    same(`at pageStart ${at}`, walk(walkPage, shifted.subarray(0, at + page.length + PAD), at, n, L));
  } finally {
    shifted.fill(0x5a, at, at + n);
  }
  return `${events.length ? (events.length < 10 ? 'events 1-9' : 'events 10+') : 'no events'}${stats.corrupt ? ', corrupt' : ''}${stats.missed ? ', missed' : ''}${n < page.length ? ', short read' : ''}`;
}

export function pageTarget(walkPage: WalkPage = realWalkPage): Target<PageInput> {
  return {
    name: 'tracefs:walkPage',
    what: 'walkPage on trace_pipe_raw pages (4 KiB mostly; 64-bit and 32-bit header layouts)',
    coverage: ['core/tracefs/page.ts'],
    seeds: (rng) => {
      const out: PageInput[] = [];
      for (const f of ['kfree_skb-cpu1.page', 'sock_send_length-cpu1.page', 'sock_send_length-missed.page']) {
        const b = fixture(f);
        const page = new Uint8Array(4096);
        page.set(b.subarray(0, 4096));
        out.push({ layout: 0, page, n: b.length }, { layout: 0, page, n: 4096 });
      }
      for (let i = 0; i < 20; i++) out.push(generatePage(rng));
      return out;
    },
    generate: generatePage,
    mutate: (rng, input, other) => {
      const m = mutateBytes(rng, input.page, { maxLen: 65536, other: () => other().page });
      const L = LAYOUTS[input.layout]!;
      if (m.length < L.dataOffset) return input;
      const n = rng.chance(0.8) ? m.length : L.dataOffset + rng.int(m.length - L.dataOffset + 1);
      return { layout: rng.chance(0.05) ? 1 - input.layout : input.layout, page: m, n };
    },
    run: (input) => checkPage(walkPage, input),
    show: (input) => `layout ${JSON.stringify(LAYOUTS[input.layout])} n ${input.n} of ${input.page.length}: ${hex(input.page.subarray(0, input.n), 1024)}`,
  };
}

// ---- format files ----

const OWN_ERRORS = [/^not a tracefs event format: no name or ID line$/, /^header_page lacks timestamp, commit or data$/, /^tracepoint .* has no field ".*" on this kernel$/, /^field .*: cannot read -?\d+(\.\d+)?(e[+-]?\d+)? bytes as an integer$|^field .*: cannot read (Infinity|NaN) bytes as an integer$/s];

function own(e: unknown, what: string): string {
  if (!(e instanceof Error) || e.constructor !== Error || !OWN_ERRORS.some((re) => re.test(e.message))) throw e;
  return what;
}

function checkLayout(f: FieldLayout, ctx: RunContext): void {
  check(/^[A-Za-z_][A-Za-z0-9_]*$/.test(f.name), () => `a field name that is not an identifier\n${JSON.stringify(f.name)}`);
  check(typeof f.type === 'string' && typeof f.signed === 'boolean', 'field type or signed');
  for (const k of ['offset', 'size', 'arrayLength'] as const) {
    check((Number.isInteger(f[k]) || f[k] === Infinity) && f[k] >= 0, () => `${k} ${f[k]}`);
    if (!Number.isSafeInteger(f[k])) ctx.note(BIG, `field ${f.name}: ${k} ${f[k]}`);
  }
}

const RECORD = Buffer.alloc(256, 0x5c);
const BIG = 'numbers beyond 2^53 (up to Infinity) in a format or stats file are taken as they parse, imprecise: offsets, sizes, IDs, symbolic values, counts (a kernel writes none)';

function checkFields(fmt: EventFormat, ctx: RunContext): void {
  for (const [name, f] of fmt.fields) {
    check(name === f.name, 'fields keyed by another name');
    checkLayout(f, ctx);
    const fits = f.offset + f.size <= RECORD.length;
    if ([1, 2, 4, 8].includes(f.size)) {
      if (fits) check(Number.isFinite(readInt(RECORD, 0, f)), 'readInt gave a non-finite number');
    } else {
      try {
        readInt(RECORD, 0, f);
        check(false, `readInt read ${f.size} bytes as an integer`);
      } catch (e) {
        own(e, '');
      }
    }
    for (const [k, v] of parseSymbolic(fmt.printFmt, name)) {
      check(typeof k === 'number' && !Number.isNaN(k) && typeof v === 'string', () => `a symbolic value that is not a number, or its name not a string\n${k} → ${v}`);
      if (!Number.isSafeInteger(k)) ctx.note(BIG, `__print_symbolic value ${k} of ${name}`);
    }
  }
  try {
    field(fmt, ' no such field ');
    check(false, 'field() found a field that cannot exist');
  } catch (e) {
    own(e, '');
  }
}

export function checkFormat(text: string, ctx: RunContext): string {
  const lines = text.split('\n').length;
  let label: string;
  try {
    const fmt = parseEventFormat(text);
    check(typeof fmt.name === 'string' && fmt.name.length > 0 && !/\s/.test(fmt.name), () => `an empty name or one with spaces\n${JSON.stringify(fmt.name)}`);
    check((Number.isInteger(fmt.id) || fmt.id === Infinity) && fmt.id >= 0, () => `id ${fmt.id}`);
    if (!Number.isSafeInteger(fmt.id)) ctx.note(BIG, `event ID ${fmt.id}`);
    check(fmt.fields.size <= lines, () => `${fmt.fields.size} fields from ${lines} lines`);
    check(typeof fmt.printFmt === 'string' && fmt.printFmt.length <= text.length, 'print fmt longer than the text');
    checkFields(fmt, ctx);
    label = fmt.fields.size ? 'format with fields' : 'format, no fields';
  } catch (e) {
    label = own(e, 'format rejected');
  }
  try {
    const hp = parseHeaderPage(text);
    for (const f of [hp.timestamp, hp.commit, hp.data]) checkLayout(f, ctx);
    label += ', header_page';
  } catch (e) {
    own(e, '');
  }
  for (const [k, v] of Object.entries(parseCpuStats(text))) {
    check(typeof v === 'number' && v >= 0 && !Number.isNaN(v), () => `stats ${k}: ${v}`);
    if (!Number.isSafeInteger(v)) ctx.note(BIG, `stats ${k}: ${v}`);
  }
  return label;
}

export function formatTarget(): Target<string> {
  const files = readdirSync(DIR).filter((f) => f.endsWith('.format') || f === 'header_page');
  const texts = files.map((f) => fixture(f).toString('utf8'));
  const stats = 'entries: 0\noverrun: 452\ncommit overrun: 0\nbytes: 3904\noldest event ts:  2785.853424\nnow ts:  2791.129744\ndropped events: 0\nread events: 251\n';
  return {
    name: 'tracefs:format',
    what: 'parseEventFormat, parseHeaderPage, parseSymbolic, readInt, field, parseCpuStats on format, header_page and stats files',
    coverage: ['core/tracefs/format.ts', 'core/tracefs/page.ts'],
    generateRate: 0.05,
    seeds: () => [...texts, stats, ''],
    generate: (rng) => rng.pick([...texts, stats]),
    mutate: (rng, input, other) => mutateText(rng, input, { maxLen: 1 << 17, other }),
    run: checkFormat,
    show: (t) => JSON.stringify(t.length > 3000 ? `${t.slice(0, 1500)}…(${t.length} chars)…${t.slice(-1500)}` : t),
  };
}
