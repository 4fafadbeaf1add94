// `node --import tsx test/bench/history.ts [--minutes M] [--md FILE]`: what recording history costs and how fast it
// answers, on the synthetic busy workstation (200 processes, 2,000 flows, every second).
//  1. Recording CPU: the host's whole recording path (rows decoded → recorder → per-second sums → one SQLite
//     transaction a second to the three tiers) at the busy-workstation rate for M minutes of data, and the packet
//     probe's 100k rows/s through the recorder (per-flow sums). nettop's cost does not grow with packets/s: nettop
//     sums packets in the collector, and the host records its per-interval table (one row per process and device).
//  2. Size: bytes per day of each tier at that rate, measured on the file (SQLite's dbstat) and scaled to a day.
//  3. Queries on a synthetic week (hour tier for 7 days, minute tier for the last day and the week's first hour, raw
//     for the last M minutes, as the recording path writes them): a one-week "top processes", a one-day per-process
//     timeline, a one-day "who talked to this address".

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { openHistory } from '../../history/db.node.ts';
import { queryRange } from '../../history/query.node.ts';
import { Recorder } from '../../history/recorder.ts';
import { HistoryStore } from '../../history/store.node.ts';
import { SumBuffer } from '../../history/sums.ts';

const arg = (name: string) => process.argv[process.argv.indexOf(`--${name}`) + 1];
const MINUTES = process.argv.includes('--minutes') ? Number(arg('minutes')) : 10;
const PROCS = 200;
const FLOWS = 2000;
const DAY = 86400;
const dir = mkdtempSync(path.join(tmpdir(), 'np15-bench-'));
const file = path.join(dir, 'history.db');
const out: string[] = [];
const say = (l: string) => (out.push(l), console.log(l));

const now = Math.floor(Date.now() / 1000);
const start = now - MINUTES * 60;
const proc = (t: number, i: number) => ({
  time: t * 1e6, pid: 1000 + i, uid: 1000, dev: i % 4 ? 'wlp0s20f3' : 'lo', xmitPk: 5 + (i % 7), recvPk: 9 + (i % 5), xmitKb: 0, recvKb: 0,
  command: `proc-${i}`, xmitBytes: 700 * (5 + (i % 7)), recvBytes: 1300 * (9 + (i % 5)),
});
const flow = (t: number, i: number) => ({
  time: t * 1e6 + i, dev: 'wlp0s20f3', src: `10.${(i >> 8) & 255}.${i & 255}.7`, dst: '192.168.1.20', sport: 443, dport: 30000 + (i % 30000), proto: 'TCP',
  urg: false, ack: true, psh: false, rst: false, syn: false, fin: false, length: 1400,
});

