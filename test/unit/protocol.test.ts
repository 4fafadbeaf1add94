// The boundary between processes: framing, the schema language, and the
// protocol's validation of commands (collector side) and rows (host side).

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { encodeFrame, FrameDecoder, FrameError } from '../../core/framing.ts';
import { parseCollectorMessage, parseCommand } from '../../ipc/protocol.ts';
import { rowDecoder, rowEncoder } from '../../core/probe.ts';
import { tcpdump } from '../../probes/tcpdump/definition.ts';
import { arr, int, obj, optional, SchemaError, str, tagged } from '../../core/schema.ts';

describe('framing', () => {
  test('messages split across and packed into chunks come out whole and in order', () => {
    const frames = [encodeFrame({ a: 1 }), encodeFrame({ b: 'x'.repeat(1000) }), encodeFrame([1, 2, 3])];
    const all = Buffer.concat(frames);
    for (const size of [1, 3, 7, 100, all.length]) {
      const d = new FrameDecoder();
      const out: unknown[] = [];
      for (let i = 0; i < all.length; i += size) out.push(...d.push(all.subarray(i, i + size)));
      assert.deepEqual(out, [{ a: 1 }, { b: 'x'.repeat(1000) }, [1, 2, 3]]);
    }
  });

  test('an oversized frame or bytes that are not JSON break the stream', () => {
    const big = Buffer.alloc(4);
    big.writeUInt32BE(2000);
    assert.throws(() => new FrameDecoder(1000).push(big), FrameError);
    const bad = Buffer.concat([Buffer.from([0, 0, 0, 3]), Buffer.from('{x}')]);
    assert.throws(() => new FrameDecoder().push(bad), FrameError);
    const notUtf8 = Buffer.concat([Buffer.from([0, 0, 0, 2]), Buffer.from([0xff, 0xfe])]);
    assert.throws(() => new FrameDecoder().push(notUtf8), FrameError);
  });
});

describe('schema', () => {
  const s = obj({ name: str({ max: 5 }), n: int({ min: 0, max: 9 }), tags: arr(str(), { max: 2 }), note: optional(str()) });
  test('accepts what it describes, optional fields may be absent', () => {
    assert.deepEqual(s.parse({ name: 'ab', n: 3, tags: ['x'] }), { name: 'ab', n: 3, tags: ['x'] });
  });
  test('rejects wrong types, bounds, unknown keys and missing fields, naming the path', () => {
    const bad: [unknown, RegExp][] = [
      [{ name: 'abcdef', n: 1, tags: [] }, /\.name/],
      [{ name: 'a', n: 10, tags: [] }, /\.n: expected integer in 0\.\.9/],
      [{ name: 'a', n: 1.5, tags: [] }, /\.n/],
      [{ name: 'a', n: 1, tags: ['a', 'b', 'c'] }, /\.tags/],
      [{ name: 'a', n: 1, tags: [], extra: 1 }, /\.extra: expected no such field/],
      [{ name: 'a', tags: [] }, /\.n/],
      [null, /expected object/],
    ];
    for (const [v, msg] of bad) assert.throws(() => s.parse(v), (e: unknown) => e instanceof SchemaError && msg.test(e.message));
  });
  test('tagged unions pick the variant by type and reject unknown types', () => {
    const t = tagged({ a: obj({ x: int() }), b: obj({}) });
    assert.deepEqual(t.parse({ type: 'a', x: 1 }), { type: 'a', x: 1 });
    assert.throws(() => t.parse({ type: 'c' }), SchemaError);
    assert.throws(() => t.parse({ type: '__proto__' }), SchemaError);
  });
});

