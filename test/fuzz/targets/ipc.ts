// The IPC framing and schema.
//
// FrameDecoder (core/framing.ts): streams of frames — valid JSON,
// invalid UTF-8, invalid JSON, empty bodies, length prefixes over the limit, a
// last frame cut short — then byte-mutated, fed in three chunkings (whole, in
// random pieces with empty ones among them, byte by byte). Each chunking must
// yield exactly the messages a straightforward reading of the stream yields,
// then a FrameError where that reading finds the stream broken (and nothing
// but FrameError, ever; the push that throws returns nothing, so the messages
// its own chunk completed are not expected); what stays buffered is the unfinished frame only,
// never more than the limit; encodeFrame's frames read back as the value.
//
// parseCommand, parseCollectorMessage (protocol.ts) and requestSchema
// (api.ts): random JSON values, mutated valid messages, deep nesting, huge
// strings (and, for requestSchema, which Electron's IPC feeds by structured
// clone, values JSON cannot carry). Each must return a value of the message
// type (checked by ipc-values.ts, written from the types, not the schemas) or
// throw SchemaError — nothing else — and must not pollute Object.prototype. A
// JSON value it accepts must come back equal (no key silently dropped), and
// what it returns must parse again to the same.

import { encodeFrame, FrameDecoder, FrameError, MAX_FRAME_BYTES } from '../../../core/framing.ts';
import { parseCollectorMessage, parseCommand } from '../../../ipc/protocol.ts';
import { requestSchema } from '../../../ipc/api.ts';
import { SchemaError } from '../../../core/schema.ts';
import { check, hex, type RunContext, type Target } from '../engine.ts';
import { collectorMessageType, commandType, deep, jsonEqual, jsonValue, cloneValue, mutateValue, requestType, validCollectorMessage, validCommand, validRequest, type Json } from '../ipc-values.ts';
import { concat, mutateBytes } from '../mutate.ts';
import { Rng } from '../rng.ts';

// ---- FrameDecoder ----

export interface StreamInput {
  stream: Uint8Array;
  maxFrame: number;
  /** Seeds the chunkings. */
  chunkSeed: number;
}

export type MakeDecoder = (maxFrame: number) => { push(chunk: Uint8Array): unknown[] };

const frame = (body: Uint8Array, len = body.length) => {
  const f = new Uint8Array(4 + body.length);
  new DataView(f.buffer).setUint32(0, len);
  f.set(body, 4);
  return f;
};
const utf8 = (s: string) => new TextEncoder().encode(s);

function generateStream(rng: Rng): StreamInput {
  const maxFrame = rng.pick([16, 64, 1024, 4096, 65536, MAX_FRAME_BYTES]);
  const parts: Uint8Array[] = [];
  for (let i = rng.range(1, 8); i > 0; i--) {
    const r = rng.int(100);
    if (r < 60) parts.push(encodeFrame(rng.chance(0.5) ? jsonValue(rng) : rng.pick([validCommand, validCollectorMessage, validRequest])(rng)));
    else if (r < 65) parts.push(frame(concat(Uint8Array.of(0xef, 0xbb, 0xbf), utf8('{"type":"stop","probe":"nettop"}')))); // a BOM
    else if (r < 72) parts.push(frame(rng.pick([Uint8Array.of(0xff), Uint8Array.of(0xc3), Uint8Array.of(0xed, 0xa0, 0x80), Uint8Array.of(0x22, 0xf0, 0x9f, 0x98, 0x22)]))); // invalid UTF-8
    else if (r < 80) parts.push(frame(utf8(rng.pick(['', '{', 'undefined', 'NaN', '1 2', "{'a':1}", '[1,]', '"\\ud800"', ' 1 ', '\u00a01']))));
    else if (r < 85) parts.push(frame(new Uint8Array(0), rng.pick([maxFrame + 1, 0xffffffff, 2 ** 31, MAX_FRAME_BYTES + 1]))); // over the limit
    else if (r < 86) {
      const n = rng.chance(0.9) ? rng.pick([100, 1000, 10_000]) : 100_000; // nested deeper than JSON.stringify (encodeFrame) can go
      parts.push(frame(utf8(rng.chance(0.5) ? `${'['.repeat(n)}1${']'.repeat(n)}` : `${'{"a":'.repeat(n)}1${'}'.repeat(n)}`)));
    } else if (r < 87) parts.push(encodeFrame({ type: 'answer', id: 1, value: 'x'.repeat(rng.chance(0.9) ? rng.pick([1 << 10, 1 << 16]) : 1 << 20), problem: null }));
    else if (r < 95) {
      const f = encodeFrame(jsonValue(rng));
      parts.push(f.subarray(0, rng.int(f.length))); // cut short
    } else parts.push(encodeFrame(rng.pick([1, 'x', null, [], {}])));
  }
  return { stream: concat(...parts), maxFrame, chunkSeed: rng.u32() };
}

