// The README's GUI claims, one test each, in Chromium against `netprobes serve`
// with traffic this file makes itself (so the truth is what it sent, connected
// or called): column resize and hide, multi-select and Ctrl+C as CSV, Clear,
// Pause while rows arrive, the tab's live rate badge, themes that follow the
// system, the shortcuts, the Overview (rate, sparkline, top processes, newest
// connections, click-through), the cross-links the tabs file does not follow,
// and the drops charts and the socket calls' per-function table. Every wait is
// a poll with a deadline.

import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Locator, Page } from 'playwright-core';
import { need } from '../helpers/env.ts';
import { parseCsv } from '../helpers/csv.ts';
import { openServePage, openTab, type ServePage } from '../helpers/serve-page.ts';
import { collect, ROOT, sleep, waitForOutput } from '../helpers/run.ts';

const PEER = path.join(ROOT, 'test', 'helpers', 'peer.mjs');
const PACKET_HEADER = 'TIME,DEV,SOURCE_IP,DEST_IP,SPORT,DPORT,PROTO,U,A,P,R,S,F,LENGTH';
const ISO_MICROS = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/;

let port = 46000 + Math.floor(Math.random() * 1000);
const nextPort = () => port++;
/** No test waits forever. */
const T = { timeout: 60_000 };
/** The port the Packets tab captures (`udp port PK` on lo): only this file's datagrams make its rows. */
const PK = nextPort();

