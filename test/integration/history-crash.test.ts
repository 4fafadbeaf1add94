// A SIGKILL of the host while it records leaves a database that opens (no
// corrupt file moved aside, SQLite's integrity check passes) and holds
// everything up to the last few seconds: every datagram a sender sent until
// 3 s before the kill is in it.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { need } from '../helpers/env.ts';
import { sleep } from '../helpers/run.ts';
import { sender, serveOn, wsRequest } from '../helpers/history.ts';
import { openHistory } from '../../history/db.node.ts';
import { queryRange } from '../../history/query.node.ts';

const cleanups: (() => unknown)[] = [];
after(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

test('SIGKILL of the host while recording: the database opens and holds all but the last few seconds', async (t) => {
  if (!need(t, 'root')) return;
  const dir = mkdtempSync(path.join(tmpdir(), 'np15-crash-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const db = path.join(dir, 'history.db');
  const { url, server } = await serveOn(db);
  cleanups.push(() => server.child.kill('SIGKILL'));
  await wsRequest(url, { type: 'start', probe: 'nettop', options: { interval: 1, ifaces: ['lo'] } });
  // Time is the condition here: nettop records a second or so before the sender starts, then 8 s of its traffic
  // before the kill (the test's claim is about seconds of recording lost).
  await sleep(1500);
  const s = sender('np15-crash', 39_152, 10, 200, 1_000_000);
  cleanups.push(s.stop);
  await sleep(8000);
  const killedAt = Date.now();
  server.child.kill('SIGKILL');
  const r = await server.done;
  assert.equal(r.signal, 'SIGKILL');
  s.stop();
  const sentBefore = s.sentBy(killedAt - 3000);
  const sentAtKill = s.sentBy(killedAt);
  assert.ok(sentBefore > 50, `the sender sent only ${sentBefore}`);

  const opened = openHistory(db);
  cleanups.push(() => opened.db.close());
  assert.equal(opened.movedAside, null);
  assert.equal(opened.db.pragma('integrity_check', { simple: true }), 'ok');
  const answer = queryRange(opened.db, { kind: 'nettop', by: 'process', from: Math.floor(killedAt / 1000) - 600, to: Math.floor(killedAt / 1000) + 60 });
  const row = answer.groups.find((g) => g.key[0] === s.pid && g.key[3] === 'lo');
  assert.ok(row, `nothing recorded for the sender: ${JSON.stringify(answer.groups.map((g) => g.key))}`);
  const recorded = row.m[0]!;
  assert.ok(recorded >= sentBefore, `recorded ${recorded} datagrams, but ${sentBefore} were sent by 3 s before the kill`);
  assert.ok(recorded <= sentAtKill, `recorded ${recorded}, more than the ${sentAtKill} sent`);
  assert.equal(row.m[2], recorded * 242); // 200-byte payloads: 242-byte frames on lo
});