/** A straightforward reading of the whole stream at once: the messages and where each frame ends, then whether it broke, and what is left. */
function reference(stream: Uint8Array, max: number): { messages: unknown[]; ends: number[]; broken: boolean; rest: number } {
  const messages: unknown[] = [];
  const ends: number[] = [];
  const dv = new DataView(stream.buffer, stream.byteOffset, stream.byteLength);
  const text = new TextDecoder('utf-8', { fatal: true });
  let o = 0;
  while (stream.length - o >= 4) {
    const len = dv.getUint32(o);
    if (len > max) return { messages, ends, broken: true, rest: 0 };
    if (stream.length - o - 4 < len) break;
    try {
      messages.push(JSON.parse(text.decode(stream.subarray(o + 4, o + 4 + len))));
    } catch {
      return { messages, ends, broken: true, rest: 0 };
    }
    o += 4 + len;
    ends.push(o);
  }
  return { messages, ends, broken: false, rest: stream.length - o };
}

function chunkings(input: StreamInput): Uint8Array[][] {
  const { stream } = input;
  const rng = new Rng(input.chunkSeed);
  const random: Uint8Array[] = [];
  for (let o = 0; o < stream.length; ) {
    if (rng.chance(0.05)) random.push(new Uint8Array(0));
    const piece = stream.length > 1 << 16 ? 1 << 14 : 64; // long streams in longer pieces
    const n = rng.chance(0.8) ? 1 + rng.small(piece) : 1 + rng.int(stream.length - o);
    random.push(stream.subarray(o, o + n));
    o += n;
  }
  const bytes: Uint8Array[] = [];
  if (stream.length <= 4096) for (let i = 0; i < stream.length; i++) bytes.push(stream.subarray(i, i + 1));
  return [[stream], random, ...(bytes.length ? [bytes] : [])];
}

export function checkStream(make: MakeDecoder, input: StreamInput, ctx: RunContext): string {
  const ref = reference(input.stream, input.maxFrame);
  for (const chunks of chunkings(input)) {
    const d = make(input.maxFrame);
    const got: unknown[] = [];
    let brokenAt = -1; // stream offset of the chunk whose push threw
    let fed = 0;
    for (const c of chunks) {
      try {
        got.push(...d.push(c));
      } catch (e) {
        check(e instanceof FrameError, () => `push threw ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}, not a FrameError`);
        brokenAt = fed;
        break;
      }
      fed += c.length;
      const buffered = (d as unknown as { buffered?: number }).buffered;
      if (buffered !== undefined) check(buffered <= input.maxFrame + 3, () => `${buffered} bytes buffered, limit ${input.maxFrame}`);
    }
    const how = `in ${chunks.length} chunk${chunks.length === 1 ? '' : 's'}`;
    const broken = brokenAt >= 0;
    check(broken === ref.broken, () => `${how}: ${broken ? 'FrameError' : 'no error'}, the stream read at once: ${ref.broken ? 'broken' : 'fine'} after ${ref.messages.length} messages`);
    // A push that throws returns nothing: the messages completed by the chunk that broke the stream go with it.
    const expected = broken ? ref.ends.filter((end) => end <= brokenAt).length : ref.messages.length;
    check(got.length === expected, () => `${how}: ${got.length} messages, the stream holds ${ref.messages.length}${broken ? `, ${expected} of them before the chunk that broke it` : ''}`);
    if (broken && expected < ref.messages.length) ctx.note('a push that throws FrameError drops the messages its chunk completed before the broken frame (which ones arrive thus depends on how the stream was cut)', `${ref.messages.length - expected} of ${ref.messages.length} dropped ${how}`);
    for (let i = 0; i < got.length; i++) {
      const diff = jsonEqual(got[i], ref.messages[i]);
      check(diff === null, () => `${how}: a message differs from the stream's\nmessage ${i}, at ${diff}`);
    }
    if (!broken) {
      const buffered = (d as unknown as { buffered?: number }).buffered;
      if (buffered !== undefined) check(buffered === ref.rest, () => `${how}: ${buffered} bytes left buffered, the stream leaves ${ref.rest}`);
    }
  }
  return ref.broken ? `broken after ${ref.messages.length ? 'messages' : 'no message'}` : ref.messages.length ? (ref.rest ? 'messages, then a partial frame' : 'messages') : 'no whole frame';
}

