// History through the CLI, as the "Done when" states it: nettop
// records (--record --history-db) while two processes exchange 200 UDP
// datagrams of 1000 bytes on lo; then `netprobes history`, a new process,
// reads back exactly 200 packets sent by the sender's PID and 200 received by
// the receiver's, with their command and bytes. And under sudo (SUDO_UID and
// SUDO_GID, as sudo sets them), the file belongs to that user, not root.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { chownSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { need, reachableByOthers } from '../helpers/env.ts';
import { netprobes, waitForOutput } from '../helpers/run.ts';

const PEER = new URL('./nettop-peer.mjs', import.meta.url).pathname;
const NOBODY = 65534;
const cleanups: (() => void)[] = [];
after(() => {
  for (const c of cleanups.splice(0).reverse()) c();
});

function peer(name: string, args: (string | number)[]): { pid: number; next(key: string): Promise<Record<string, unknown>>; close(): void } {
  const child: ChildProcess = spawn(process.execPath, [PEER, name, ...args.map(String)], { stdio: ['pipe', 'pipe', 'inherit'] });
  const seen: Record<string, unknown>[] = [];
  const waiting: { key: string; resolve: (m: Record<string, unknown>) => void }[] = [];
  createInterface({ input: child.stdout! }).on('line', (line) => {
    const m = JSON.parse(line) as Record<string, unknown>;
    seen.push(m);
    for (const w of waiting.splice(0)) {
      if (m[w.key]) w.resolve(m);
      else waiting.push(w);
    }
  });
  const close = () => void child.stdin!.end();
  cleanups.push(close);
  return {
    pid: child.pid!,
    next: (key) => new Promise((resolve) => (seen.find((m) => m[key]) ? resolve(seen.find((m) => m[key])!) : waiting.push({ key, resolve }))),
    close,
  };
}

function tempDir(owner?: number): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'np15-history-'));
  if (owner !== undefined) chownSync(dir, owner, owner);
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function historyCsv(db: string, extra: string[] = []): Promise<Record<string, string>[]> {
  const r = await netprobes(['history', '--history-db', db, '--since', '10m', '--probe', 'nettop', '--by', 'process', '--format', 'csv', ...extra]).done;
  assert.equal(r.code, 0, r.stderr);
  const [header, ...lines] = r.stdout.trim().split('\n');
  assert.equal(header, 'PID,UID,COMMAND,DEV,XMIT_PK,RECV_PK,XMIT_BYTES,RECV_BYTES,FIRST_SEEN,LAST_SEEN');
  const keys = header!.split(',');
  return lines.map((l) => Object.fromEntries(l.split(',').map((v, i) => [keys[i]!, v])));
}

test('nettop --record, then history in a new process: exactly 200 datagrams each way per PID, with command and bytes', async (t) => {
  if (!need(t, 'root')) return;
  const db = path.join(tempDir(), 'history.db');
  const recv = peer('np15-recv', ['udp-recv', '127.0.0.1']);
  const port = (await recv.next('ready')).port as number;
  const run = netprobes(['nettop', '--interval', '1', '--duration', '7', '--record', '--history-db', db, '--format', 'csv']);
  cleanups.push(() => void run.child.kill('SIGKILL'));
  await waitForOutput(run.child, /^TIME,PID/m, 20_000); // the CSV header: capture has begun
  const send = peer('np15-send', ['udp-send', '127.0.0.1', port, 200, 1000]);
  await send.next('done');
  const finished = await run.done;
  assert.equal(finished.code, 0, finished.stderr);
  assert.match(finished.stderr, new RegExp(`recording to ${db}`));

  const rows = await historyCsv(db);
  const of = (pid: number) => rows.find((r) => r.PID === String(pid) && r.DEV === 'lo');
  const s = of(send.pid);
  const r = of(recv.pid);
  assert.ok(s && r, `no rows for the peers in ${JSON.stringify(rows)}`);
  // A 1000-byte UDP payload on lo is a 1042-byte frame (14 Ethernet + 20 IPv4 + 8 UDP).
  assert.deepEqual([s.COMMAND, s.XMIT_PK, s.RECV_PK, s.XMIT_BYTES, s.RECV_BYTES], ['np15-send', '200', '0', String(200 * 1042), '0']);
  assert.deepEqual([r.COMMAND, r.XMIT_PK, r.RECV_PK, r.XMIT_BYTES, r.RECV_BYTES], ['np15-recv', '0', '200', '0', String(200 * 1042)]);
  assert.equal(s.UID, String(process.getuid!()));
  assert.ok(Date.parse(s.FIRST_SEEN!) <= Date.parse(s.LAST_SEEN!));

  // --top, --by command and json agree with the same numbers.
  const json = await netprobes(['history', '--history-db', db, '--since', '10m', '--by', 'command', '--format', 'json']).done;
  const byCommand = json.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.equal(byCommand.find((c) => c.COMMAND === 'np15-send')?.XMIT_PK, 200);
  // Recorded counters: the run's frames are there as well.
  const losses = await netprobes(['history', '--history-db', db, '--since', '10m', '--probe', 'losses', '--format', 'csv']).done;
  assert.match(losses.stdout, /^nettop,frames,0,\d+,/m);
  recv.close();
  send.close();
});