function peer(...args: string[]) {
  const child = spawn(process.execPath, [PEER, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  return { child, done: collect(child) };
}

/** Sends one datagram of each size to 127.0.0.1:`to`, in order, from one socket; returns its source port. */
async function sendUdp(to: number, sizes: number[]): Promise<number> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
  const from = s.address().port;
  for (const size of sizes) await new Promise<void>((r, j) => s.send(Buffer.alloc(size, 0x67), to, '127.0.0.1', (e) => (e ? j(e) : r())));
  await new Promise<void>((r) => s.close(r));
  return from;
}

/**
 * A TCP connection accepted by this process (PID process.pid) on a fresh port; resolves once it has closed. The
 * server keeps listening until `close`: the probe finds the accepting process from the listening socket in /proc,
 * and a listener gone by then makes no row (counted as "no listener").
 */
async function acceptOne(): Promise<{ port: number; clientPort: number; close: () => Promise<unknown> }> {
  const srv = net.createServer((c) => c.end());
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const listening = (srv.address() as net.AddressInfo).port;
  let clientPort = 0;
  await new Promise((r) => {
    const c = net.connect(listening, '127.0.0.1', () => (clientPort = c.localPort!));
    c.resume().on('close', r).on('error', r);
  });
  return { port: listening, clientPort, close: () => new Promise((r) => srv.close(r)) };
}

/** Reads `read` until `ok` holds, every 100 ms, failing with the last value after `ms`. */
async function until<T>(what: string, read: () => Promise<T>, ok: (v: T) => boolean, ms = 10_000): Promise<T> {
  const end = Date.now() + ms;
  let v = await read();
  while (!ok(v)) {
    if (Date.now() > end) throw new Error(`${what}: still ${JSON.stringify(v)} after ${ms} ms`);
    await sleep(100);
    v = await read();
  }
  return v;
}

/** A CSS colour's relative luminance (0 black … 1 white). */
function luminance(css: string): number {
  const [r, g, b] = (css.match(/\d+(\.\d+)?/g) ?? []).slice(0, 3).map((v) => Number(v) / 255);
  const lin = (c: number) => (c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4);
  return 0.2126 * lin(r!) + 0.7152 * lin(g!) + 0.0722 * lin(b!);
}

describe('the GUI as the README describes it', () => {
  let served: ServePage | null = null;
  let page: Page;

  const tab = (name: string) => openTab(page, name);
  const selectedTab = async () => (await page.getByRole('tab', { selected: true }).textContent())?.replace(/\d.*$/, '') ?? '';
  const shown = async (panel: Locator) => Number(await panel.locator('[data-counter="shown"]').textContent());
  const counter = async (panel: Locator, key: string) => Number(await panel.locator(`[data-counter="${key}"]`).textContent());
  const start = async (panel: Locator) => {
    await panel.getByRole('button', { name: 'Start' }).click();
    await panel.getByText(/^Running: (?!starting)/).waitFor({ timeout: 20_000 });
  };
  const stop = async (panel: Locator) => {
    await panel.getByRole('button', { name: 'Stop' }).click();
    await panel.getByRole('button', { name: 'Start' }).waitFor();
  };
  /** Focus on nothing in particular, so a key is a shortcut, not typing. */
  const neutral = () => page.locator('body').click({ position: { x: 5, y: 790 } });
  const download = async (act: () => Promise<void>): Promise<string> => {
    const d = page.waitForEvent('download');
    await act();
    return readFileSync((await (await d).path())!, 'utf8');
  };
  const clipboard = () => page.evaluate(() => navigator.clipboard.readText());

  /** The Packets tab capturing this file's datagrams (udp port PK on lo), its counters open, its rows cleared. */
  const packets = async (): Promise<Locator> => {
    const panel = await tab('Packets');
    if (await panel.getByRole('button', { name: 'Start' }).isVisible()) {
      await panel.getByLabel('Interface').selectOption('lo');
      await panel.getByLabel('Filter').fill(`udp port ${PK}`);
      await start(panel);
      assert.match(await panel.getByLabel('source').textContent() ?? '', new RegExp(`on lo.*udp port ${PK}`));
    }
    const counters = panel.getByRole('button', { name: 'Counters' });
    if ((await counters.getAttribute('aria-expanded')) !== 'true') await counters.click();
    await panel.getByRole('button', { name: 'Clear' }).click();
    await until('rows after Clear', () => shown(panel), (n) => n === 0);
    return panel;
  };

  before(async () => {
    if (process.getuid?.() !== 0) return;
    served = await openServePage({ acceptDownloads: true, colorScheme: 'light' });
    page = served.page!;
    await page.context().grantPermissions(['clipboard-read', 'clipboard-write'], { origin: new URL(served.url).origin });
  });
  after(async () => {
    await served?.close();
  });

  test('themes follow the system: a light page under a light scheme, a dark one under a dark scheme', T, async (t) => {
    if (!need(t, 'root') || !need(t, 'chromium')) return;
    const colours = () => page.evaluate(() => ({ body: getComputedStyle(document.body).backgroundColor, text: getComputedStyle(document.querySelector('.app')!).color, panel: getComputedStyle(document.querySelector('.status')!).backgroundColor }));
    await page.emulateMedia({ colorScheme: 'light' });
    const light = await colours();
    await page.emulateMedia({ colorScheme: 'dark' });
    const dark = await colours();
    await page.emulateMedia({ colorScheme: 'light' });
    assert.ok(luminance(light.body) > 0.8 && luminance(light.text) < 0.2, `light: ${JSON.stringify(light)}`);
    assert.ok(luminance(dark.body) < 0.05 && luminance(dark.text) > 0.5, `dark: ${JSON.stringify(dark)}`);
    assert.notEqual(light.panel, dark.panel, 'the status bar follows too');
    assert.deepEqual(await colours(), light, 'back to light');
  });

  test('tables: Shift/Ctrl+click selects rows and Ctrl+C copies exactly those packets as CSV; a hidden column leaves the header, the rows and the copy; a dragged column edge keeps its width', T, async (t) => {
    if (!need(t, 'root') || !need(t, 'chromium')) return;
    const panel = await packets();
    const table = panel.getByRole('table', { name: 'Packets rows' });
    const sizes = [100, 200, 300, 400, 500, 600];
    const sport = await sendUdp(PK, sizes);
    await until('the 6 datagrams shown', () => shown(panel), (n) => n === 6);
    const row = (i: number) => table.locator(`[role=row][aria-rowindex="${i + 2}"]`);
    // The rows are the datagrams in the order sent: IP length = payload + 8 (UDP) + 20 (IPv4).
    for (let i = 0; i < 6; i++) assert.equal((await row(i).getByRole('cell').allTextContents()).at(-1), String(sizes[i]! + 28));

    await row(0).click();
    await row(2).click({ modifiers: ['Shift'] });
    await row(4).click({ modifiers: ['Control'] });
    assert.equal(await table.locator('[role=row][aria-selected="true"]').count(), 4);
    await page.evaluate(() => navigator.clipboard.writeText('nothing copied'));
    await page.keyboard.press('Control+c');
    const copied = await until('the clipboard', clipboard, (s) => s !== 'nothing copied', 5000);
    const lines = copied.split('\r\n');
    assert.equal(lines.pop(), '', 'CRLF after each line');
    assert.equal(lines[0], PACKET_HEADER);
    const want = [0, 1, 2, 4].map((i) => `lo,127.0.0.1,127.0.0.1,${sport},${PK},UDP,0,0,0,0,0,0,${sizes[i]! + 28}`);
    assert.deepEqual(lines.slice(1).map((l) => l.slice(l.indexOf(',') + 1)), want, copied);
    assert.ok(lines.slice(1).every((l) => ISO_MICROS.test(l.split(',')[0]!)), copied);
    await panel.getByText('copied 4 rows as CSV').waitFor();

    // Hide Dest IP: gone from the header, each row, and the next copy; Export CSV keeps the format's every column.
    await panel.getByRole('button', { name: 'Columns' }).click();
    const dest = panel.getByRole('group', { name: 'Visible columns' }).getByLabel('Dest IP');
    await dest.uncheck();
    const headers = await table.getByRole('columnheader').allTextContents();
    assert.deepEqual(headers, ['Time', 'Device', 'Source IP', 'SPort', 'DPort', 'Proto', 'U', 'A', 'P', 'R', 'S', 'F', 'Length']);
    const cells = await row(1).getByRole('cell').allTextContents();
    assert.deepEqual(cells.slice(1), ['lo', '127.0.0.1', String(sport), String(PK), 'UDP', '0', '0', '0', '0', '0', '0', '228']);
    await page.evaluate(() => navigator.clipboard.writeText('nothing copied'));
    await table.focus();
    await page.keyboard.press('Control+c');
    const narrow = (await until('the clipboard', clipboard, (s) => s !== 'nothing copied', 5000)).trim().split('\r\n');
    assert.equal(narrow[0], PACKET_HEADER.replace(',DEST_IP', ''));
    assert.deepEqual(narrow.slice(1).map((l) => l.slice(l.indexOf(',') + 1)), want.map((l) => l.replace('127.0.0.1,127.0.0.1', '127.0.0.1')));
    const exported = parseCsv(await download(() => panel.getByRole('button', { name: 'Export CSV' }).click()));
    assert.equal(exported[0]!.join(','), PACKET_HEADER);
    assert.deepEqual(exported.slice(1).map((r) => r.at(-1)), sizes.map((s) => String(s + 28)));
    await dest.check();
    await panel.getByRole('button', { name: 'Columns' }).click();
    assert.equal((await table.getByRole('columnheader').allTextContents()).length, 14);
    await page.keyboard.press('Escape'); // the details pane closes: the table has its full width
    await panel.getByRole('complementary', { name: 'Details' }).waitFor({ state: 'detached' });

    // Resize Length by dragging its header's right edge 60 px: the header and the cells below follow, and keep it.
    const header = table.getByRole('columnheader', { name: /^Length/ });
    const width = async () => (await header.boundingBox())!.width;
    const cellWidth = async (i: number) => (await row(i).getByRole('cell').last().boundingBox())!.width;
    const before = await width();
    assert.equal(before, 80, 'the column\'s defined width');
    const edge = (await header.locator('.vt-resize').boundingBox())!;
    await page.mouse.move(edge.x + edge.width / 2, edge.y + edge.height / 2);
    await page.mouse.down();
    await page.mouse.move(edge.x + edge.width / 2 + 30, edge.y + edge.height / 2, { steps: 3 });
    await page.mouse.move(edge.x + edge.width / 2 + 60, edge.y + edge.height / 2, { steps: 3 });
    await page.mouse.up();
    assert.equal(await width(), 140);
    assert.equal(await cellWidth(0), 140);
    assert.equal(await header.getAttribute('aria-sort'), 'none', 'a drag on the edge does not sort');
    // It stays: new rows arrive and the tab is left and opened again.
    await sendUdp(PK, [700]);
    await until('the 7th datagram', () => shown(panel), (n) => n === 7);
    await tab('Overview');
    await tab('Packets');
    assert.equal(await width(), 140);
    assert.equal(await cellWidth(6), 140);
  });

  test('Clear: rows, the shown count and the rate go to zero; traffic after it shows up, exactly', T, async (t) => {
    if (!need(t, 'root') || !need(t, 'chromium')) return;
    const panel = await packets();
    const badge = page.locator('#tab-tcpdump .badge');
    await sendUdp(PK, Array.from({ length: 10 }, () => 10));
    await until('10 rows', () => shown(panel), (n) => n === 10);
    await until('the badge: 10 rows in 5 s', () => badge.textContent(), (s) => s === '2/s', 3000);
    await panel.getByRole('button', { name: 'Clear' }).click();
    await until('rows after Clear', () => shown(panel), (n) => n === 0);
    assert.match(await panel.locator('.shown-count').textContent() ?? '', /^showing 0 of 0$/);
    assert.equal(await panel.getByRole('table', { name: 'Packets rows' }).locator('[role=row][aria-rowindex]').count(), 0);
    await until('the badge after Clear', () => badge.textContent(), (s) => s === '0/s', 3000);
    await sendUdp(PK, [11, 12, 13, 14, 15]);
    await until('the 5 new rows', () => shown(panel), (n) => n === 5);
    assert.match(await panel.locator('.shown-count').textContent() ?? '', /^showing 5 of 5$/);
  });

  test('Pause while rows keep arriving: the view stays frozen while the rows counter rises by exactly what was sent; Resume shows them all', T, async (t) => {
    if (!need(t, 'root') || !need(t, 'chromium')) return;
    const panel = await packets();
    await sendUdp(PK, [20, 21, 22]);
    await until('3 rows', () => shown(panel), (n) => n === 3);
    const rows0 = await until('the rows counter', () => counter(panel, 'rows'), (n) => n > 0);
    await panel.getByRole('button', { name: 'Pause' }).click();
    assert.equal(await panel.getByRole('button', { name: 'Resume' }).getAttribute('aria-pressed'), 'true');
    await sendUdp(PK, Array.from({ length: 20 }, (_, i) => 30 + i));
    // The collector's count of rows made goes up by exactly 20 …
    await until('the rows counter', () => counter(panel, 'rows'), (n) => n === rows0 + 20);
    // … the rows reach the window (its rate badge counts them: 20 or 23 in 5 s) …
    await until('the rate badge', async () => Number((await page.locator('#tab-tcpdump .badge').textContent())?.replace('/s', '')), (n) => n >= 4, 4000);
    // … and the view still shows the 3.
    assert.equal(await shown(panel), 3);
    assert.match(await panel.locator('.shown-count').textContent() ?? '', /^paused: showing 3 of 3$/);
    assert.equal(await panel.getByRole('table', { name: 'Packets rows' }).getAttribute('aria-rowcount'), '4');
    await panel.getByRole('button', { name: 'Resume' }).click();
    assert.equal(await until('rows after Resume', () => shown(panel), (n) => n === 23, 3000), 23);
    const lengths = (await download(() => panel.getByRole('button', { name: 'Export CSV' }).click())).trim().split('\r\n').slice(1).map((l) => Number(l.split(',').at(-1)));
    assert.deepEqual(lengths, [20, 21, 22, ...Array.from({ length: 20 }, (_, i) => 30 + i)].map((s) => s + 28));
  });

  test('shortcuts: 2–6 open the tabs, p pauses and resumes, x clears, / focuses Find, e exports the rows shown', T, async (t) => {
    if (!need(t, 'root') || !need(t, 'chromium')) return;
    const panel = await packets();
    await neutral();
    for (const [key, name] of [['2', 'Traffic per process'], ['3', 'Socket calls'], ['4', 'TCP connections'], ['5', 'Packets'], ['6', 'Drops'], ['1', 'Overview'], ['5', 'Packets']] as const) {
      await page.keyboard.press(key);
      assert.equal(await selectedTab(), name, `key ${key}`);
    }
    // x clears.
    await sendUdp(PK, [40, 41]);
    await until('2 rows', () => shown(panel), (n) => n === 2);
    await page.keyboard.press('x');
    await until('rows after x', () => shown(panel), (n) => n === 0);
    // p pauses: rows arrive (the counter) but are not shown until p again.
    const rows0 = await counter(panel, 'rows');
    await page.keyboard.press('p');
    await panel.getByRole('button', { name: 'Resume' }).waitFor();
    const sport = await sendUdp(PK, [10, 20, 30]);
    await until('the rows counter', () => counter(panel, 'rows'), (n) => n === rows0 + 3);
    assert.equal(await shown(panel), 0);
    await page.keyboard.press('p');
    await panel.getByRole('button', { name: 'Pause' }).waitFor();
    await until('rows after p', () => shown(panel), (n) => n === 3);
    // / focuses Find: what is typed next goes there.
    await page.keyboard.press('/');
    const find = panel.getByLabel('Find in rows');
    assert.ok(await find.evaluate((el) => el === document.activeElement), 'Find has the focus');
    await page.keyboard.type('LENGTH=48');
    assert.equal(await find.inputValue(), 'LENGTH=48');
    await until('rows matching LENGTH=48', () => shown(panel), (n) => n === 1);
    // e exports the rows shown (the one that matches), not every row held.
    await neutral();
    const csv = (await download(() => page.keyboard.press('e'))).trim().split('\r\n');
    assert.equal(csv.length, 2, csv.join('\n'));
    assert.equal(csv[0], PACKET_HEADER);
    assert.equal(csv[1]!.slice(csv[1]!.indexOf(',') + 1), `lo,127.0.0.1,127.0.0.1,${sport},${PK},UDP,0,0,0,0,0,0,48`);
    await find.fill('');
  });

  test('Overview: each card\'s rate and sparkline, the top processes, the newest connection, and a click on a card or a list opens its tab', T, async (t) => {
    if (!need(t, 'root') || !need(t, 'chromium')) return;
    await packets();
    const nettop = await tab('Traffic per process');
    await nettop.getByLabel('interval').fill('1');
    await start(nettop);
    await start(await tab('TCP connections'));
    await tab('Overview');
    const overview = page.getByRole('region', { name: 'Overview' });
    const card = (title: string) => overview.getByRole('button', { name: `${title} overview` });
    // A table has come (serve's own traffic makes one every second): the socket table is read, an interval passed.
    await until('nettop\'s first table', async () => (await card('Traffic per process').locator('.muted').textContent()) ?? '', (s) => !/^0 rows/.test(s), 15_000);

    const receiver = peer('udp-recv', '127.0.0.1', String(PK), '200', '2500');
    await waitForOutput(receiver.child, /ready/);
    const sender = peer('udp-send', '127.0.0.1', String(PK), '200', '1400', '700');
    await sender.done;
    const conn = await acceptOne();

    // Packets: 200 rows in the 5 whole seconds the rate averages: 40/s, with a sparkline drawn up from the baseline.
    const rate = async (title: string) => (await card(title).locator('.rate b').textContent()) ?? '';
    await until('the Packets card\'s rate', () => rate('Packets'), (s) => s === '40', 8000);
    const inked = (title: string, part: 'top' | 'all') =>
      card(title)
        .locator('.sparkline canvas')
        .evaluate((c: HTMLCanvasElement, part) => {
          const data = c.getContext('2d')!.getImageData(0, 0, c.width, part === 'top' ? Math.floor(c.height / 2) : c.height).data;
          let n = 0;
          for (let i = 3; i < data.length; i += 4) if (data[i]! > 0) n++;
          return n;
        }, part);
    await until('the burst drawn in the top half of the Packets sparkline', () => inked('Packets', 'top'), (n) => n > 0, 3000);
    assert.equal(await rate('Socket calls'), '–', 'a stopped probe has no rate');
    assert.equal(await inked('Socket calls', 'all'), 0, 'nor a sparkline');
    assert.match(await rate('TCP connections'), /^\d+(\.\d)?k?$/);

    // Top processes: the sender and the receiver by PID, 200 packets each on lo (nettop's exact count).
    // Each of the 200 frames: 1400 bytes of payload + 8 UDP + 20 IPv4 + 14 link header = 1442 bytes; 288,400 bytes, shown as 288 KB.
    const lines = (list: string) => overview.locator('.overview-list', { hasText: list }).locator('li').allTextContents();
    const has = (...wanted: string[]) => (texts: string[]) => wanted.every((w) => texts.some((l) => l.includes(w)));
    await until('the top processes', () => lines('Top processes'), has(`(${sender.child.pid}) on lo: 200 packets, 288 KB`, `(${receiver.child.pid}) on lo: 200 packets, 288 KB`));
    receiver.child.kill(); // it may wait for datagrams its full buffer dropped
    // Newest connections: the one this process accepted, its peer's port and the local port.
    await until('the newest connections', () => lines('Newest connections'), has(`(${process.pid}) from 127.0.0.1:${conn.clientPort} port ${conn.port}`));
    await conn.close();

    // Click-through: a card, and each list's title.
    for (const [open, name] of [
      [card('Packets'), 'Packets'],
      [overview.getByRole('button', { name: 'Top processes (last minute)' }), 'Traffic per process'],
      [overview.getByRole('button', { name: 'Newest connections' }), 'TCP connections'],
      [overview.getByRole('button', { name: 'Drops (last minute)' }), 'Drops'],
      [card('Socket calls'), 'Socket calls'],
    ] as const) {
      await tab('Overview');
      await open.click();
      assert.equal(await selectedTab(), name);
      await page.getByRole('region', { name }).waitFor();
    }
  });

  test('the live rate badge: a steady 200 packets/s reads 150–250/s while it lasts, 0/s after, nothing once stopped', T, async (t) => {
    if (!need(t, 'root') || !need(t, 'chromium')) return;
    const panel = await packets();
    const badge = page.locator('#tab-tcpdump .badge');
    const rows0 = await counter(panel, 'rows');
    // 200 datagrams a second for 9 s, paced against the clock (no drift).
    const RATE = 200;
    const SECONDS = 9;
    const sender = spawn(process.execPath, ['-e', `
      const s = require('node:dgram').createSocket('udp4');
      const total = ${RATE * SECONDS}; const buf = Buffer.alloc(64, 0x72); const t0 = Date.now();
      let sent = 0, acked = 0;
      console.log('start');
      const timer = setInterval(() => {
        const due = Math.min(total, Math.floor(((Date.now() - t0) / 1000) * ${RATE}));
        for (; sent < due; sent++) s.send(buf, ${PK}, '127.0.0.1', () => { if (++acked === total) s.close(); });
        if (sent === total) clearInterval(timer);
      }, 10);`], { stdio: ['ignore', 'pipe', 'pipe'] });
    const done = collect(sender);
    await waitForOutput(sender, /start/);
    const t0 = Date.now();
    const readings: [number, number][] = [];
    while (Date.now() - t0 < SECONDS * 1000 - 300) {
      const text = (await badge.textContent()) ?? '';
      readings.push([Date.now() - t0, Number(text.replace('/s', ''))]);
      await sleep(250);
    }
    assert.equal((await done).code, 0);
    // The badge averages the last 5 whole seconds: from 6.5 s on they are all inside the sending.
    const steady = readings.filter(([at]) => at >= 6500);
    assert.ok(steady.length >= 4 && steady.every(([, v]) => v >= 150 && v <= 250), `readings (ms, /s): ${readings.map((r) => r.join(':')).join(' ')}`);
    // Every datagram was a row: the counter says exactly what was sent.
    await until('the rows counter', () => counter(panel, 'rows'), (n) => n === rows0 + RATE * SECONDS);
    await until('the badge once the sending stopped', () => badge.textContent(), (s) => s === '0/s', 8000);
    await stop(panel);
    await until('the badge of a stopped probe', () => badge.textContent(), (s) => s === '', 3000);
  });

  test('cross-links from a connection: to its process\'s traffic (Find PID=) and its socket calls (started for that PID)', T, async (t) => {
    if (!need(t, 'root') || !need(t, 'chromium')) return;
    const panel = await tab('TCP connections');
    if (await panel.getByRole('button', { name: 'Start' }).isVisible()) await start(panel);
    const conn = await acceptOne();
    const table = panel.getByRole('table', { name: 'TCP connections rows' });
    await until(`a row on port ${conn.port}`, () => table.locator('[role=row][aria-rowindex]').allInnerTexts(), (rows) => rows.some((r) => r.includes(String(conn.port))));
    await panel.getByLabel('Find in rows').fill(`PORT=${conn.port}`);
    const row = table.locator('[role=row][aria-rowindex="2"]');
    await row.waitFor({ timeout: 10_000 });
    const cells = await row.getByRole('cell').allTextContents();
    assert.deepEqual([cells[3], cells[4], cells[6], cells[7]], [String(process.pid), String(conn.port), String(conn.clientPort), 'accepted']);
    const details = panel.getByRole('complementary', { name: 'Details' });

    await row.click();
    await details.getByRole('button', { name: /^Traffic of this process/ }).click();
    assert.equal(await selectedTab(), 'Traffic per process');
    assert.equal(await page.getByRole('region', { name: 'Traffic per process' }).getByLabel('Find in rows').inputValue(), `PID=${process.pid}`);

    await tab('TCP connections');
    await row.click();
    await details.getByRole('button', { name: /^Socket calls of this process/ }).click();
    assert.equal(await selectedTab(), 'Socket calls');
    const calls = page.getByRole('region', { name: 'Socket calls' });
    await calls.getByText(new RegExp(`^Running: .*pid ${process.pid}`)).waitFor({ timeout: 20_000 });
    assert.equal(await calls.getByLabel('pid').inputValue(), String(process.pid));
    await stop(calls);
    await calls.getByLabel('pid').fill('0');
    await calls.getByRole('button', { name: 'Clear' }).click();
    await tab('TCP connections');
    await panel.getByLabel('Find in rows').fill('');
    await conn.close();
  });

  test('socket calls: the per-function table counts the sendto calls made and the one refused connect as an error; a call links to its thread only', T, async (t) => {
    if (!need(t, 'root') || !need(t, 'chromium')) return;
    const closed = nextPort();
    const CALLER = `
import ctypes, socket, sys, threading
ctypes.CDLL(None).prctl(15, b'np19-caller', 0, 0, 0)
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
print(threading.get_native_id(), flush=True)
while True:
    cmd = sys.stdin.readline().strip()
    if cmd == 'send':
        u.sendto(b'x', ('127.0.0.1', ${PK}))
    elif cmd == 'connect':
        c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            c.connect(('127.0.0.1', ${closed}))
        except ConnectionRefusedError:
            pass
        c.close()
    else:
        break
    print('done', flush=True)
`;
    const caller: ChildProcess = spawn('/usr/bin/python3', ['-c', CALLER], { stdio: ['pipe', 'pipe', 'inherit'] });
    try {
      const tid = Number(await waitForOutput(caller, /^\d+/m));
      const ask = async (cmd: string) => {
        const answered = waitForOutput(caller, /done/);
        caller.stdin!.write(`${cmd}\n`);
        await answered;
      };
      const panel = await tab('Socket calls');
      await panel.getByLabel('comm').fill('np19-caller');
      await start(panel);
      assert.match(await panel.getByLabel('source').textContent() ?? '', /comm np19-caller/);
      const SENDS = 7;
      for (let i = 0; i < SENDS; i++) await ask('send');
      await ask('connect');

      // Calls, Errors, Mean µs, Max µs per function, from the rows of this one process.
      const summary = panel.getByRole('table', { name: 'Per-function summary' });
      const stats = async (func: string) => {
        const row = summary.getByRole('row').filter({ has: page.getByRole('cell', { name: func, exact: true }) });
        if (!(await row.count())) return null;
        const [, calls, errors, mean, max] = await row.getByRole('cell').allTextContents();
        return { calls: Number(calls), errors: Number(errors), mean: Number(mean), max: Number(max) };
      };
      await until('sys_connect in the summary', () => stats('sys_connect'), (s) => s?.calls === 1 && s.errors === 1);
      const sendto = (await stats('sys_sendto'))!;
      assert.equal(sendto.calls, SENDS);
      assert.equal(sendto.errors, 0);
      assert.ok(sendto.mean > 0 && sendto.max >= sendto.mean, `latency: ${JSON.stringify(sendto)}`);
      const socketCalls = (await stats('sys_socket'))!;
      assert.equal(socketCalls.calls, 1, 'the one socket() of the refused connect');
      assert.equal(socketCalls.errors, 0);
      // The refused connect's return, -ECONNREFUSED, in its details.
      const table = panel.getByRole('table', { name: 'Socket calls rows' });
      await table.getByText('<- sys_connect').first().click();
      const details = panel.getByRole('complementary', { name: 'Details' });
      await details.getByText('error 111 (-errno)').waitFor();

      // A call → its thread: the probe restarts filtered to that TID alone (the comm filter gone).
      await table.getByText('-> sys_sendto').first().click();
      await details.getByRole('button', { name: /^Only this thread/ }).click();
      await panel.getByText(new RegExp(`^Running: .*tid ${tid}`)).waitFor({ timeout: 20_000 });
      assert.equal(await panel.getByLabel('comm').inputValue(), '');
      assert.equal(await panel.getByLabel('tid').inputValue(), String(tid));
      // Another thread's sendto is not traced now; the caller's next one is.
      const other = spawn('/usr/bin/python3', ['-c', `import ctypes, socket\nctypes.CDLL(None).prctl(15, b'np19-caller', 0, 0, 0)\nsocket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b'y', ('127.0.0.1', ${PK}))`]);
      assert.equal((await collect(other)).code, 0);
      await ask('send');
      await until('the caller\'s 8th sendto', () => stats('sys_sendto'), (s) => s?.calls === SENDS + 1);
      await stop(panel);
      assert.equal((await stats('sys_sendto'))?.calls, SENDS + 1, 'the other thread\'s sendto is not there');
      await panel.getByLabel('tid').fill('0');
    } finally {
      caller.kill('SIGKILL');
    }
  });

  test('drops: the reason and location charts add up to the 150 drops made at a closed port; a process\'s drops link to its traffic', T, async (t) => {
    if (!need(t, 'root') || !need(t, 'chromium')) return;
    const panel = await tab('Drops');
    await panel.getByLabel('interval').fill('1');
    await start(panel);
    // A chart's hidden table: one column per series, one row per table (interval) of the newest 30.
    const series = (title: string, label: string) =>
      panel
        .getByRole('figure', { name: title })
        .locator('table.sr-only')
        .evaluate((table, label) => {
          const i = [...table.querySelectorAll('thead th')].map((th) => th.textContent).indexOf(label) - 1;
          if (i < 0) return null;
          return [...table.querySelectorAll('tbody tr')].map((tr) => Number(tr.querySelectorAll('td')[i]?.getAttribute('data-value') || 0));
        }, label);
    const sum = (v: number[] | null) => (v ?? []).reduce((n, x) => n + x, 0);
    // Drops per second over each table's interval (1 s, as measured by the collector's clock): summed, the 150
    // drops within the interval's jitter (2%); a doubled or a lost point is far outside.
    const near150 = (v: number[] | null) => Math.abs(sum(v) - 150) <= 3;
    await peer('udp-send', '127.0.0.1', String(nextPort()), '150', '10').done;
    const byReason = await until('NO_SOCKET drops in the chart', () => series('Drops per second by reason', 'NO_SOCKET'), near150, 10_000);
    const byLocation = await until('__udp4_lib_rcv drops in the chart', () => series('Drops per second by location', '__udp4_lib_rcv'), near150, 5000);
    assert.ok(byReason!.filter((v) => v > 0).length <= 2, `one burst, in one or two intervals: ${byReason}`);
    assert.ok(byLocation!.filter((v) => v > 0).length <= 2, `${byLocation}`);

    // A socket that never reads: its drops carry its PID, and a link opens its traffic.
    const sink = spawn('/usr/bin/python3', ['-c', `import ctypes, socket, time\nctypes.CDLL(None).prctl(15, b'np19-sink', 0, 0, 0)\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\ns.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)\ns.bind(('127.0.0.1', 0))\nprint(s.getsockname()[1], flush=True)\ntime.sleep(60)`], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      const sinkPort = Number(await waitForOutput(sink, /^\d+/m));
      await peer('udp-send', '127.0.0.1', String(sinkPort), '300', '200').done;
      await panel.getByLabel('Find in rows').fill(`PID=${sink.pid}`);
      const row = panel.getByRole('table', { name: 'Drops rows' }).locator('[role=row][aria-rowindex="2"]');
      await row.waitFor({ timeout: 10_000 });
      await row.click();
      await panel.getByRole('complementary', { name: 'Details' }).getByRole('button', { name: /^Traffic of this process/ }).click();
      assert.equal(await selectedTab(), 'Traffic per process');
      const nettop = page.getByRole('region', { name: 'Traffic per process' });
      assert.equal(await nettop.getByLabel('Find in rows').inputValue(), `PID=${sink.pid}`);
      await nettop.getByText(/^Running: /).waitFor({ timeout: 20_000 });
      await nettop.getByLabel('Find in rows').fill('');
    } finally {
      sink.kill('SIGKILL');
    }
    await tab('Drops');
    await panel.getByLabel('Find in rows').fill('');
    await stop(panel);
  });
});
