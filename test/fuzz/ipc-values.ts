// Values for the IPC schema targets: random JSON values (what JSON.parse can
// give, own "__proto__" keys included), random structured-clone values (what
// Electron's IPC delivers to main: undefined, NaN, BigInt, Map, Date, sparse
// arrays...), valid messages of each kind, their mutations (one node of the
// tree replaced, removed, added, stretched past a limit), deep nesting and
// huge strings. And, written out independently of the schemas, what each
// parsed message must look like.

import { PROBES } from '../../probes/registry.ts';
import { PROBE_IDS } from '../../probes/registry.ts';
import { GROUPINGS, HISTORY_KINDS } from '../../history/plan.ts';
import { check } from './engine.ts';
import type { Rng } from './rng.ts';

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

const NUMBERS = [0, -0, 1, -1, 0.5, 1.5, 2, 15, 16, 59, 60, 61, 255, 256, 1000, 1001, 1024, 1025, 2000, 2001, 4096, 5000, 5001, 65535, 65536, 4_194_304, 4_194_305, 2 ** 31, 2 ** 32, 2 ** 53 - 1, 2 ** 53, 2 ** 53 + 2, -(2 ** 53), 1e21, 1e308, -1e308, 5e-324];
const WORDS = [
  '', 'a', ' ', 'lo', 'eth0', 'any', 'a'.repeat(15), 'a'.repeat(16), 'veth@if3', 'en p0', 'é', '✓', '😀', '\ud800', '\u0000', '\n', '"', '\\', 'x;rm -rf /', '$(id)', '../../etc/passwd', 'tcp port 80', 'host ::1',
  ...PROBE_IDS, 'NETTOP', 'nettop ', 'start', 'stop', 'query', 'pcapng', 'ports', 'hello', 'started', 'rows', 'counters', 'stopped', 'answer',
  'getState', 'listInterfaces', 'restartCollector', 'resolveNames', 'saveFile', 'exportPcapng', 'processPorts', 'utf8', 'base64', 'privilege', 'feature', 'input', 'internal',
  '__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'valueOf', 'probe.csv', 'a.pcapng', '.', '..',
];
const KEYS = [
  'type', 'probe', 'options', 'id', 'query', 'pid', 'uid', 'tid', 'interval', 'ifaces', 'filter', 'bothDirections', 'outbound', 'comm', 'rate', 'protocol', 'source', 'rows', 'counters', 'problem', 'kind', 'message', 'value',
  'ips', 'suggestedName', 'content', 'encoding', '__proto__', 'constructor', 'toString', 'hasOwnProperty', 'x', '', 'shed', 'a-b.c:d', 'k'.repeat(65),
];

/** An own enumerable property, even for "__proto__" (an assignment would set the prototype instead). */
export function setOwn(o: Record<string, unknown>, k: string, v: unknown): void {
  Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
}

export function jsonValue(rng: Rng, depth = 0): Json {
  switch (rng.int(depth > 3 ? 6 : 9)) {
    case 0:
      return null;
    case 1:
      return rng.chance(0.5);
    case 2:
      return rng.pick(NUMBERS);
    case 3:
      return rng.chance(0.5) ? rng.int(100) : rng.u32() * (rng.chance(0.5) ? 1 : -1);
    case 4:
    case 5:
      return string(rng);
    case 6:
      return Array.from({ length: rng.small(8) }, () => jsonValue(rng, depth + 1));
    default: {
      const o: Record<string, Json> = {};
      for (let i = rng.small(6); i > 0; i--) setOwn(o, rng.chance(0.8) ? rng.pick(KEYS) : string(rng), jsonValue(rng, depth + 1));
      return o;
    }
  }
}

function string(rng: Rng): string {
  const r = rng.float();
  if (r < 0.6) return rng.pick(WORDS);
  if (r < 0.9) return String.fromCharCode(...Array.from({ length: rng.small(40) }, () => (rng.chance(0.8) ? 32 + rng.int(95) : rng.int(0x10000))));
  return rng.pick(['a', 'é', '0']).repeat(rng.pick([45, 46, 200, 201, 500, 501, 1024, 1025, 2000, 2001, 2048, 2049, 4096, 4097]));
}

