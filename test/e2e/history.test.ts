// History survives a restart of `serve`, and the History view in Chromium
// shows it: serve records nettop while a known sender sends 200 datagrams of
// 1000 bytes, serve is stopped and started again on the same database, and the
// History view lists the sender's process with exactly those packets and
// bytes, its CSV export too.

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { chromium, type Browser } from 'playwright-core';
import { CHROMIUM, need, CHROMIUM_ARGS } from '../helpers/env.ts';
import { pollValue } from '../helpers/poll-value.ts';
import { sender, serveOn, wsRequest } from '../helpers/history.ts';

const cleanups: (() => unknown)[] = [];
after(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

test('traffic recorded before a restart of serve is in the History view after it', async (t) => {
  if (!need(t, 'root') || !need(t, 'chromium')) return;
  const dir = mkdtempSync(path.join(tmpdir(), 'np15-e2e-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const db = path.join(dir, 'history.db');

  // Before: serve records while the sender sends.
  const first = await serveOn(db);
  cleanups.push(() => first.server.child.kill('SIGKILL'));
  await wsRequest(first.url, { type: 'start', probe: 'nettop', options: { interval: 1, ifaces: ['lo'] } });
  // The capture is up once the collector has said what the probe reads (its source line).
  const state = await pollValue(() => wsRequest(first.url, { type: 'getState' }) as Promise<{ probes: { nettop: { source: string | null } } }>, (st) => st.probes.nettop.source !== null);
  assert.notEqual(state.probes.nettop.source, null, 'nettop started');
  const s = sender('np15-hsend', 39_151, 5, 1000, 200);
  cleanups.push(s.stop);
  await s.done;
  // Until the last interval has ended and been written: the database answers with all 200 datagrams.
  const now = () => Math.floor(Date.now() / 1000);
  const sent = async () => {
    const a = (await wsRequest(first.url, { type: 'historyQuery', kind: 'nettop', by: 'process', from: now() - 600, to: now() + 1, where: { command: 'np15-hsend' } })) as { measures: { csv: string }[]; groups: { m: number[] }[] };
    const i = a.measures.findIndex((m) => m.csv === 'XMIT_PK');
    return a.groups.reduce((n, g) => n + g.m[i]!, 0);
  };
  assert.equal(await pollValue(sent, (n) => n >= 200, { timeoutMs: 15_000 }), 200);
  first.server.child.kill('SIGINT');
  const r = await first.server.done;
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, new RegExp(`recording history to ${db}`));

  // After: a new serve on the same database, and a browser.
  const second = await serveOn(db);
  cleanups.push(async () => {
    second.server.child.kill('SIGINT');
    await second.server.done;
  });
  const browser: Browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  cleanups.push(() => browser.close());
  const page = await (await browser.newContext({ acceptDownloads: true, viewport: { width: 1280, height: 800 } })).newPage();
  await page.goto(second.url);
  // Said plainly in the window: history is being recorded.
  await page.getByRole('status', { name: 'collector status' }).getByText('Recording history').waitFor();
  await page.getByRole('tab', { name: 'History' }).click();
  const panel = page.getByRole('region', { name: 'History' });
  await panel.getByText(`Recording history to ${db}`).waitFor();
  await panel.getByLabel('Filter').fill('COMMAND=np15-hsend');
  const row = panel.getByRole('table', { name: 'History rows' }).getByRole('row').filter({ hasText: String(s.pid) });
  await row.waitFor({ timeout: 10_000 });
  const cells = await row.getByRole('cell').allInnerTexts();
  // PID, UID, Command, Device, Xmit pk, Recv pk, Xmit bytes, Recv bytes, first, last
  assert.deepEqual(cells.slice(0, 8), [String(s.pid), '0', 'np15-hsend', 'lo', '200', '0', String(200 * 1042), '0']);
  await panel.getByRole('figure', { name: 'History timeline' }).waitFor();

  const download = page.waitForEvent('download');
  await panel.getByRole('button', { name: 'Export CSV' }).click();
  const csv = readFileSync((await (await download).path())!, 'utf8').trim().split('\n');
  assert.equal(csv[0], 'PID,UID,COMMAND,DEV,XMIT_PK,RECV_PK,XMIT_BYTES,RECV_BYTES,FIRST_SEEN,LAST_SEEN');
  assert.ok(csv.some((l) => l.startsWith(`${s.pid},0,np15-hsend,lo,200,0,${200 * 1042},0,`)), csv.join('\n'));

  // Retention, set in the window: saved beside the database (where the CLI and the next start read it) and shown.
  const kept = panel.getByText(/^Kept: each second's sums 7 days/);
  await kept.click();
  const retention = panel.getByRole('group', { name: 'Retention' });
  await retention.getByLabel('Each second, days').fill('3');
  await retention.getByLabel('At most, MiB').fill('256');
  await retention.getByRole('button', { name: 'Apply' }).click();
  await panel.getByText(/^Kept: each second's sums 3 days, each minute's 90 days, each hour's 730 days, in at most 256 MiB/).waitFor();
  const settings = JSON.parse(readFileSync(path.join(dir, 'settings.json'), 'utf8')) as { retention: unknown };
  assert.deepEqual(settings.retention, { keep: { raw: 3 * 86_400, minute: 90 * 86_400, hour: 730 * 86_400 }, maxBytes: 256 * 2 ** 20 });
  // The recorded traffic is younger than any of those: still there.
  assert.equal(await row.count(), 1);
});
