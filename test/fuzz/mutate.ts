// Byte and text mutations in the manner of AFL's "havoc" stage: a stack of 1 to
// 16 random edits — bit flips, interesting values, arithmetic, block deletion,
// insertion, duplication and overwrite, truncation, extension, splices with
// another corpus entry — plus length-field edits: a 16- or 32-bit field (either
// byte order) set to the number of bytes that follow it, give or take a few,
// which is what most length checks in a decoder compare against.

import type { Rng } from './rng.ts';

const INTERESTING_8 = [0, 1, 0x7f, 0x80, 0xff, 4, 6, 17, 0x40, 0x45, 0x60];
const INTERESTING_16 = [0, 1, 0x7fff, 0x8000, 0xffff, 0x0800, 0x86dd, 0x8100, 0x88a8, 20, 40, 1500, 65535];
const INTERESTING_32 = [0, 1, 0x7fffffff, 0x80000000, 0xffffffff, 0xc0000fe4, 0x3fffffff, 0x40000000, 4096];

export interface MutateOptions {
  maxLen: number;
  /** Another corpus entry, for splices and cross-over. */
  other?: () => Uint8Array;
}

export function mutateBytes(rng: Rng, input: Uint8Array, opts: MutateOptions): Uint8Array {
  let b: Uint8Array = input.slice();
  const ops = 1 << rng.int(5);
  for (let i = 0; i < ops; i++) b = mutateOnce(rng, b, opts);
  return b.length > opts.maxLen ? b.subarray(0, opts.maxLen) : b;
}

function mutateOnce(rng: Rng, b: Uint8Array, opts: MutateOptions): Uint8Array {
  const n = b.length;
  const pos = (room = 1) => (n >= room ? rng.int(n - room + 1) : 0);
  switch (rng.int(16)) {
    case 0: // flip a bit
      if (n) b[pos()]! ^= 1 << rng.int(8);
      return b;
    case 1: // a random byte
      if (n) b[pos()] = rng.int(256);
      return b;
    case 2: // an interesting byte
      if (n) b[pos()] = rng.pick(INTERESTING_8);
      return b;
    case 3: // an interesting 16-bit value, either byte order
      if (n >= 2) put(b, pos(2), 2, rng.pick(INTERESTING_16), rng.chance(0.5));
      return b;
    case 4: // an interesting 32-bit value
      if (n >= 4) put(b, pos(4), 4, rng.pick(INTERESTING_32), rng.chance(0.5));
      return b;
    case 5: {
      // arithmetic on a byte, a u16 or a u32
      const w = rng.pick([1, 2, 4] as const);
      if (n < w) return b;
      const p = pos(w);
      const le = rng.chance(0.5);
      const delta = rng.range(-35, 35);
      put(b, p, w, get(b, p, w, le) + delta, le);
      return b;
    }
    case 6:
    case 7: {
      // length-field edit: a u16/u32 at p set to what follows p (or what follows the field), ± a little
      const w = rng.chance(0.7) ? 2 : 4;
      if (n < w) return b;
      const p = pos(w);
      const base = rng.chance(0.5) ? n - p : n - p - w;
      const v = rng.chance(0.15) ? rng.pick([0, base * 2, 0xffff, 0xffffffff]) : base + rng.range(-8, 8);
      put(b, p, w, v, rng.chance(0.3));
      return b;
    }
    case 8: {
      // delete a block
      if (!n) return b;
      const p = pos();
      const len = 1 + rng.small(n - p);
      return concat(b.subarray(0, p), b.subarray(p + len));
    }
    case 9: {
      // insert random bytes or a repeated byte
      const p = rng.int(n + 1);
      const len = 1 + rng.small(64);
      const ins = rng.chance(0.5) ? rng.bytes(len) : new Uint8Array(len).fill(rng.pick(INTERESTING_8));
      return concat(b.subarray(0, p), ins, b.subarray(p));
    }
    case 10: {
      // duplicate a block in place
      if (!n) return b;
      const p = pos();
      const len = 1 + rng.small(Math.min(n - p, 256));
      const q = rng.int(n + 1);
      return concat(b.subarray(0, q), b.slice(p, p + len), b.subarray(q));
    }
    case 11: {
      // overwrite a block with another part of the input
      if (n < 2) return b;
      const len = 1 + rng.small(n >> 1);
      const src = pos(len);
      b.copyWithin(pos(len), src, src + len);
      return b;
    }
    case 12: // truncate
      return n ? b.subarray(0, rng.int(n)) : b;
    case 13: // extend with random bytes
      return concat(b, rng.bytes(1 + rng.small(128)));
    case 14: {
      // splice: this input's head, another's tail
      const o = opts.other?.();
      if (!o || !o.length) return b;
      const at = rng.int(n + 1);
      return concat(b.subarray(0, at), o.subarray(rng.int(o.length)));
    }
    default: {
      // cross-over: another input's block written over this one
      const o = opts.other?.();
      if (!o || !o.length || !n) return b;
      const len = 1 + rng.small(Math.min(o.length, n));
      const from = rng.int(o.length - len + 1);
      b.set(o.subarray(from, from + len), rng.int(n - len + 1));
      return b;
    }
  }
}