/** Values Electron's structured clone can carry that JSON cannot. */
export function cloneValue(rng: Rng, depth = 0): unknown {
  switch (rng.int(depth > 3 ? 12 : 15)) {
    case 0:
      return undefined;
    case 1:
      return rng.pick([NaN, Infinity, -Infinity]);
    case 2:
      return BigInt(rng.int(100));
    case 3:
      return new Date(rng.int(2 ** 40));
    case 4:
      return /x+/g;
    case 5:
      return new Uint8Array(rng.small(8));
    case 6:
      return new Map([[rng.pick(KEYS), jsonValue(rng, depth + 1)]]);
    case 7:
      return new Set([jsonValue(rng, depth + 1)]);
    case 8:
      return rng.pick([new String('nettop'), new Number(1), new Boolean(true)]);
    case 9:
      return new Error('x');
    case 10: {
      const a = new Array<unknown>(rng.range(1, 4)); // holes
      if (rng.chance(0.5)) a[a.length - 1] = string(rng);
      return a;
    }
    case 11:
      return jsonValue(rng, depth);
    case 12:
      return Array.from({ length: rng.small(5) }, () => cloneValue(rng, depth + 1));
    default: {
      const o: Record<string, unknown> = {};
      for (let i = rng.small(6); i > 0; i--) setOwn(o, rng.pick(KEYS), cloneValue(rng, depth + 1));
      return o;
    }
  }
}

/** Nesting `depth` deep: arrays or objects, with a valid-looking leaf. */
export function deep(rng: Rng, depth: number): Json {
  let v: Json = rng.chance(0.5) ? 'lo' : 1;
  const arr = rng.chance(0.5);
  for (let i = 0; i < depth; i++) v = arr ? [v] : { type: v };
  return v;
}

// ---- valid messages ----

const probe = (rng: Rng) => rng.pick(PROBE_IDS);
const iface = (rng: Rng) => rng.pick(['lo', 'eth0', 'any', 'veth@if3', 'wlp0s20f3', 'a'.repeat(15)]);

/** A probe's options: its defaults, each value varied within its kind (most end up valid). */
export function options(rng: Rng, p: (typeof PROBE_IDS)[number]): Json {
  const out: Record<string, Json> = {};
  for (const [k, v] of Object.entries(PROBES[p].defaults as Record<string, unknown>)) {
    if (typeof v === 'number') out[k] = rng.chance(0.5) ? v : rng.range(0, 70);
    else if (typeof v === 'boolean') out[k] = rng.chance(0.5);
    else if (typeof v === 'string') out[k] = rng.chance(0.5) ? v : rng.pick(['', 'tcp', 'udp port 53', 'curl', 'a'.repeat(15)]);
    else if (Array.isArray(v)) out[k] = Array.from({ length: rng.small(4) }, () => iface(rng));
    else out[k] = v as Json;
  }
  return out;
}

const cell = (rng: Rng, type: string): Json =>
  type === 'time' ? 1_800_000_000_000_000 + rng.int(1e9) : type === 'int' ? rng.int(100000) - 1 : type === 'flag' ? rng.chance(0.5) : rng.pick(['curl', '127.0.0.1', '::1', 'eth0', '']);

function row(rng: Rng, p: (typeof PROBE_IDS)[number]): Json {
  const out: Record<string, Json> = {};
  for (const c of PROBES[p].columns as readonly { key: string; type: string }[]) out[c.key] = cell(rng, c.type);
  return out;
}

const problem = (rng: Rng): Json => (rng.chance(0.5) ? null : { kind: rng.pick(['privilege', 'feature', 'input', 'internal']), message: 'tracefs is not mounted' });

export const validCommand = (rng: Rng): Json => {
  const p = probe(rng);
  switch (rng.int(3)) {
    case 0:
      return { type: 'start', probe: p, options: options(rng, p) };
    case 1:
      return { type: 'stop', probe: p };
    default:
      return { type: 'query', id: rng.int(1000), query: rng.chance(0.5) ? { type: 'pcapng' } : { type: 'ports', pid: rng.range(1, 4_194_304) } };
  }
};

export const validCollectorMessage = (rng: Rng): Json => {
  const p = probe(rng);
  switch (rng.int(6)) {
    case 0:
      return { type: 'hello', protocol: 1, pid: rng.range(1, 99999), uid: 0 };
    case 1:
      return { type: 'started', probe: p, source: 'libpcap on any (LINUX_SLL2)' };
    case 2:
      return { type: 'rows', probe: p, rows: Array.from({ length: rng.small(6) }, () => row(rng, p)) };
    case 3:
      return { type: 'counters', probe: p, counters: { frames: rng.int(1e6), shed: 0, [rng.pick(['drops', 'malformed', 'x'])]: rng.int(9) } };
    case 4:
      return { type: 'stopped', probe: p, problem: problem(rng) };
    default:
      return { type: 'answer', id: rng.int(1000), value: rng.chance(0.5) ? { base64: 'CgsMDQ==', packets: 1, parts: 1 } : [{ proto: 'TCP', port: 22 }], problem: problem(rng) };
  }
};