try {
  const opened = openHistory(file);
  const db = opened.db;
  const store = new HistoryStore(db, file, { keep: { raw: 7 * DAY, minute: 90 * DAY, hour: 730 * DAY }, maxBytes: 1 << 40 });
  const sums = new SumBuffer();
  const rec = new Recorder(sums);
  rec.started('nettop', { interval: 1, ifaces: [] });

  // 1. Recording: a second of data at a time, as the host gets it and writes it.
  let cpuUs = 0;
  let writeMs = 0;
  let maxWriteMs = 0;
  for (let t = start; t < now; t++) {
    const procRows = Array.from({ length: PROCS }, (_, i) => proc(t, i));
    const flowRows = Array.from({ length: FLOWS }, (_, i) => flow(t, i));
    const c0 = process.cpuUsage();
    rec.rows('nettop', procRows);
    rec.rows('tcpdump', flowRows);
    const w0 = performance.now();
    store.write(sums.take());
    const w = performance.now() - w0;
    const c = process.cpuUsage(c0);
    cpuUs += c.user + c.system;
    writeMs += w;
    maxWriteMs = Math.max(maxWriteMs, w);
  }
  const seconds = now - start;
  say(`## History (issue 15): recording cost, size, query times\n`);
  say(`Synthetic busy workstation: ${PROCS} processes (nettop rows) and ${FLOWS} flows (packet-probe flows) every second, ${seconds} s of data, file ${file.replace(dir, '<tmp>')}.\n`);
  say('| measure | figure |');
  say('|---|---|');
  say(`| recording CPU, ${PROCS} nettop rows + ${FLOWS} flows a second (recorder + one write a second) | ${((cpuUs / 1e6 / seconds) * 100).toFixed(2)} % of a core |`);
  say(`| one second's write (${PROCS + FLOWS} sums to 3 tiers, one transaction) | ${(writeMs / seconds).toFixed(1)} ms mean, ${maxWriteMs.toFixed(1)} ms max |`);

  // nettop alone: the host's cost does not depend on packets/s (nettop sums them in the collector).
  {
    const s2 = new SumBuffer();
    const r2 = new Recorder(s2);
    r2.started('nettop', { interval: 1, ifaces: [] });
    const dir2 = mkdtempSync(path.join(tmpdir(), 'np15-bench-n-'));
    const o2 = openHistory(path.join(dir2, 'h.db'));
    const st2 = new HistoryStore(o2.db, o2.path);
    const c0 = process.cpuUsage();
    for (let t = start; t < start + 300; t++) {
      r2.rows('nettop', Array.from({ length: PROCS }, (_, i) => proc(t, i)));
      st2.write(s2.take());
    }
    const c = process.cpuUsage(c0);
    say(`| recording CPU, nettop alone at ${PROCS} processes a second (any packet rate: 100k packets/s is still one row per process and device a second) | ${(((c.user + c.system) / 1e6 / 300) * 100).toFixed(2)} % of a core |`);
    o2.db.close();
    rmSync(dir2, { recursive: true, force: true });
  }
  // The packet probe at 100k packets/s: every row goes through the recorder (per-flow, per-second sums).
  {
    const s3 = new SumBuffer();
    const r3 = new Recorder(s3);
    const rows = Array.from({ length: 100_000 }, (_, i) => flow(start, i % FLOWS));
    const c0 = process.cpuUsage();
    for (let k = 0; k < 10; k++) {
      r3.rows('tcpdump', rows);
      s3.take();
    }
    const c = process.cpuUsage(c0);
    say(`| recorder CPU for the packet probe at 100k rows/s (${FLOWS} flows; before the write) | ${(((c.user + c.system) / 1e6 / 10) * 100).toFixed(1)} % of a core |`);
  }

  // 2. Size per tier, scaled to a day.
  store.compact();
  const tierBytes = (name: string) =>
    (db.prepare(`SELECT sum(pgsize) AS b FROM dbstat WHERE name = ? OR name = ?`).get(name, `${name}_by_series`) as { b: number | null }).b ?? 0;
  const raw = tierBytes('raw');
  const minute = tierBytes('minute');
  const hour = tierBytes('hour');
  const series = tierBytes('series') + tierBytes('sqlite_autoindex_series_1');
  const perDay = (b: number, covered: number) => (b / covered) * DAY;
  const minutesCovered = Math.ceil(now / 60) - Math.floor(start / 60);
  const mib = (b: number) => `${(b / 2 ** 20).toFixed(0)} MiB`;
  say(`| raw tier (per second), per day | ${mib(perDay(raw, seconds))} (${(raw / ((PROCS + FLOWS) * seconds)).toFixed(1)} bytes a sum) |`);
  say(`| minute tier, per day | ${mib(perDay(minute, minutesCovered * 60))} |`);
  say(`| hour tier, per day | ${mib((hour / Math.max(1, Math.ceil(now / 3600) - Math.floor(start / 3600))) * 24)} |`);
  say(`| series names (${PROCS + FLOWS}) | ${mib(series)} |`);

  // 3. A synthetic week: the hour tier for 7 days and the minute tier for the last day and the week's first hour,
  // made in SQL from the series already there (what the recorder would have written, without a week of waiting).
  const weekStart = now - 7 * DAY;
  const c0 = performance.now();
  db.exec(`
    WITH RECURSIVE h(t) AS (SELECT ${Math.floor(weekStart / 3600) * 3600} UNION ALL SELECT t + 3600 FROM h WHERE t + 3600 < ${Math.floor(start / 3600) * 3600})
    INSERT OR IGNORE INTO hour SELECT h.t, s.id, h.t * 1000000, (h.t + 3599) * 1000000, 3600 * 7, 3600 * 11, 3600 * 5000, 3600 * 12000 FROM h, series s;
    WITH RECURSIVE m(t) AS (SELECT ${Math.floor((now - DAY) / 60) * 60} UNION ALL SELECT t + 60 FROM m WHERE t + 60 < ${Math.floor(start / 60) * 60})
    INSERT OR IGNORE INTO minute SELECT m.t, s.id, m.t * 1000000, (m.t + 59) * 1000000, 420, 660, 300000, 720000 FROM m, series s;
    WITH RECURSIVE m(t) AS (SELECT ${Math.floor(weekStart / 60) * 60} UNION ALL SELECT t + 60 FROM m WHERE t + 60 < ${Math.floor(weekStart / 60) * 60 + 3600})
    INSERT OR IGNORE INTO minute SELECT m.t, s.id, m.t * 1000000, (m.t + 59) * 1000000, 420, 660, 300000, 720000 FROM m, series s;
  `);
  store.compact();
  const rows = (t: string) => (db.prepare(`SELECT count(*) AS n FROM ${t}`).get() as { n: number }).n;
  say(`| synthetic week: rows raw / minute / hour | ${rows('raw').toLocaleString('en')} / ${rows('minute').toLocaleString('en')} / ${rows('hour').toLocaleString('en')} (made in ${((performance.now() - c0) / 1000).toFixed(0)} s) |`);
  const fileBytes = (db.pragma('page_count', { simple: true }) as number) * (db.pragma('page_size', { simple: true }) as number);
  say(`| synthetic week: file size | ${mib(fileBytes)} |`);

  const time = (label: string, f: () => unknown) => {
    const times: number[] = [];
    let r: unknown;
    for (let i = 0; i < 5; i++) {
      const t0 = performance.now();
      r = f();
      times.push(performance.now() - t0);
    }
    times.sort((a, b) => a - b);
    say(`| ${label} | ${times[2]!.toFixed(0)} ms median of 5 (${times[0]!.toFixed(0)}–${times[4]!.toFixed(0)}) |`);
    return r;
  };
  // Mid-minute ends, so every tier answers a piece.
  const to = now - 17;
  time('one-week "top processes" (nettop by process, top 20, exact: hours + minutes + seconds)', () => queryRange(db, { kind: 'nettop', by: 'process', from: to - 7 * DAY, to, top: 20 }));
  time('one-week "top processes" with the top 20\'s timelines (hourly)', () => queryRange(db, { kind: 'nettop', by: 'process', from: to - 7 * DAY, to, top: 20, timeline: true }));
  time('one-day per-process timeline (one PID, per minute)', () => queryRange(db, { kind: 'nettop', by: 'process', from: to - DAY, to, where: { pid: 1042 }, timeline: true }));
  time('one-day "who talked to this address" (flows, one source)', () => queryRange(db, { kind: 'flows', by: 'all', from: to - DAY, to, where: { src: '10.0.42.7' } }));
  const t0 = performance.now();
  db.close();
  openHistory(file).db.close();
  say(`| open of the week's ${mib(fileBytes)} file (header, schema and each table's newest page checked) | ${(performance.now() - t0).toFixed(0)} ms |`);
  say('');
} finally {
  rmSync(dir, { recursive: true, force: true });
}
if (process.argv.includes('--md')) writeFileSync(arg('md')!, out.join('\n') + '\n');