export function framingTarget(make: MakeDecoder = (max) => new FrameDecoder(max)): Target<StreamInput> {
  return {
    name: 'ipc:FrameDecoder',
    what: 'FrameDecoder.push on frame streams in three chunkings, against a reading of the whole stream; encodeFrame',
    coverage: ['core/framing.ts'],
    generateRate: 0.4,
    seeds: (rng) => Array.from({ length: 20 }, () => generateStream(rng)),
    generate: generateStream,
    mutate: (rng, input, other) => ({
      stream: mutateBytes(rng, input.stream, { maxLen: 1 << 21, other: () => other().stream }), // (a mutation copies the stream: the big ones are rare)
      maxFrame: rng.chance(0.9) ? input.maxFrame : rng.pick([0, 1, 4, 16, 1024]),
      chunkSeed: rng.u32(),
    }),
    run: (input, ctx) => checkStream(make, input, ctx),
    show: (input) => `maxFrame ${input.maxFrame} chunkSeed ${input.chunkSeed}: ${hex(input.stream)}`,
  };
}

// ---- schemas ----

export interface ValueInput {
  /** 'json': what JSON.parse gives (serve's WebSocket, the collector socket); 'clone': Electron's structured clone. */
  domain: 'json' | 'clone';
  value: unknown;
}

type Parse = (v: unknown) => unknown;

function huge(rng: Rng, valid: () => Json): unknown {
  const v = valid() as Record<string, Json>;
  const big = 'a'.repeat(rng.pick([1 << 16, 1 << 20, 1 << 23]));
  const o: Record<string, Json> = { ...v };
  const keys = Object.keys(o).filter((k) => k !== 'type');
  if (keys.length && rng.chance(0.7)) o[rng.pick(keys)] = big;
  else o.type = big;
  return o;
}

export function checkValue(parse: Parse, type: (v: unknown, p: string) => void, input: ValueInput, ctx: RunContext): string {
  let out: unknown;
  try {
    out = parse(input.value);
  } catch (e) {
    check(e instanceof SchemaError, () => `threw ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}, not a SchemaError`);
    check(typeof e.path === 'string' && typeof e.expected === 'string', 'a SchemaError without path or expectation');
    if (e.message.length > 10_000) ctx.note('a SchemaError message longer than 10,000 chars: it quotes an input key in full', `${e.message.length} chars: ${e.message.slice(0, 80)}…`);
    out = undefined;
  } finally {
    for (const k in {}) check(false, `Object.prototype polluted: ${k}`);
  }
  if (out === undefined) return `rejected (${input.domain})`;
  type(out, '');
  if (input.domain === 'json') {
    const diff = jsonEqual(out, input.value);
    if (diff !== null) ctx.note(`accepted, but not returned as given: ${diff.replace(/\[\d+\]/g, '[]').replace(/\.[^.]*$/, '.<key>')}`, `differs at ${diff}`);
  }
  let again: unknown;
  try {
    again = parse(out);
  } catch (e) {
    check(false, () => `its own result does not parse again: ${e instanceof Error ? e.message : String(e)}`);
  }
  check(jsonEqual(again, out) === null, 'its own result parses to something else');
  return `accepted ${(out as { type: string }).type} (${input.domain})`;
}

