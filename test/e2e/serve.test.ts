// End to end: `netprobes serve` with its real collector, driven in Debian's
// Chromium by playwright-core as a user would: open the printed URL, start the
// packet probe, make traffic, see its rows, sort, find, export CSV and read the
// file back. Also takes the README's screenshot.

import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { CHROMIUM, need, CHROMIUM_ARGS } from '../helpers/env.ts';
import { netprobes, ROOT, sleep, waitForOutput } from '../helpers/run.ts';

const SCREENSHOT = path.join(ROOT, 'docs', 'screenshot.png');

describe('the GUI in a browser, against netprobes serve', () => {
  let server: ReturnType<typeof netprobes> | null = null;
  let url = '';
  let browser: Browser | null = null;
  let page: Page;

  before(async () => {
    if (process.getuid?.() !== 0) return;
    server = netprobes(['serve']);
    url = (await waitForOutput(server.child, /http:\/\/127\.0\.0\.1:\d+\/\?token=[0-9a-f]+/))!;
  });
  after(async () => {
    await browser?.close();
    if (server) {
      server.child.kill('SIGINT');
      const r = await server.done;
      assert.equal(r.code, 0, r.stderr);
    }
  });

  test('every request needs the token, and the Host must be ours', async (t) => {
    if (!need(t, 'root')) return;
    const base = url.split('?')[0]!;
    assert.equal((await fetch(base)).status, 403);
    assert.equal((await fetch(`${base}app.js`)).status, 403);
    assert.equal((await fetch(`${base}?token=wrong`)).status, 403);
    const okRes = await fetch(url);
    assert.equal(okRes.status, 200);
    assert.match(okRes.headers.get('content-security-policy') ?? '', /default-src 'self'/);
    // A page on another name that resolves here (DNS rebinding) is refused even with the token.
    const spoofed = await new Promise<number>((resolve, reject) =>
      http.get(url, { headers: { host: 'evil.example:80' } }, (res) => resolve(res.statusCode ?? 0)).on('error', reject),
    );
    assert.equal(spoofed, 400);
  });

  test('start the packet probe, see real rows, sort, find, export CSV', async (t) => {
    if (!need(t, 'root') || !need(t, 'chromium')) return;
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    const context = await browser.newContext({ acceptDownloads: true, viewport: { width: 1280, height: 800 } });
    page = await context.newPage();
    const consoleErrors: string[] = [];
    page.on('console', (m) => m.type() === 'error' && consoleErrors.push(m.text()));
    await page.goto(url);

    // Every probe has its tab.
    for (const name of ['Traffic per process', 'Socket calls', 'TCP connections', 'Packets', 'Drops']) {
      await page.getByRole('tab', { name: new RegExp(`^${name}`) }).click();
      await page.getByRole('region', { name }).waitFor();
    }
    await page.getByRole('tab', { name: /^Packets/ }).click();
    const panel = page.getByRole('region', { name: 'Packets' });
    await panel.getByText('Collector', { exact: false }).count();
    await page.getByRole('status', { name: 'collector status' }).getByText('not running').waitFor();

    const port = 43000 + Math.floor(Math.random() * 1000);
    await panel.getByLabel('Interface').selectOption('lo');
    await panel.getByLabel('Filter').fill(`udp port ${port}`);
    await panel.getByRole('button', { name: 'Start' }).click();
    await panel.getByText(/Running: libpcap on lo \(EN10MB\)/).waitFor({ timeout: 20_000 });
    await page.getByRole('status', { name: 'collector status' }).getByText(/running as root/).waitFor();

    const sock = dgram.createSocket('udp4');
    for (let i = 0; i < 30; i++) await new Promise((r) => sock.send(Buffer.alloc(100 + i), port, '127.0.0.1', r));
    sock.close();
    // The counters are one click away (the tab leads with its health line).
    await panel.getByRole('button', { name: 'Counters' }).click();
    await panel.locator('[data-counter="rows"]').getByText('30', { exact: true }).waitFor({ timeout: 10_000 });
    const table = panel.getByRole('table', { name: 'Packets rows' });
    await table.getByRole('row').nth(1).waitFor();
    assert.ok((await table.getByRole('row').count()) >= 20, 'rows rendered');
    assert.equal(await panel.locator('[data-counter="kernelDrops"]').textContent(), '0');

    // Sort by length, descending: the longest datagram (129 bytes of payload) comes first.
    const lengthHeader = table.getByRole('columnheader', { name: /Length/ });
    await lengthHeader.click();
    await lengthHeader.click();
    assert.equal(await lengthHeader.getAttribute('aria-sort'), 'descending');
    assert.equal(await table.getByRole('row').nth(1).getByRole('cell').nth(13).textContent(), String(20 + 8 + 129));

    // Find narrows the rows; every row kept has the port.
    await panel.getByLabel('Find in rows').fill(String(port));
    await panel.locator('[data-counter="shown"]').getByText('30', { exact: true }).waitFor();

    const download = page.waitForEvent('download');
    await panel.getByRole('button', { name: 'Export CSV' }).click();
    const file = await (await download).path();
    const csv = readFileSync(file, 'utf8').trim().split('\r\n');
    assert.equal(csv[0], 'TIME,DEV,SOURCE_IP,DEST_IP,SPORT,DPORT,PROTO,U,A,P,R,S,F,LENGTH');
    assert.equal(csv.length, 31);
    const lengths = csv.slice(1).map((l) => l.split(','));
    assert.ok(lengths.every((c) => c[1] === 'lo' && c[5] === String(port) && c[6] === 'UDP'));
    assert.deepEqual(
      lengths.map((c) => Number(c[13])).sort((a, b) => a - b),
      Array.from({ length: 30 }, (_, i) => 128 + i),
    );

    await panel.getByLabel('Find in rows').fill('');
    await sleep(300);
    // Connected, and the status bar says so (it once kept "connecting…" when the socket opened before the app listened).
    assert.equal(await page.getByText(/connecting to netprobes serve|disconnected from netprobes serve/).count(), 0);
    await page.screenshot({ path: SCREENSHOT });

    await panel.getByRole('button', { name: 'Stop' }).click();
    await panel.getByRole('button', { name: 'Start' }).waitFor();
    await panel.getByText(/^Stopped\. Last run/).waitFor();
    assert.deepEqual(consoleErrors, []);
  });
});