export const validRequest = (rng: Rng): Json => {
  const p = probe(rng);
  switch (rng.int(10)) {
    case 0:
      return { type: 'getState' };
    case 1:
      return { type: 'listInterfaces' };
    case 2:
      return { type: 'start', probe: p, options: options(rng, p) };
    case 3:
      return { type: 'stop', probe: p };
    case 4:
      return { type: 'restartCollector' };
    case 5:
      return { type: 'resolveNames', ips: Array.from({ length: rng.small(5) }, () => rng.pick(['127.0.0.1', '::1', '10.0.0.1', 'fe80::1'])) };
    case 6: {
      const m: Record<string, Json> = { type: 'saveFile', suggestedName: rng.pick(['nettop.csv', 'packets.pcapng', 'a', 'x.y-z_1']), content: 'a,b\n1,2\n' };
      if (rng.chance(0.5)) m.encoding = rng.pick(['utf8', 'base64']);
      return m;
    }
    case 7:
      return { type: 'exportPcapng' };
    case 8:
      return rng.chance(0.5)
        ? { type: 'historyQuery', kind: rng.pick(HISTORY_KINDS), by: rng.pick(GROUPINGS), from: rng.range(0, 2 ** 31), to: rng.range(0, 2 ** 31), ...(rng.chance(0.5) ? { top: rng.range(1, 100), timeline: true, where: { pid: 42, command: 'x' } } : {}) }
        : rng.chance(0.5)
          ? { type: 'setHistory', recording: rng.chance(0.5) }
          : { type: 'clearHistory' };
    default:
      return { type: 'processPorts', pid: rng.range(1, 4_194_304) };
  }
};

// ---- mutation ----

/**
 * One node of the tree changed (copy on write along its path; nothing else is copied, so huge values stay cheap).
 * `clone`: the value goes through structured clone, which keeps holes in arrays: make some.
 */
export function mutateValue(rng: Rng, v: unknown, fresh: () => unknown, clone = false): unknown {
  const path: (string | number)[] = [];
  let node = v;
  while (rng.chance(0.7) && path.length < 64) {
    if (Array.isArray(node) && node.length) {
      const i = rng.int(node.length);
      path.push(i);
      node = node[i];
    } else if (isObj(node) && Object.keys(node).length) {
      const k = rng.pick(Object.keys(node));
      path.push(k);
      node = node[k];
    } else break;
  }
  const replaced = clone && Array.isArray(node) && node.length && rng.chance(0.3) ? holes(rng, node) : mutateNode(rng, node, fresh);
  return replace(v, path, 0, replaced);
}

function holes(rng: Rng, a: unknown[]): unknown[] {
  const out = a.slice();
  if (rng.chance(0.5)) out.length += rng.range(1, 3);
  else delete out[rng.int(out.length)];
  return out;
}

const REMOVE = Symbol('remove');
const isObj = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);

function replace(v: unknown, path: (string | number)[], i: number, leaf: unknown): unknown {
  if (i === path.length) return leaf;
  const k = path[i]!;
  const child = replace((v as Record<string | number, unknown>)[k], path, i + 1, leaf);
  if (Array.isArray(v)) {
    const a = v.slice();
    if (child === REMOVE) a.splice(k as number, 1);
    else a[k as number] = child;
    return a;
  }
  const o: Record<string, unknown> = {};
  for (const key of Object.keys(v as object)) if (key !== k || child !== REMOVE) setOwn(o, key, key === k ? child : (v as Record<string, unknown>)[key]);
  return o;
}