function schemaTarget(name: string, what: string, coverage: string[], parse: Parse, type: (v: unknown, p: string) => void, valid: (rng: Rng) => Json, clone: boolean): Target<ValueInput> {
  const json = (value: unknown): ValueInput => ({ domain: 'json', value });
  return {
    name,
    what,
    coverage,
    generateRate: 0.35,
    seeds: (rng) => Array.from({ length: 50 }, () => json(valid(rng))),
    generate: (rng) => {
      const r = rng.float();
      if (r < 0.4) return json(valid(rng));
      if (r < 0.7) return json(jsonValue(rng));
      if (r < 0.8) return json(mutateValue(rng, valid(rng), () => deep(rng, rng.pick([1000, 10_000, 100_000]))));
      if (r < 0.81) return json(huge(rng, () => valid(rng)));
      if (clone && r < 0.95) return { domain: 'clone', value: cloned(rng.chance(0.5) ? cloneValue(rng) : mutateValue(rng, valid(rng), () => cloneValue(rng), true)) ?? null };
      return json({ ...(valid(rng) as object), type: rng.pick(['__proto__', 'constructor', 'toString', 'hasOwnProperty', '', 'START']) });
    },
    mutate: (rng, input) => {
      const fresh = input.domain === 'clone' ? () => cloneValue(rng) : () => jsonValue(rng);
      const value = mutateValue(rng, input.value, fresh, input.domain === 'clone');
      if (input.domain === 'json') return { domain: 'json', value };
      const c = cloned(value);
      return c === undefined ? input : { domain: 'clone', value: c }; // too deep for structured clone: Electron could not send it either

    },
    run: (input, ctx) => checkValue(parse, type, input, ctx),
    show: (input) => `${input.domain}: ${showValue(input.value)}`,
  };
}

/** What Electron's IPC would deliver: a structured clone (undefined when the value cannot be cloned). */
function cloned(v: unknown): unknown {
  try {
    return structuredClone(v);
  } catch {
    return undefined;
  }
}

export function showValue(v: unknown): string {
  try {
    const s = JSON.stringify(v, function (this: unknown, k: string, x: unknown) {
      if (Array.isArray(this) && !(k in this)) return '<hole>';
      if (typeof x === 'number' && !Number.isFinite(x)) return `<${x}>`;
      return typeof x === 'bigint' ? `${x}n` : x === undefined ? '<undefined>' : x instanceof Map ? ['<Map>', ...x] : x instanceof Set ? ['<Set>', ...x] : x;
    });
    return s.length > 2000 ? `${s.slice(0, 1000)}…(${s.length} chars)…${s.slice(-1000)}` : s;
  } catch (e) {
    return `(not printable: ${e instanceof Error ? e.message : String(e)})`;
  }
}

const SCHEMA_FILES = ['core/schema.ts', 'ipc/protocol.ts', 'ipc/api.ts', 'core/probe.ts', 'core/probe-options.ts'];

export const commandTarget = (parse: Parse = parseCommand) =>
  schemaTarget('ipc:parseCommand', 'parseCommand (collector side: commands from the host, options by probe schema)', SCHEMA_FILES, parse, commandType, validCommand, false);
export const collectorMessageTarget = (parse: Parse = parseCollectorMessage) =>
  schemaTarget('ipc:parseCollectorMessage', 'parseCollectorMessage (host side: messages from the collector, rows by columns)', SCHEMA_FILES, parse, collectorMessageType, validCollectorMessage, false);
export const requestTarget = (parse: Parse = (v) => requestSchema.parse(v, 'request')) =>
  schemaTarget('ipc:requestSchema', 'requestSchema.parse (renderer requests: JSON from serve, structured clones from Electron)', SCHEMA_FILES, parse, requestType, validRequest, true);