describe('protocol', () => {
  test('the collector takes start/stop with options valid for that probe, and nothing else', () => {
    assert.deepEqual(parseCommand({ type: 'start', probe: 'tcpdump', options: { ifaces: ['lo'], filter: 'tcp', bothDirections: false } }), {
      type: 'start',
      probe: 'tcpdump',
      options: { ifaces: ['lo'], filter: 'tcp', bothDirections: false },
    });
    assert.deepEqual(parseCommand({ type: 'stop', probe: 'tcpdump' }), { type: 'stop', probe: 'tcpdump' });
    const rejected = [
      { type: 'exec', cmd: 'rm -rf /' },
      { type: 'start', probe: 'tcpdump', options: { ifaces: ['../../etc'], filter: '', bothDirections: false } },
      { type: 'start', probe: 'tcpdump', options: { ifaces: [], filter: '', bothDirections: false, snaplen: 1 } },
      { type: 'start', probe: 'nosuch', options: {} },
      { type: 'stop' },
    ];
    for (const c of rejected) assert.throws(() => parseCommand(c), SchemaError, JSON.stringify(c));
  });

  test('the host checks each row, a tuple in column order, against its probe\'s columns', () => {
    const object = { time: 1, dev: 'lo', src: '::1', dst: '::1', sport: 1, dport: 2, proto: 'UDP', urg: false, ack: false, psh: false, rst: false, syn: false, fin: false, length: 48, pid: 7, command: 'x', uid: 0, cgroup: '' };
    const row = rowEncoder(tcpdump.columns)(object);
    assert.deepEqual(rowDecoder(tcpdump.columns)(row), object);
    assert.equal(parseCollectorMessage({ type: 'rows', probe: 'tcpdump', rows: [row] }).type, 'rows');
    const sport = tcpdump.columns.findIndex((c) => c.key === 'sport');
    assert.throws(() => parseCollectorMessage({ type: 'rows', probe: 'tcpdump', rows: [row.map((v, i) => (i === sport ? '1' : v))] }), /rows\[0\]\[4\] sport/);
    assert.throws(() => parseCollectorMessage({ type: 'rows', probe: 'tcpdump', rows: [[...row, 1]] }), /extra/);
    assert.throws(() => parseCollectorMessage({ type: 'rows', probe: 'tcpdump', rows: [object] }), /rows\[0\]: expected a row of 18 cells/);
    assert.throws(() => parseCollectorMessage({ type: 'rows', probe: 'tcpdump', rows: [row.map((v, i) => (i === 0 ? -1 : v))] }), /time/);
    assert.throws(() => parseCollectorMessage({ type: 'rows', probe: 'tcpdump', rows: [row.map((v, i) => (i === 1 ? 'x'.repeat(1025) : v))] }), /dev/);
    assert.throws(() => parseCollectorMessage({ type: 'rows', probe: 'tcpdump', rows: new Array(5001).fill(row) }), /at most 5000/);
    assert.throws(() => parseCollectorMessage({ type: 'counters', probe: 'tcpdump', counters: { seen: -1 } }), SchemaError);
  });

  test('a started probe says what it uses and lacks as data, checked by the host', () => {
    const use = { facility: 'libpcap', lacks: [{ feature: 'tracepoints for short-lived sockets', fallback: 'socket owners from /proc only', reason: 'tracefs not permitted' }] };
    assert.deepEqual(parseCollectorMessage({ type: 'started', probe: 'nettop', source: 'libpcap on any', use }), { type: 'started', probe: 'nettop', source: 'libpcap on any', use });
    assert.throws(() => parseCollectorMessage({ type: 'started', probe: 'nettop', source: 'x' }), /\.use/);
    assert.throws(() => parseCollectorMessage({ type: 'started', probe: 'nettop', source: 'x', use: { ...use, facility: 'ebpf' } }), /\.use\.facility/);
    assert.throws(() => parseCollectorMessage({ type: 'started', probe: 'nettop', source: 'x', use: { ...use, lacks: [{ ...use.lacks[0], extra: 1 }] } }), /\.use\.lacks\[0\]\.extra: expected no such field/);
  });
});
