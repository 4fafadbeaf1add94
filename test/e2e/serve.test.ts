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
import { pollValue } from '../helpers/poll-value.ts';
import { netprobes, ROOT, waitForOutput } from '../helpers/run.ts';

const SCREENSHOT = path.join(ROOT, 'docs', 'screenshot.png');

describe('the GUI in a browser, against netprobes serve', () => {
  let server: ReturnType<typeof netprobes> | null = null;
  let url = '';
  let browser: Browser | null = null;
  let page: Page;
  /** The collector serve started, as its status bar names it. */
  let collectorPid = 0;

  before(async () => {
    if (process.getuid?.() !== 0) return;
    server = netprobes(['serve']);
    url = (await waitForOutput(server.child, /http:\/\/127\.0\.0\.1:\d+\/\?token=[0-9a-f]+/))!;
  });
  after(async () => {
    // Only what an earlier failure left: the last test stops serve and checks how it ended.
    await browser?.close();
    if (server && server.child.exitCode === null && server.child.signalCode === null) {
      server.child.kill('SIGINT');
      await server.done;
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
    const status = page.getByRole('status', { name: 'collector status' });
    await status.getByText('not running').waitFor();

    // Two ports below the ephemeral range (32768-60999), so no sender's source port is either of them.
    const portA = 20000 + Math.floor(Math.random() * 5000);
    const portB = portA + 5000;
    await panel.getByLabel('Interface').selectOption('lo');
    await panel.getByLabel('Filter').fill(`udp port ${portA} or udp port ${portB}`);
    await panel.getByRole('button', { name: 'Start' }).click();
    await panel.getByText(/Running: libpcap on lo \(EN10MB\)/).waitFor({ timeout: 20_000 });
    await status.getByText(/running as root/).waitFor();
    collectorPid = Number(/running as root \(pid (\d+)\)/.exec((await status.textContent()) ?? '')?.[1] ?? 0);
    assert.ok(collectorPid > 0, 'the status bar names the collector');

    // 30 datagrams to port A (100…129 bytes of payload), 20 to port B (50…69 bytes).
    const sock = dgram.createSocket('udp4');
    for (let i = 0; i < 30; i++) await new Promise((r) => sock.send(Buffer.alloc(100 + i), portA, '127.0.0.1', r));
    for (let i = 0; i < 20; i++) await new Promise((r) => sock.send(Buffer.alloc(50 + i), portB, '127.0.0.1', r));
    sock.close();
    // The counters are one click away (the tab leads with its health line).
    await panel.getByRole('button', { name: 'Counters' }).click();
    await panel.locator('[data-counter="rows"]').getByText('50', { exact: true }).waitFor({ timeout: 10_000 });
    const table = panel.getByRole('table', { name: 'Packets rows' });
    await table.getByRole('row').nth(1).waitFor();
    assert.ok((await table.getByRole('row').count()) >= 20, 'rows rendered');
    assert.equal(await panel.locator('[data-counter="kernelDrops"]').textContent(), '0');

    const exportCsv = async (): Promise<string[][]> => {
      const download = page.waitForEvent('download');
      await panel.getByRole('button', { name: 'Export CSV' }).click();
      const csv = readFileSync(await (await download).path(), 'utf8').trim().split('\r\n');
      assert.equal(csv[0], 'TIME,DEV,SOURCE_IP,DEST_IP,SPORT,DPORT,PROTO,U,A,P,R,S,F,LENGTH');
      return csv.slice(1).map((l) => l.split(','));
    };
    // IP length: 20 + 8 + the payload.
    const lengthsTo = (first: number, count: number) => Array.from({ length: count }, (_, i) => 20 + 8 + first + i);

    // Sort by length, descending: the rows shown (and exported) longest first, the longest datagram (129 bytes of payload, to port A) at the top.
    const lengthHeader = table.getByRole('columnheader', { name: /Length/ });
    await lengthHeader.click();
    await lengthHeader.click();
    assert.equal(await lengthHeader.getAttribute('aria-sort'), 'descending');
    assert.deepEqual(
      (await exportCsv()).map((c) => Number(c[13])),
      [...lengthsTo(100, 30), ...lengthsTo(50, 20)].sort((a, b) => b - a),
    );
    // The table follows new rows at the bottom: scrolled to the top, its first row is the first sorted.
    await table.hover();
    await page.mouse.wheel(0, -100_000);
    const top = await pollValue(() => table.getByRole('row').nth(1).getByRole('cell').nth(13).textContent(), (l) => l === String(20 + 8 + 129));
    assert.equal(top, String(20 + 8 + 129));

    // Find narrows the rows to one port's, exactly, of the 50 held; the CSV exported holds those and no other.
    const shownCount = () => panel.locator('.shown-count').textContent();
    const find = panel.getByLabel('Find in rows');
    for (const [port, count, firstPayload] of [[portA, 30, 100], [portB, 20, 50]] as const) {
      await find.fill(`port:${port}`);
      assert.equal(await pollValue(shownCount, (s) => s === `showing ${count} of 50`), `showing ${count} of 50`, `Find port:${port}`);
      const rows = await exportCsv();
      assert.equal(rows.length, count);
      assert.ok(rows.every((c) => c[1] === 'lo' && c[5] === String(port) && c[6] === 'UDP'), rows.join('\n'));
      assert.deepEqual(
        rows.map((c) => Number(c[13])),
        lengthsTo(firstPayload, count).reverse(),
      );
    }
    await find.fill('');
    assert.equal(await pollValue(shownCount, (s) => s === 'showing 50 of 50'), 'showing 50 of 50', 'an empty Find shows every row again');

    // Connected, and the status bar says so (it once kept "connecting…" when the socket opened before the app listened).
    assert.equal(await page.getByText(/connecting to netprobes serve|disconnected from netprobes serve/).count(), 0);
    await page.screenshot({ path: SCREENSHOT });

    await panel.getByRole('button', { name: 'Stop' }).click();
    await panel.getByRole('button', { name: 'Start' }).waitFor();
    await panel.getByText(/^Stopped\. Last run/).waitFor();
    assert.deepEqual(consoleErrors, []);
  });

  test('serve exits 0 on SIGINT, its collector ends with it, and the page says it lost serve', async (t) => {
    if (!need(t, 'root')) return;
    server!.child.kill('SIGINT');
    const r = await server!.done;
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.signal, null);
    if (collectorPid) {
      // Gone, or a zombie nobody has reaped yet: either way it no longer runs.
      const running = () => {
        try {
          return !/^\d+ \(.*\) Z /.test(readFileSync(`/proc/${collectorPid}/stat`, 'utf8'));
        } catch {
          return false;
        }
      };
      assert.equal(await pollValue(running, (alive) => !alive, { timeoutMs: 5_000 }), false, `collector ${collectorPid} still runs after serve exited`);
    }
    if (browser) await page.getByRole('status', { name: 'collector status' }).getByText(/connecting to netprobes serve|disconnected from netprobes serve/).waitFor({ timeout: 10_000 });
  });
});