test('as root under sudo, the database and its directory belong to the user who ran sudo', async (t) => {
  if (!need(t, 'root')) return;
  reachableByOthers();
  const dir = tempDir(NOBODY);
  const db = path.join(dir, 'sub', 'history.db');
  const recv = peer('np15-recv2', ['udp-recv', '127.0.0.1']);
  const port = (await recv.next('ready')).port as number;
  const child = spawn(process.execPath, [path.resolve(import.meta.dirname, '../../bin/netprobes.js'), 'nettop', '--interval', '1', '--duration', '4', '--history-db', db, '--format', 'csv'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, SUDO_UID: String(NOBODY), SUDO_GID: String(NOBODY) },
  });
  cleanups.push(() => void child.kill('SIGKILL'));
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  await waitForOutput(child, /^TIME,PID/m, 20_000);
  child.stdout!.resume();
  const send = peer('np15-send2', ['udp-send', '127.0.0.1', port, 20, 100]);
  await send.next('done');
  const code = await new Promise((r) => child.on('close', r));
  assert.equal(code, 0, stderr);
  for (const f of [path.dirname(db), db]) assert.equal(statSync(f).uid, NOBODY, `${f} is not the sudo user's`);
  assert.equal(statSync(db).mode & 0o077, 0, 'the database is readable by others');
  const rows = await historyCsv(db);
  assert.equal(rows.find((r) => r.PID === String(send.pid))?.XMIT_PK, '20', JSON.stringify(rows));
  recv.close();
  send.close();
});

test('history --keep-raw and --max-size: saved beside the file, applied to it at once, the older seconds gone and their minutes kept', async () => {
  const { openHistory } = await import('../../history/db.node.ts');
  const { HistoryStore } = await import('../../history/store.node.ts');
  const { Recorder } = await import('../../history/recorder.ts');
  const { SumBuffer } = await import('../../history/sums.ts');
  const db = path.join(tempDir(), 'history.db');
  const now = Math.floor(Date.now() / 1000);
  const o = openHistory(db);
  // Two seconds of one process's traffic: one 2 hours ago, one a minute ago.
  const sums = new SumBuffer();
  const rec = new Recorder(sums);
  rec.started('nettop', { interval: 1, ifaces: [] });
  const row = (t: number, xmitPk: number) => ({ time: t * 1e6, pid: 7, uid: 0, dev: 'lo', xmitPk, recvPk: 0, xmitKb: 0, recvKb: 0, command: 'np-old', xmitBytes: xmitPk * 100, recvBytes: 0 });
  rec.rows('nettop', [row(now - 7200, 3), row(now - 60, 2)]);
  new HistoryStore(o.db, db).write(sums.take());
  o.db.close();
  const r = await netprobes(['history', '--history-db', db, '--keep-raw', '1h', '--max-size', '500M']).done;
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /keeps each second's sums 1 hours, each minute's 90 days, each hour's 730 days, in at most 500 MiB; saved beside .*; 1 old rows removed now/);
  const settings = JSON.parse(readFileSync(path.join(path.dirname(db), 'settings.json'), 'utf8')) as { retention: unknown };
  assert.deepEqual(settings.retention, { keep: { raw: 3600, minute: 90 * 86_400, hour: 730 * 86_400 }, maxBytes: 500 * 2 ** 20 });
  const check = openHistory(db);
  const count = (tier: string) => (check.db.prepare(`SELECT count(*) AS n FROM ${tier}`).get() as { n: number }).n;
  assert.deepEqual([count('raw'), count('minute'), count('hour')], [1, 2, 2]);
  check.db.close();
  // The 2-hour-old second still counts in a range over it, from the minute tier.
  const rows = await historyCsv(db, ['--since', '3h']);
  assert.deepEqual(rows.map((x) => [x.COMMAND, x.XMIT_PK]), [['np-old', '5']]);
  const bad = await netprobes(['history', '--history-db', db, '--keep-minutes', '30s']).done;
  assert.equal(bad.code, 2, bad.stderr);
  assert.match(bad.stderr, /minute must be kept between 1 minute and 100 years/);
});