function mutateNode(rng: Rng, node: unknown, fresh: () => unknown): unknown {
  switch (rng.int(12)) {
    case 0:
      return REMOVE;
    case 1:
      return rng.pick(NUMBERS);
    case 2:
      return string(rng);
    case 3:
      return fresh();
    case 4:
      return rng.pick([null, true, false, [], {}, '', 0]);
    case 5: {
      // an extra key
      if (!isObj(node)) return [node];
      const o: Record<string, unknown> = { ...node };
      const values = Object.values(node);
      setOwn(o, rng.pick(KEYS), values.length && rng.chance(0.5) ? rng.pick(values) : fresh()); // a key the schema does not name, often with a value it would take
      return o;
    }
    case 6:
      // numbers: off by one, negated, fractional
      return typeof node === 'number' ? rng.pick([node + 1, node - 1, -node, node + 0.5, node * 2 ** 20]) : rng.pick(NUMBERS);
    case 7:
      // arrays stretched to their limits and past them
      return Array.isArray(node) && node.length ? Array.from({ length: rng.pick([64, 65, 256, 257, 1024, 1025, 5000, 5001]) }, (_, i) => node[i % node.length]) : [node];
    case 8:
      // objects with many keys
      return Object.fromEntries(Array.from({ length: rng.pick([63, 64, 65, 1000]) }, (_, i) => [`k${i}`, rng.chance(0.9) ? i : node]));
    case 9:
      return typeof node === 'string' ? node + node : string(rng);
    case 10:
      return deep(rng, rng.pick([10, 100, 1000, 10000]));
    default:
      return rng.chance(0.5) ? node : jsonValue(rng);
  }
}

// ---- what a parsed message must be ----

type Check = (v: unknown, path: string) => void;

const fail = (path: string, what: string, v: unknown): never => {
  let shown: string;
  try {
    shown = typeof v === 'bigint' ? `${v}n` : (JSON.stringify(v) ?? String(v));
  } catch {
    shown = String(v);
  }
  check(false, `${path || 'value'}: not ${what}\ngot ${shown.slice(0, 200)}`);
  throw new Error('unreachable');
};

const int = (min: number, max = Number.MAX_SAFE_INTEGER): Check => (v, p) => {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) fail(p, `an integer in ${min}..${max}`, v);
};
const str = (max: number, min = 0, pattern?: RegExp): Check => (v, p) => {
  if (typeof v !== 'string' || v.length > max || v.length < min || (pattern && !pattern.test(v))) fail(p, `a string of ${min}..${max} chars${pattern ? ` matching ${pattern}` : ''}`, v);
};
const oneOf = (...xs: unknown[]): Check => (v, p) => {
  if (!xs.includes(v)) fail(p, `one of ${xs.join(', ')}`, v);
};
const bool: Check = (v, p) => {
  if (typeof v !== 'boolean') fail(p, 'a boolean', v);
};
const any: Check = () => {};
const nullable = (c: Check): Check => (v, p) => (v === null ? undefined : c(v, p));
const array = (item: Check, max: number): Check => (v, p) => {
  if (!Array.isArray(v) || v.length > max) return fail(p, `an array of at most ${max}`, v);
  check(Object.getPrototypeOf(v) === Array.prototype, `${p}: not a plain array`);
  for (let i = 0; i < v.length; i++) {
    check(i in v, () => `${p}[${i}]: a hole in the array (length ${v.length})`);
    item(v[i], `${p}[${i}]`);
  }
};
/** A plain object with exactly these keys (those marked `?` optional). */
const object = (shape: Record<string, Check>): Check => (v, p) => {
  if (!isObj(v)) return fail(p, 'an object', v);
  check(Object.getPrototypeOf(v) === Object.prototype, `${p}: not a plain object`);
  const keys = Object.keys(v);
  for (const k of keys) check(Object.hasOwn(shape, k) || Object.hasOwn(shape, `${k}?`), () => `${p}.${k}: no such field`);
  for (const [key, c] of Object.entries(shape)) {
    const k = key.replace(/\?$/, '');
    if (!Object.hasOwn(v, k)) {
      check(key.endsWith('?'), () => `${p}.${k}: missing`);
      continue;
    }
    if (key.endsWith('?') && v[k] === undefined) continue; // `k?: T` admits undefined (exactOptionalPropertyTypes is off)
    c(v[k], `${p}.${k}`);
  }
};
const tagged = (variants: Record<string, Record<string, Check>>): Check => (v, p) => {
  if (!isObj(v) || typeof v.type !== 'string' || !Object.hasOwn(variants, v.type)) return fail(p, `a message of type ${Object.keys(variants).join(' | ')} (if the protocol gained one, add it to test/fuzz/ipc-values.ts)`, v);
  object({ type: any, ...variants[v.type] })(v, p);
};
const record = (value: Check, maxKeys: number, key: RegExp): Check => (v, p) => {
  if (!isObj(v)) return fail(p, 'an object', v);
  const keys = Object.keys(v);
  check(keys.length <= maxKeys, `${p}: more than ${maxKeys} keys`);
  for (const k of keys) {
    check(key.test(k), () => `${p}: key ${JSON.stringify(k)}`);
    value(v[k], `${p}.${k}`);
  }
};

const probeId = oneOf(...PROBE_IDS);