function put(b: Uint8Array, p: number, w: number, v: number, le: boolean): void {
  v = v >>> 0;
  for (let i = 0; i < w; i++) {
    const shift = 8 * (le ? i : w - 1 - i);
    b[p + i] = Math.floor(v / 2 ** shift) & 0xff;
  }
}

function get(b: Uint8Array, p: number, w: number, le: boolean): number {
  let v = 0;
  for (let i = 0; i < w; i++) v = v * 256 + b[p + (le ? w - 1 - i : i)]!;
  return v;
}

export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

const TOKENS = ['field:', ';', ' ', '\t', '\n', 'offset:', 'size:', 'signed:', '[', ']', '[]', 'name:', 'ID:', 'print fmt:', '__data_loc ', 'unsigned ', '"', ',', '{', '}', ')', '(', '0x', '-', 'REC->', '__print_symbolic(REC->reason, ', '{ 1, "ONE" }', '\u00e9', '\ufffd', '\0'];
const NUMBERS = ['0', '1', '-1', '4', '8', '16', '4095', '4096', '65536', '2147483648', '4294967296', '9007199254740993', '99999999999999999999999', '9'.repeat(400)];

/**
 * Text mutations for line-oriented formats (tracefs `format` files): whole-line
 * edits, number edits, token insertions, and byte-level havoc on the UTF-8
 * encoding (decoded back as readFileSync(…, 'utf8') would, invalid bytes
 * becoming U+FFFD).
 */
export function mutateText(rng: Rng, text: string, opts: { maxLen: number; other?: () => string }): string {
  let t = text;
  const ops = 1 << rng.int(4);
  for (let i = 0; i < ops; i++) {
    const lines = t.split('\n');
    const li = rng.int(lines.length);
    switch (rng.int(10)) {
      case 0: // drop a line
        lines.splice(li, 1);
        t = lines.join('\n');
        break;
      case 1: // duplicate a line
        lines.splice(rng.int(lines.length + 1), 0, lines[li]!);
        t = lines.join('\n');
        break;
      case 2: {
        // a line from another input
        const o = opts.other?.().split('\n');
        if (o) lines.splice(li, rng.int(2), rng.pick(o));
        t = lines.join('\n');
        break;
      }
      case 3: {
        // replace a number
        const runs = [...t.matchAll(/-?\d+/g)];
        if (runs.length) {
          const m = rng.pick(runs);
          t = t.slice(0, m.index) + rng.pick(NUMBERS) + t.slice(m.index! + m[0].length);
        }
        break;
      }
      case 4: {
        // insert a token
        const at = rng.int(t.length + 1);
        t = t.slice(0, at) + rng.pick(TOKENS) + t.slice(at);
        break;
      }
      case 5: {
        // delete a span
        const at = rng.int(t.length + 1);
        t = t.slice(0, at) + t.slice(at + 1 + rng.small(32));
        break;
      }
      case 6: {
        // a long run of one character inside a line (long identifiers, long numbers, long whitespace)
        const at = rng.int(t.length + 1);
        const ch = rng.pick(['a', '_', ' ', '9', ';', '[', 'x']);
        t = t.slice(0, at) + ch.repeat(1 + rng.small(rng.chance(0.01) ? 20000 : 300)) + t.slice(at);
        break;
      }
      case 7: {
        // a longer identifier (a field's name or type)
        const ids = [...t.matchAll(/[A-Za-z_]\w*/g)];
        if (ids.length) {
          const m = rng.pick(ids);
          const end = m.index! + m[0].length;
          t = t.slice(0, end) + t[end - 1]!.repeat(1 + rng.small(rng.chance(0.02) ? 20000 : 200)) + t.slice(end);
        }
        break;
      }
      default: {
        const bytes = mutateBytes(rng, new TextEncoder().encode(t), { maxLen: opts.maxLen });
        t = Buffer.from(bytes).toString('utf8');
      }
    }
  }
  return t.length > opts.maxLen ? t.slice(0, opts.maxLen) : t;
}
