// Each tab's main flow in the browser against `netprobes serve`, with real
// traffic made by real processes: start, see the rows that traffic made, look
// at the tab's own panel, export, follow a cross-link to another tab.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Locator, Page } from 'playwright-core';
import { need } from '../helpers/env.ts';
import { openServePage, type ServePage } from '../helpers/serve-page.ts';
import { collect, ROOT, sh, waitForOutput } from '../helpers/run.ts';

const PEER = path.join(ROOT, 'test', 'helpers', 'peer.mjs');

let port = 44000 + Math.floor(Math.random() * 1000);
const nextPort = () => port++;

function peer(...args: string[]) {
  const child = spawn(process.execPath, [PEER, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  return { child, done: collect(child) };
}

describe('each tab in the browser, with real traffic', () => {
  let served: ServePage | null = null;
  let page: Page;

  const tab = async (name: string): Promise<Locator> => {
    await page.getByRole('tab', { name: new RegExp(`^${name}`) }).click();
    const region = page.getByRole('region', { name });
    await region.waitFor();
    return region;
  };
  const csvOf = async (panel: Locator, button: string): Promise<string[][]> => {
    const download = page.waitForEvent('download');
    await panel.getByRole('button', { name: button }).click();
    const file = await (await download).path();
    return readFileSync(file, 'utf8')
      .trim()
      .split('\r\n')
      .map((l) => l.split(','));
  };

  before(async () => {
    if (process.getuid?.() !== 0) return;
    served = await openServePage({ acceptDownloads: true });
    page = served.page!;
  });
  after(async () => {
    await served?.close();
  });

  test('Traffic per process: a known sender and receiver, exact packets and bytes, from the history export', async (t) => {
    if (!need(t, 'root') || !need(t, 'chromium')) return;
    const panel = await tab('Traffic per process');
    await panel.getByLabel('interval').fill('1');
    await panel.getByRole('button', { name: 'Start' }).click();
    await panel.getByText(/^Running: libpcap on any/).waitFor({ timeout: 20_000 });
    await page.waitForTimeout(1500); // the socket table is read; an interval passes

    const P = nextPort();
    const receiver = peer('udp-recv', '127.0.0.1', String(P), '40', '2500');
    await waitForOutput(receiver.child, /ready/);
    // The sender keeps its socket a moment, as most programs do; a process that exits at once is tested in test/integration/nettop*.
    const sender = peer('udp-send', '127.0.0.1', String(P), '40', '1000', '700');
    await sender.done;
    await receiver.done;
    // Two more intervals so the last packets' interval is over, then the table shows up.
    await page.waitForTimeout(2500);
    await panel.getByRole('figure', { name: /Throughput per process/ }).waitFor();

    const rows = await csvOf(panel, 'Export history');
    const header = rows[0]!;
    assert.deepEqual(header, ['TIME', 'PID', 'UID', 'DEV', 'XMIT_PK', 'RECV_PK', 'XMIT_KB', 'RECV_KB', 'COMMAND', 'XMIT_BYTES', 'RECV_BYTES']);
    const col = (name: string) => header.indexOf(name);
    const sum = (pid: number, name: string) => rows.slice(1).filter((r) => r[col('PID')] === String(pid) && r[col('DEV')] === 'lo').reduce((n, r) => n + Number(r[col(name)]), 0);
    assert.equal(sum(sender.child.pid!, 'XMIT_PK'), 40);
    assert.equal(sum(sender.child.pid!, 'XMIT_BYTES'), 40 * 1042);
    assert.equal(sum(receiver.child.pid!, 'RECV_PK'), 40);
    assert.equal(sum(receiver.child.pid!, 'RECV_BYTES'), 40 * 1042);
    assert.match(await panel.locator('[data-counter="attributedShare"]').textContent() ?? '', /%$/);
    await page.screenshot({ path: path.join(ROOT, 'docs', 'nettop.png') });

    // A row's details and its links.
    await panel.getByLabel('Find in rows').fill(`PID=${process.pid}`);
    await panel.getByRole('button', { name: 'Stop' }).click();
    await panel.getByLabel('Find in rows').fill('');
  });

  test('TCP connections: an accepted connection with its process and port; counts per port; a link to its packets', async (t) => {
    if (!need(t, 'root') || !need(t, 'chromium')) return;
    const panel = await tab('TCP connections');
    await panel.getByRole('button', { name: 'Start' }).click();
    await panel.getByText(/^Running: /).waitFor({ timeout: 20_000 });

    const P = nextPort();
    const srv = peer('tcp-server', '127.0.0.1', String(P));
    await waitForOutput(srv.child, /ready/);
    const client = peer('tcp-client', '127.0.0.1', String(P), '2', '100');
    await client.done;
    await srv.done;

    await panel.getByLabel('Find in rows').fill(`PORT=${P}`);
    const table = panel.getByRole('table', { name: 'TCP connections rows' });
    const row = table.getByRole('row').nth(1);
    await row.waitFor({ timeout: 10_000 });
    const cells = await row.getByRole('cell').allTextContents();
    // TIME UID CMD PID PORT IP_SOURCE REMOTE_PORT DIRECTION
    assert.equal(cells[3], String(srv.child.pid));
    assert.equal(cells[2], 'node');
    assert.equal(cells[4], String(P));
    assert.equal(cells[5], '127.0.0.1');
    assert.equal(cells[7], 'accepted');
    await panel.getByRole('table', { name: 'Connections per port' }).getByText(String(P)).waitFor();

    await row.click();
    const details = panel.getByRole('complementary', { name: 'Details' });
    await details.getByText(`127.0.0.1:${cells[6]}`, { exact: false }).waitFor();
    await details.getByRole('button', { name: /Packets of this connection/ }).click();
    const packets = page.getByRole('region', { name: 'Packets' });
    await packets.getByText(new RegExp(`Running: libpcap on any .*filter 'tcp and host 127\\.0\\.0\\.1 and port ${cells[6]}'`)).waitFor({ timeout: 20_000 });
    await packets.getByRole('button', { name: 'Stop' }).click();
    await tab('TCP connections');
    await panel.getByRole('button', { name: 'Stop' }).click();
  });

  test('Drops: datagrams to a closed port are counted at __udp4_lib_rcv with NO_SOCKET; details show the exact sites', async (t) => {
    if (!need(t, 'root') || !need(t, 'chromium')) return;
    const panel = await tab('Drops');
    await panel.getByLabel('interval').fill('1');
    await panel.getByRole('button', { name: 'Start' }).click();
    await panel.getByText(/^Running: tracefs tracepoint skb:kfree_skb/).waitFor({ timeout: 20_000 });
    const P = nextPort();
    await peer('udp-send', '127.0.0.1', String(P), '150', '10').done;
    await panel.getByLabel('Find in rows').fill('LOCATION=__udp4_lib_rcv REASON=NO_SOCKET');
    const row = panel.getByRole('table', { name: 'Drops rows' }).getByRole('row').nth(1);
    await row.waitFor({ timeout: 10_000 });
    // Each interval's table replaces the last: pause the view to look at this one.
    await panel.getByRole('button', { name: 'Pause' }).click();
    const history = await csvOf(panel, 'Export history');
    assert.deepEqual(history[0], ['TIME', 'COUNT', 'LOCATION', 'REASON', 'PROTOCOL', 'PID', 'COMMAND']);
    const counted = history.slice(1).filter((r) => r[2] === '__udp4_lib_rcv' && r[3] === 'NO_SOCKET' && r[4] === 'IPv4').reduce((n, r) => n + Number(r[1]), 0);
    assert.ok(counted >= 150, `all 150 drops counted (${counted})`);
    await row.click();
    const details = panel.getByRole('complementary', { name: 'Details' });
    await details.getByText(/__udp4_lib_rcv\+0x[0-9a-f]+\/0x[0-9a-f]+ ×\d+/).waitFor();
    await details.getByText(/NO_SOCKET \(IPv4\): \d+/).waitFor();
    await panel.getByRole('figure', { name: 'Drops per second by reason' }).getByText('NO_SOCKET').first().waitFor();
    await panel.getByRole('button', { name: 'Resume' }).click();
    await panel.getByRole('button', { name: 'Stop' }).click();
    await panel.getByLabel('Find in rows').fill('');
  });

  test('Socket calls: a known process\'s calls, indented and balanced, with a per-function summary', async (t) => {
    if (!need(t, 'root') || !need(t, 'chromium')) return;
    const panel = await tab('Socket calls');
    await panel.getByLabel('comm').fill('python3');
    await panel.getByRole('button', { name: 'Start' }).click();
    await panel.getByText(/^Running: tracefs syscall tracepoints.*comm python3/).waitFor({ timeout: 20_000 });
    const P = nextPort();
    await sh('python3', ['-c', `import socket\ns=socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\ns.sendto(b'x', ('127.0.0.1', ${P}))\ns.close()`]);
    const summary = panel.getByRole('table', { name: 'Per-function summary' });
    await summary.getByRole('cell', { name: 'sys_sendto', exact: true }).waitFor({ timeout: 10_000 });
    const table = panel.getByRole('table', { name: 'Socket calls rows' });
    await table.getByText('-> sys_socket').first().waitFor();
    await table.getByText('<- sys_sendto').first().waitFor();
    await table.getByText('-> sock_sendmsg').first().waitFor();
    const calls = await table.getByText(/^-> /).count();
    const returns = await table.getByText(/^<- /).count();
    assert.equal(calls, returns, 'every call has its return');
    await panel.getByRole('button', { name: 'Stop' }).click();
    await panel.getByLabel('comm').fill('');
  });

  test('Packets: with Processes, each packet\'s PID in the table; pcapng export that tcpdump reads back, the PID in each comment', async (t) => {
    if (!need(t, 'root') || !need(t, 'chromium')) return;
    const panel = await tab('Packets');
    await panel.getByLabel('Interface').selectOption('lo');
    const P = nextPort();
    await panel.getByLabel('Filter').fill(`udp port ${P}`);
    await panel.getByLabel('Processes').check();
    await panel.getByRole('button', { name: 'Start' }).click();
    await panel.getByText(/^Running: libpcap on lo/).waitFor({ timeout: 20_000 });
    const sender = peer('udp-send', '127.0.0.1', String(P), '12', '300', '500');
    const senderPid = sender.child.pid!;
    const senderComm = readFileSync(`/proc/${senderPid}/comm`, 'utf8').trim(); // spawn returned after exec
    await sender.done;
    // The counters are one click away (the tab leads with its health line).
    await panel.getByRole('button', { name: 'Counters' }).click();
    await panel.locator('[data-counter="rows"]').getByText('12', { exact: true }).waitFor({ timeout: 10_000 });
    // Names on: the address gets its name from /etc/hosts (getnameinfo), a well-known port its service.
    await page.locator('body').click({ position: { x: 5, y: 790 } });
    await page.keyboard.press('n');
    const table = panel.getByRole('table', { name: 'Packets rows' });
    await table.getByText('localhost (127.0.0.1)').first().waitFor({ timeout: 10_000 });
    await page.keyboard.press('n');
    await table.getByRole('cell', { name: '127.0.0.1', exact: true }).first().waitFor();
    const download = page.waitForEvent('download');
    await panel.getByRole('button', { name: 'Export pcapng' }).click();
    const file = await (await download).path();
    const text = await sh('tcpdump', ['-r', file, '-nn']);
    const lines = text.trim().split('\n');
    assert.equal(lines.length, 12);
    assert.ok(lines.every((l) => l.includes(`127.0.0.1.${P}: UDP, length 300`)), text);
    // The sender's PID: in the table's PID column, and in each packet's comment as tshark reads it.
    await table.getByRole('cell', { name: String(senderPid), exact: true }).first().waitFor({ timeout: 5_000 });
    const comments = (await sh('tshark', ['-r', file, '-T', 'fields', '-e', 'frame.comment'])).trim().split('\n');
    assert.equal(comments.length, 12);
    assert.ok(comments.every((c) => c.startsWith(`pid=${senderPid}, comm=${senderComm}, uid=0, cgroup=`)), comments.join('\n'));
    await panel.getByRole('button', { name: 'Stop' }).click();
    await panel.getByLabel('Processes').uncheck();
  });

  test('Overview, keyboard shortcuts and the help panel', async (t) => {
    if (!need(t, 'root') || !need(t, 'chromium')) return;
    await page.keyboard.press('Escape');
    await page.locator('body').click({ position: { x: 5, y: 790 } });
    await page.keyboard.press('?');
    await page.getByRole('dialog', { name: 'Keyboard shortcuts' }).waitFor();
    await page.keyboard.press('Escape');
    // 6 opens Drops, s starts it, 1 opens the Overview.
    await page.keyboard.press('6');
    assert.equal(await page.getByRole('tab', { name: /^Drops/ }).getAttribute('aria-selected'), 'true');
    await page.keyboard.press('s');
    await page.getByRole('region', { name: 'Drops' }).getByText(/^Running: /).waitFor({ timeout: 20_000 });
    const P = nextPort();
    for (let i = 0; i < 3; i++) {
      await peer('udp-send', '127.0.0.1', String(P), '200', '10').done;
      await page.waitForTimeout(700);
    }
    await page.keyboard.press('1');
    const overview = page.getByRole('region', { name: 'Overview' });
    const card = overview.getByRole('button', { name: 'Drops overview' });
    await card.getByText('running').waitFor();
    await overview.getByText(/at __udp4_lib_rcv \(NO_SOCKET\)/).first().waitFor({ timeout: 10_000 });
    await page.screenshot({ path: path.join(ROOT, 'docs', 'overview.png') });
    await page.keyboard.press('6');
    await page.keyboard.press('s');
    await page.getByRole('region', { name: 'Drops' }).getByRole('button', { name: 'Start' }).waitFor();
  });
});