/** Options as the probe's defaults have them: the same keys, each value of its default's kind. */
const probeOptions = (id: string): Check => (v, p) => {
  const defaults = (PROBES as Record<string, { defaults: Record<string, unknown> }>)[id]!.defaults;
  if (!isObj(v)) return fail(p, 'an options object', v);
  for (const [k, x] of Object.entries(v)) {
    check(Object.hasOwn(defaults, k), () => `${p}.${k}: not one of ${id}'s options`);
    const d = defaults[k];
    if (Array.isArray(d)) array(str(4096), 1 << 16)(x, `${p}.${k}`);
    else check(typeof x === typeof d && (typeof x !== 'number' || Number.isInteger(x)), () => `${p}.${k}: ${JSON.stringify(x)} where the default is ${JSON.stringify(d)}`);
  }
};

const problem_ = nullable(object({ kind: oneOf('privilege', 'feature', 'input', 'internal'), message: str(2000) }));

export const commandType: Check = (v, p) => {
  tagged({
    start: { probe: probeId, options: any },
    stop: { probe: probeId },
    query: { id: int(0), query: tagged({ pcapng: {}, ports: { pid: int(1, 4_194_304) } }) },
  })(v, p);
  const c = v as { type: string; probe: string; options: unknown };
  if (c.type === 'start') probeOptions(c.probe)(c.options, `${p}.options`);
};

const CELL: Record<string, Check> = { time: int(0), int: int(Number.MIN_SAFE_INTEGER), text: str(1024), flag: bool };

export const collectorMessageType: Check = (v, p) => {
  tagged({
    hello: { protocol: int(1, 1000), pid: int(1), uid: int(0) },
    started: { probe: probeId, source: str(500) },
    rows: { probe: probeId, rows: any },
    counters: { probe: probeId, counters: record(int(0), 64, /^[A-Za-z0-9_.:-]{1,64}$/) },
    stopped: { probe: probeId, problem: problem_ },
    answer: { id: int(0), value: any, problem: problem_ },
  })(v, p);
  const m = v as { type: string; probe: string; rows: unknown };
  if (m.type === 'rows') {
    const cols = (PROBES as Record<string, { columns: readonly { key: string; type: string }[] }>)[m.probe]!.columns;
    array(object(Object.fromEntries(cols.map((c) => [c.key, CELL[c.type]!]))), 5000)(m.rows, `${p}.rows`);
  }
};

export const requestType: Check = tagged({
  getState: {},
  listInterfaces: {},
  start: { probe: probeId, options: any },
  stop: { probe: probeId },
  restartCollector: {},
  resolveNames: { ips: array(str(45), 256) },
  saveFile: { suggestedName: str(200, 1, /^[\w.-]+$/), content: str(256 << 20), 'encoding?': oneOf('utf8', 'base64') },
  exportPcapng: {},
  processPorts: { pid: int(1, 4_194_304) },
  historyQuery: {
    kind: oneOf(...HISTORY_KINDS),
    by: oneOf(...GROUPINGS),
    from: int(0, 2 ** 33),
    to: int(0, 2 ** 33),
    'top?': int(1, 10_000),
    'where?': record((v, p) => (typeof v === 'string' && v.length <= 256) || Number.isSafeInteger(v) ? undefined : fail(p, 'a string or a whole number', v), 8, /^[A-Za-z]{1,32}$/),
    'timeline?': bool,
  },
  setHistory: { recording: bool },
  clearHistory: {},
});

/** Deep equality of two JSON (or structured-clone) values, NaN equal to NaN, without recursion (inputs may be nested 10^5 deep). */
export function jsonEqual(a: unknown, b: unknown): string | null {
  const stack: [unknown, unknown, string][] = [[a, b, '']];
  while (stack.length) {
    const [x, y, p] = stack.pop()!;
    if (x === y || (Number.isNaN(x) && Number.isNaN(y))) continue;
    if (typeof x !== 'object' || typeof y !== 'object' || x === null || y === null || Array.isArray(x) !== Array.isArray(y)) return p || 'value';
    const kx = Object.keys(x);
    const ky = Object.keys(y);
    if (kx.length !== ky.length) return `${p || 'value'} (keys ${kx.join(',').slice(0, 100)} vs ${ky.join(',').slice(0, 100)})`;
    for (const k of kx) {
      if (!Object.hasOwn(y, k)) return `${p}.${k}`;
      stack.push([(x as Record<string, unknown>)[k], (y as Record<string, unknown>)[k], `${p}.${k}`]);
    }
  }
  return null;
}
