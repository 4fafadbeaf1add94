// History's store on a real SQLite file: rollups equal the raw sums, a range
// query is exact across tier boundaries, retention drops each tier on time,
// the size cap drops the oldest raw data first, a corrupt file is moved aside
// with a message and a new one started, the schema is versioned, and the
// recorder records from the probes' column definitions.

import assert from 'node:assert/strict';
import { closeSync, existsSync, mkdtempSync, openSync, readdirSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { openHistory, SCHEMA_VERSION, usedBytes } from '../../history/db.node.ts';
import { queryRange, tierPieces, timelineStep } from '../../history/query.node.ts';
import { HistoryStore } from '../../history/store.node.ts';
import { Recorder } from '../../history/recorder.ts';
import { SumBuffer } from '../../history/sums.ts';
import { PLANS } from '../../history/plan.ts';
import { parseDuration, parseTime } from '../../history/time.ts';
import { answerCsv } from '../../history/answer.ts';
import { parseHistoryArgs } from '../../cli/history-args.ts';
import { UsageError } from '../../cli/args.ts';
import { PROBES } from '../../probes/registry.ts';

const dirs: string[] = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
function tempDb(): string {
  const d = mkdtempSync(path.join(tmpdir(), 'np15-unit-'));
  dirs.push(d);
  return path.join(d, 'h', 'history.db');
}

const T0 = Date.UTC(2026, 10, 20, 10, 0, 0) / 1000; // an hour boundary
const nettopRow = (t: number, pid: number, command: string, xmitPk: number, recvPk: number) => ({
  time: t * 1e6, pid, uid: 1000, dev: 'lo', xmitPk, recvPk, xmitKb: 0, recvKb: 0, command, xmitBytes: xmitPk * 100, recvBytes: recvPk * 100,
});

function record(store: HistoryStore, rows: ReturnType<typeof nettopRow>[]): void {
  const sums = new SumBuffer();
  const rec = new Recorder(sums);
  rec.started('nettop', { interval: 1, ifaces: [] });
  rec.rows('nettop', rows);
  store.write(sums.take());
}

describe('history store', () => {
  test('a new file: WAL, 0600, versioned schema; rollups equal the raw sums; ranges exact across tiers', () => {
    const file = tempDb();
    const o = openHistory(file);
    assert.equal(o.db.pragma('journal_mode', { simple: true }), 'wal');
    assert.equal(o.db.pragma('user_version', { simple: true }), SCHEMA_VERSION);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.equal(statSync(path.dirname(file)).mode & 0o777, 0o700);
    const store = new HistoryStore(o.db, file);
    // Two and a half hours, one row a second for two processes.
    const rows = [];
    for (let t = T0 - 600; t < T0 + 9000; t++) rows.push(nettopRow(t, 10, 'a', 1, 1), nettopRow(t, 20, 'b', 3, 0));
    record(store, rows);
    for (const tier of ['raw', 'minute', 'hour']) {
      const s = o.db.prepare(`SELECT sum(m0) AS x, sum(m1) AS r FROM ${tier} JOIN series ON series.id = ${tier}.series WHERE kind = 'nettop'`).get() as { x: number; r: number };
      assert.deepEqual(s, { x: 9600 * 4, r: 9600 }, tier);
    }
    // A range that starts and ends mid-minute and spans hours: every tier answers a piece, the sum is exact.
    const from = T0 - 95;
    const to = T0 + 7200 + 61 + 7;
    assert.deepEqual(
      tierPieces(from, to).map((p) => p.tier),
      ['hour', 'minute', 'raw', 'minute', 'raw'],
    );
    const a = queryRange(o.db, { kind: 'nettop', by: 'process', from, to, timeline: true });
    assert.deepEqual(a.dims.map((d) => d.csv), ['PID', 'UID', 'COMMAND', 'DEV']);
    const b = a.groups.find((g) => g.key[0] === 20)!;
    assert.deepEqual(b.m, [3 * (to - from), 0, 300 * (to - from), 0]);
    assert.equal(b.first, (from - 1) * 1e6); // a 1-second interval ending at `from` began a second before
    assert.equal(b.last, (to - 1) * 1e6);
    assert.equal(a.groups[0]!.key[0], 20); // most packets first
    // The timeline (per minute for two hours): whole minutes, those starting in the range.
    assert.deepEqual(timelineStep(from, to), { tier: 'minute', step: 60 });
    assert.equal(a.step, 60);
    const minutes = (Math.floor((to - 1) / 60) + 1) * 60 - Math.ceil(from / 60) * 60;
    assert.equal(b.points!.reduce((n, p) => n + p[1]!, 0), 3 * minutes);
    assert.equal(b.points!.length, minutes / 60);
    // A filter (the GUI's COLUMN=value, "who talked to this address"): only the matching series.
    const onlyA = queryRange(o.db, { kind: 'nettop', by: 'process', from, to, where: { command: 'a' } });
    assert.deepEqual(onlyA.groups.map((g) => [g.key[0], g.m[0]]), [[10, to - from]]);
    assert.equal(queryRange(o.db, { kind: 'nettop', by: 'process', from, to, where: { pid: 10 } }).groups.length, 1);
    assert.equal(queryRange(o.db, { kind: 'nettop', by: 'process', from, to, where: { command: 'nobody' } }).groups.length, 0);
    const csv = answerCsv(queryRange(o.db, { kind: 'nettop', by: 'command', from, to, top: 1 }));
    assert.deepEqual(csv[0], 'COMMAND,XMIT_PK,RECV_PK,XMIT_BYTES,RECV_BYTES,FIRST_SEEN,LAST_SEEN');
    assert.equal(csv.length, 2);
    assert.match(csv[1]!, /^b,/);
    o.db.close();
  });

  test('retention: each tier is dropped after its time; series no tier refers to go', () => {
    const file = tempDb();
    const o = openHistory(file);
    const store = new HistoryStore(o.db, file, { keep: { raw: 3600, minute: 86400, hour: 7 * 86400 }, maxBytes: 1 << 30 });
    record(store, [nettopRow(T0 - 10 * 86400, 1, 'ancient', 1, 0), nettopRow(T0 - 2 * 86400, 2, 'old', 1, 0), nettopRow(T0 - 7200, 3, 'hours', 1, 0), nettopRow(T0 - 60, 4, 'new', 1, 0)]);
    store.enforce(T0);
    const count = (tier: string) => (o.db.prepare(`SELECT count(*) AS n FROM ${tier}`).get() as { n: number }).n;
    assert.deepEqual([count('raw'), count('minute'), count('hour'), count('series')], [1, 2, 3, 3]);
    // The 2-hour-old second is gone from raw, still in the minute and hour totals.
    const a = queryRange(o.db, { kind: 'nettop', by: 'command', from: T0 - 3 * 86400, to: T0 });
    assert.deepEqual(a.groups.map((g) => g.key[0]).sort(), ['hours', 'new', 'old']);
    o.db.close();
  });

  test('the size cap drops the oldest raw seconds first, keeping the rollups', () => {
    const file = tempDb();
    const o = openHistory(file);
    const rows = [];
    for (let t = T0; t < T0 + 3 * 3600; t++) for (let p = 1; p <= 15; p++) rows.push(nettopRow(t, p, `p${p}`, 1, 1));
    const store = new HistoryStore(o.db, file, { keep: { raw: 1e9, minute: 1e9, hour: 1e9 }, maxBytes: 1 << 40 });
    record(store, rows);
    store.compact();
    const full = usedBytes(o.db, file);
    const capped = new HistoryStore(o.db, file, { keep: { raw: 1e9, minute: 1e9, hour: 1e9 }, maxBytes: Math.floor(full / 2) });
    const r = capped.enforce(T0 + 4 * 3600);
    assert.ok(r.bytes <= full / 2, `${r.bytes} bytes, cap ${full / 2}`);
    assert.ok(statSync(file).size <= full * 0.75, 'the file did not shrink');
    const raw = o.db.prepare('SELECT min(t) AS lo, max(t) AS hi FROM raw').get() as { lo: number; hi: number };
    assert.ok(raw.lo > T0 && raw.hi === T0 + 3 * 3600 - 1, `the newest raw seconds are kept, the oldest dropped: ${JSON.stringify(raw)} ${T0} ${r.bytes} ${full}`);
    const hour = o.db.prepare('SELECT sum(m0) AS n FROM hour').get() as { n: number };
    assert.equal(hour.n, 3 * 3600 * 15, 'the hourly totals are whole');
    o.db.close();
  });

  test('a corrupt file is moved aside with a message, and a new database started', () => {
    const file = tempDb();
    const o = openHistory(file);
    record(new HistoryStore(o.db, file), [nettopRow(T0, 1, 'x', 1, 0)]);
    o.db.pragma('wal_checkpoint(TRUNCATE)');
    o.db.close();
    // Garbage over the pages after the header: the schema page and the tables' roots.
    const size = statSync(file).size;
    const buf = Buffer.alloc(size - 100, 0xa5);
    const fd = openSync(file, 'r+');
    writeSync(fd, buf, 0, buf.length, 100);
    closeSync(fd);
    const again = openHistory(file);
    assert.ok(again.movedAside, 'the corrupt file was opened as if it were fine');
    assert.ok(existsSync(again.movedAside.to));
    assert.match(again.movedAside.to, /history\.db\.corrupt-/);
    assert.equal((again.db.prepare('SELECT count(*) AS n FROM raw').get() as { n: number }).n, 0);
    again.db.close();
    // Not a database at all.
    writeFileSync(file, 'hello, this is not SQLite'.repeat(100));
    const third = openHistory(file);
    assert.match(third.movedAside!.why, /not an SQLite database/);
    third.db.close();
    assert.equal(readdirSync(path.dirname(file)).filter((f) => f.includes('.corrupt-') && !f.endsWith('-wal') && !f.endsWith('-shm')).length, 2);
  });

  test('a newer schema is refused, not damaged', () => {
    const file = tempDb();
    openHistory(file).db.close();
    const db = new Database(file);
    db.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
    db.close();
    assert.throws(() => openHistory(file), /newer NetProbes/);
  });
});

describe('recorded from the probes\' definitions', () => {
  test('every int or text column that is not a measure is a dimension: new columns flow in', () => {
    assert.deepEqual(PLANS.nettop.dims.map((d) => d.key), ['pid', 'uid', 'dev', 'command']);
    assert.deepEqual(PLANS.dropwatch.dims.map((d) => d.key), ['location', 'reason', 'protocol', 'pid', 'command']);
    assert.deepEqual(PLANS.flows.dims.map((d) => d.key), ['dev', 'src', 'dst', 'sport', 'dport', 'proto', 'pid', 'command', 'uid']);
    assert.deepEqual(PLANS['tcp-connections'].dims.map((d) => d.key), PROBES['tcp-connections'].columns.filter((c) => c.key !== 'time' && !('notInCsv' in c && c.notInCsv)).map((c) => c.key));
  });
  test('counters become increases; a restart of the probe starts again', () => {
    const sums = new SumBuffer();
    const rec = new Recorder(sums);
    rec.started('tcpdump', { ifaces: [], filter: '', bothDirections: false });
    rec.counters('tcpdump', { seen: 10, kernelDrops: 2 }, T0 * 1e6);
    rec.counters('tcpdump', { seen: 15, kernelDrops: 2 }, (T0 + 1) * 1e6);
    rec.started('tcpdump', { ifaces: [], filter: '', bothDirections: false });
    rec.counters('tcpdump', { seen: 4, kernelDrops: 1 }, (T0 + 2) * 1e6);
    const got = sums.take().map((s) => [s.t - T0, JSON.parse(s.dims).counter, s.m[0]]);
    assert.deepEqual(got, [[0, 'seen', 10], [0, 'kernelDrops', 2], [1, 'seen', 5], [2, 'seen', 4], [2, 'kernelDrops', 1]]);
  });
  test('the packet probe: per second and flow, packets and bytes, not a row each', () => {
    const sums = new SumBuffer();
    const rec = new Recorder(sums);
    const pkt = (t: number, sport: number) => ({ time: t, dev: 'lo', src: '127.0.0.1', dst: '127.0.0.1', sport, dport: 53, proto: 'UDP', urg: false, ack: false, psh: false, rst: false, syn: false, fin: false, length: 60 });
    rec.rows('tcpdump', [pkt(T0 * 1e6, 1), pkt(T0 * 1e6 + 5, 1), pkt(T0 * 1e6 + 9, 2), pkt((T0 + 1) * 1e6, 1)]);
    assert.deepEqual(sums.take().map((s) => [s.t - T0, JSON.parse(s.dims).sport, s.m[0], s.m[1]]), [[0, 1, 2, 120], [0, 2, 1, 60], [1, 1, 1, 60]]);
  });
});

test('what waits to be written is bounded, and what does not fit is counted', () => {
  const sums = new SumBuffer();
  for (let i = 0; i < 200_010; i++) sums.add('nettop', T0, String(i), [1], 0, 0);
  assert.deepEqual([sums.size, sums.shed], [200_000, 10]);
  sums.add('nettop', T0, '5', [1], 0, 0); // an existing sum still adds
  assert.equal(sums.take().find((s) => s.dims === '5')!.m[0], 2);
});

describe('netprobes history arguments', () => {
  const now = Date.UTC(2026, 10, 28, 12, 0, 0);
  test('durations, times, the defaults', () => {
    assert.deepEqual([parseDuration('30s'), parseDuration('15m'), parseDuration('2h'), parseDuration('7d'), parseDuration('7x')], [30, 900, 7200, 604800, null]);
    assert.equal(parseTime('2026-11-28T09:00:00Z'), Date.UTC(2026, 10, 28, 9));
    assert.equal(parseTime('2026-11-28 09:30'), new Date(2026, 10, 28, 9, 30).getTime());
    assert.equal(parseTime('yesterday'), null);
    const a = parseHistoryArgs(['--history-db', 'f', '--since', '10m', '--probe', 'nettop', '--by', 'process', '--format', 'csv'], now);
    assert.deepEqual([a.db, a.from, a.to, a.kind, a.by, a.format], ['f', now / 1000 - 600, now / 1000 + 1, 'nettop', 'process', 'csv']);
    const b = parseHistoryArgs(['--from', '2026-11-28T09:00:00Z', '--until', '2026-11-28T10:00:00Z', '--probe', 'dropwatch'], now);
    assert.deepEqual([b.from, b.to, b.by], [Date.UTC(2026, 10, 28, 9) / 1000, Date.UTC(2026, 10, 28, 10) / 1000, 'all']);
  });
  test('bad input gets a clear error', () => {
    assert.throws(() => parseHistoryArgs(['--since', '10']), UsageError);
    assert.throws(() => parseHistoryArgs(['--since', '1h', '--from', '2026-11-28 09:00']), /not both/);
    assert.throws(() => parseHistoryArgs(['--probe', 'socket-trace']), /--probe must be/);
    assert.throws(() => parseHistoryArgs(['--by', 'colour']), /--by must be/);
    assert.throws(() => parseHistoryArgs(['--from', '2026-11-28 10:00', '--to', '2026-11-28 09:00']), /empty/);
  });
});

describe('retention settings', () => {
  test('saved beside the database, each part kept when another is saved; bad values are the defaults', async () => {
    const { recordingSetting, retentionSetting, saveRecordingSetting, saveRetention } = await import('../../history/settings.node.ts');
    const { DEFAULT_RETENTION } = await import('../../history/retention.ts');
    const file = tempDb();
    openHistory(file).db.close();
    assert.deepEqual(retentionSetting(file), DEFAULT_RETENTION);
    saveRecordingSetting(file, false);
    const r = saveRetention(file, { keep: { raw: 12 * 3600 }, maxBytes: 500 * 2 ** 20 });
    assert.deepEqual(r, { keep: { ...DEFAULT_RETENTION.keep, raw: 12 * 3600 }, maxBytes: 500 * 2 ** 20 });
    assert.equal(recordingSetting(file), false, 'saving the retention keeps the recording switch');
    saveRecordingSetting(file, true);
    assert.deepEqual(retentionSetting(file), r, 'saving the switch keeps the retention');
    assert.throws(() => saveRetention(file, { keep: { minute: 59 } }), RangeError);
    assert.throws(() => saveRetention(file, { maxBytes: 1000 }), RangeError);
    // A hand-edited file with nonsense: each bad value is the default, the good ones stay.
    writeFileSync(path.join(path.dirname(file), 'settings.json'), JSON.stringify({ retention: { keep: { raw: 'a week', hour: 86_400 }, maxBytes: -1 } }));
    assert.deepEqual(retentionSetting(file), { keep: { ...DEFAULT_RETENTION.keep, hour: 86_400 }, maxBytes: DEFAULT_RETENTION.maxBytes });
    writeFileSync(path.join(path.dirname(file), 'settings.json'), '{not json');
    assert.deepEqual(retentionSetting(file), DEFAULT_RETENTION);
    assert.equal(recordingSetting(file), true);
  });

  test('a writer opens with the saved retention and reads it again before each pass', async () => {
    const { saveRetention } = await import('../../history/settings.node.ts');
    const { HistoryWriter } = await import('../../history/writer.node.ts');
    const file = tempDb();
    openHistory(file).db.close();
    saveRetention(file, { keep: { raw: 3600 } });
    const w = HistoryWriter.open(file, { log: () => {} });
    try {
      assert.equal(w.store.retention.keep.raw, 3600);
      saveRetention(file, { keep: { raw: 7200 } });
      (w as unknown as { enforce(): void }).enforce();
      assert.equal(w.store.retention.keep.raw, 7200);
    } finally {
      w.close();
    }
  });

  test('--keep-raw, --keep-minutes, --keep-hours and --max-size', async () => {
    const { parseSize } = await import('../../cli/history-args.ts');
    assert.deepEqual([parseSize('500M'), parseSize('2G'), parseSize('1048576'), parseSize('64KiB'), parseSize('1.5G'), parseSize('lots')], [500 * 2 ** 20, 2 * 2 ** 30, 2 ** 20, 64 * 1024, null, null]);
    const a = parseHistoryArgs(['--keep-raw', '12h', '--keep-hours', '52w', '--max-size', '2G']);
    assert.deepEqual(a.retention, { keep: { raw: 12 * 3600, hour: 52 * 604_800 }, maxBytes: 2 * 2 ** 30 });
    assert.equal(parseHistoryArgs([]).retention, null);
    assert.throws(() => parseHistoryArgs(['--keep-raw', 'forever']), /--keep-raw takes a duration/);
    assert.throws(() => parseHistoryArgs(['--max-size', 'big']), /--max-size takes a size/);
    assert.throws(() => parseHistoryArgs(['--keep-raw', '1d', '--clear']), /not both/);
  });
});
