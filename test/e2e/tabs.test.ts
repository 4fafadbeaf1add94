// Each tab's main flow in the browser against `netprobes serve`, with real
// traffic made by real processes: start, see the rows that traffic made, look
// at the tab's own panel, export, follow the cross-links to other tabs. The
// truth is what the test's own processes did (datagrams sent, connections
// made, socket calls made), read back from the exported files where the tab
// has one; waits are polls with deadlines, never fixed sleeps.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, afterEach, before, describe, test } from 'node:test';
import type { Locator, Page } from 'playwright-core';
import { parseCsv } from '../helpers/csv.ts';
import { PROBE_IDS } from '../../probes/registry.ts';
import { need } from '../helpers/env.ts';
import { wsRequest } from '../helpers/history.ts';
import { pollValue } from '../helpers/poll-value.ts';
import { openServePage, openTab, type ServePage } from '../helpers/serve-page.ts';
import { collect, ROOT, sh, waitForOutput } from '../helpers/run.ts';

const PEER = path.join(ROOT, 'test', 'helpers', 'peer.mjs');

let port = 44000 + Math.floor(Math.random() * 1000);
const nextPort = () => port++;

function peer(...args: string[]) {
  const child = spawn(process.execPath, [PEER, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  return { child, done: collect(child) };
}

/** A socket client under a name of its own (the Socket calls tab filters on it in the kernel, so it is set before any socket call). */
const CALLS_COMM = 'np19-calls';
const CALLS_CLIENT = `
import ctypes, socket, sys
ctypes.CDLL(None).prctl(15, b'${CALLS_COMM}', 0, 0, 0)
port = int(sys.argv[1])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
fd = s.fileno()
sent = s.sendto(b'x', ('127.0.0.1', port))
s.close()
# Its stdout is a socket (Node's pipes are socketpairs): the report's writes are made under another name, not traced.
ctypes.CDLL(None).prctl(15, b'python3', 0, 0, 0)
print('sent', sent, fd, flush=True)
sys.stdin.readline()
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.sendto(b'yy', ('127.0.0.1', port))
s.close()
`;

describe('each tab in the browser, with real traffic', () => {
  let served: ServePage | null = null;
  let page: Page;

  const tab = (name: string) => openTab(page, name);
  const csvOf = async (panel: Locator, button: string): Promise<string[][]> => {
    const download = page.waitForEvent('download');
    await panel.getByRole('button', { name: button }).click();
    return parseCsv(readFileSync(await (await download).path(), 'utf8'));
  };
  /** "showing N of M": the rows the Find and filters let through, of those the tab holds. */
  const shownOf = async (panel: Locator): Promise<{ shown: number; held: number }> => {
    const m = /showing (\d+) of (\d+)/.exec((await panel.locator('.shown-count').textContent()) ?? '');
    return { shown: Number(m?.[1] ?? -1), held: Number(m?.[2] ?? -1) };
  };
  /** A tab's source line ("Running: …", "Stopped. …"). */
  const sourceOf = async (panel: Locator): Promise<string> => (await panel.getByLabel('source', { exact: true }).textContent()) ?? '';
  const stop = async (panel: Locator) => {
    await panel.getByRole('button', { name: 'Stop' }).click();
    await panel.getByRole('button', { name: 'Start' }).waitFor();
  };
  const showCounters = async (panel: Locator) => {
    const button = panel.getByRole('button', { name: 'Counters' });
    if ((await button.getAttribute('aria-expanded')) !== 'true') await button.click();
  };
  /** The tab a cross-link opened, once it is the selected one. */
  const opened = async (name: string): Promise<Locator> => {
    await page.getByRole('tab', { name: new RegExp(`^${name}`), selected: true }).waitFor();
    return page.getByRole('region', { name });
  };

  before(async () => {
    if (process.getuid?.() !== 0) return;
    served = await openServePage({ acceptDownloads: true });
    page = served.page!;
  });
  // A test that failed half-way leaves no probe running for the next (which would then fail too, hiding which broke).
  afterEach(async () => {
    if (served) for (const probe of PROBE_IDS) await wsRequest(served.url, { type: 'stop', probe });
  });
  after(async () => {
    await served?.close();
  });

  test('Traffic per process: a known sender and receiver, exact packets and bytes, from the history export; a process\'s links', async (t) => {
    if (!need(t, 'root') || !need(t, 'chromium')) return;
    const panel = await tab('Traffic per process');
    await panel.getByLabel('interval').fill('1');
    await panel.getByRole('button', { name: 'Start' }).click();
    await panel.getByText(/^Running: libpcap on any/).waitFor({ timeout: 20_000 });
    // The first table is in (serve's own WebSocket on lo makes traffic every interval): the socket table has been read.
    assert.ok((await pollValue(() => shownOf(panel), (s) => s.held > 0)).held > 0, 'a first table');

    const P = nextPort();
    // The receiver keeps its socket after the 40 datagrams, for the links below (killed at the end).
    const receiver = peer('udp-recv', '127.0.0.1', String(P), '40', '120000');
    try {
      await waitForOutput(receiver.child, /ready/);
      // The sender keeps its socket a moment, as most programs do; a process that exits at once is tested in test/integration/nettop*.
      const sender = peer('udp-send', '127.0.0.1', String(P), '40', '1000', '700');
      await sender.done;
      const [spid, rpid] = [sender.child.pid!, receiver.child.pid!];

      // Every table since start, exported, until both processes' packets are in; then exactly what was sent.
      const totals = async () => {
        const rows = await csvOf(panel, 'Export history');
        const header = rows[0]!;
        const col = (name: string) => header.indexOf(name);
        const sum = (pid: number, name: string) => rows.slice(1).filter((r) => r[col('PID')] === String(pid) && r[col('DEV')] === 'lo').reduce((n, r) => n + Number(r[col(name)]), 0);
        return { header, sentPk: sum(spid, 'XMIT_PK'), sentBytes: sum(spid, 'XMIT_BYTES'), receivedPk: sum(rpid, 'RECV_PK'), receivedBytes: sum(rpid, 'RECV_BYTES') };
      };
      const { header, ...got } = await pollValue(totals, (s) => s.sentPk >= 40 && s.receivedPk >= 40, { timeoutMs: 20_000, everyMs: 1000 });
      assert.deepEqual(header, ['TIME', 'PID', 'UID', 'DEV', 'XMIT_PK', 'RECV_PK', 'XMIT_KB', 'RECV_KB', 'COMMAND', 'XMIT_BYTES', 'RECV_BYTES']);
      assert.deepEqual(got, { sentPk: 40, sentBytes: 40 * 1042, receivedPk: 40, receivedBytes: 40 * 1042 });
      await panel.getByRole('figure', { name: /Throughput per process/ }).waitFor();
      await page.screenshot({ path: path.join(ROOT, 'docs', 'nettop.png') });

      // The attributed share: a number, and attributed / (attributed + kernel + unknown) of the counters beside it.
      await showCounters(panel);
      // Read in one go, so all four are of the same render.
      const readShare = async () => {
        const [share, attributed, kernel, unknown] = await page.evaluate(() =>
          ['attributedShare', 'attributed', 'kernel', 'unknown'].map((k) => document.querySelector(`#panel-nettop [data-counter="${k}"]`)?.textContent ?? ''),
        );
        return { share: share!, attributed: Number(attributed), kernel: Number(kernel), unknown: Number(unknown) };
      };
      const expectedShare = (c: { attributed: number; kernel: number; unknown: number }) => `${((100 * c.attributed) / (c.attributed + c.kernel + c.unknown)).toFixed(1)}%`;
      const c = await pollValue(readShare, (v) => v.share === expectedShare(v));
      assert.match(c.share, /^\d+(\.\d+)?%$/);
      assert.equal(c.share, expectedShare(c), JSON.stringify(c));
      assert.ok(c.attributed >= 80, `our 40 datagrams, once sent and once received, are attributed (${c.attributed})`);

      // The receiver's row since start, its details, and each of its links.
      await panel.getByRole('group', { name: 'Rows' }).getByRole('button', { name: 'Cumulative' }).click();
      await panel.getByLabel('Find in rows').fill(`PID=${rpid} DEV=lo`);
      const row = panel.getByRole('table', { name: 'Traffic per process rows' }).getByRole('row').nth(1);
      await row.click();
      const details = panel.getByRole('complementary', { name: 'Details' });
      await details.getByText('40 (0 sent, 40 received)', { exact: true }).waitFor();

      await details.getByRole('button', { name: /^Connections of this process/ }).click();
      const conns = await opened('TCP connections');
      await conns.getByText(/^Running: tracefs tracepoints sock:inet_sock_set_state/).waitFor({ timeout: 20_000 });
      assert.equal(await conns.getByLabel('Find in rows').inputValue(), `PID=${rpid}`);
      assert.equal(await conns.getByLabel('outbound', { exact: true }).isChecked(), true, 'its outbound connections too');
      await stop(conns);

      await tab('Traffic per process');
      await details.getByRole('button', { name: /^Socket calls of this process/ }).click();
      const calls = await opened('Socket calls');
      await calls.getByText(new RegExp(`^Running: tracefs syscall tracepoints.*, pid ${rpid},`)).waitFor({ timeout: 20_000 });
      assert.equal(await calls.getByLabel('pid', { exact: true }).inputValue(), String(rpid));
      await stop(calls);

      await tab('Traffic per process');
      await details.getByRole('button', { name: /^Packets of this process/ }).click();
      const packets = await opened('Packets');
      // The receiver holds one socket, UDP port P: the capture is that port's, both ways.
      await packets.getByText(/^Running: libpcap/).waitFor({ timeout: 20_000 });
      assert.match(await sourceOf(packets), new RegExp(`^Running: libpcap on any .*, both directions, filter '\\(udp and \\(port ${P}\\)\\)'$`));
      await stop(packets);
    } finally {
      receiver.child.kill();
      await receiver.done;
    }
    const nettop = await tab('Traffic per process');
    await nettop.getByLabel('Find in rows').fill('');
    await nettop.getByRole('group', { name: 'Rows' }).getByRole('button', { name: 'Latest interval' }).click();
    await stop(nettop);
  });

  test('TCP connections: accepted connections with their process and port; exact counts per port; links to packets and process', async (t) => {
    if (!need(t, 'root') || !need(t, 'chromium')) return;
    const panel = await tab('TCP connections');
    await panel.getByLabel('outbound', { exact: true }).setChecked(false); // a process's link above turned it on
    await panel.getByRole('button', { name: 'Clear' }).click();
    await panel.getByRole('button', { name: 'Start' }).click();
    await panel.getByText(/^Running: tracefs/).waitFor({ timeout: 20_000 }); // not "Running: starting…"

    // N connections to port P, one after the other, each two echoed writes (peer.mjs tcp-client).
    const P = nextPort();
    const N = 3;
    const srv = peer('tcp-server', '127.0.0.1', String(P), String(N));
    await waitForOutput(srv.child, /ready/);
    for (let i = 0; i < N; i++) assert.equal((await peer('tcp-client', '127.0.0.1', String(P), '2', '100').done).code, 0);
    assert.equal((await srv.done).code, 0);

    await panel.getByLabel('Find in rows').fill(`PORT=${P}`);
    assert.equal((await pollValue(() => shownOf(panel), (s) => s.shown >= N)).shown, N, 'one row per connection');
    const table = panel.getByRole('table', { name: 'TCP connections rows' });
    const remotePorts = new Set<string>();
    for (let i = 1; i <= N; i++) {
      const cells = await table.getByRole('row').nth(i).getByRole('cell').allTextContents();
      // TIME UID CMD PID PORT IP_SOURCE REMOTE_PORT DIRECTION
      assert.deepEqual([cells[2], cells[3], cells[4], cells[5], cells[7]], ['node', String(srv.child.pid), String(P), '127.0.0.1', 'accepted']);
      remotePorts.add(cells[6]!);
    }
    assert.equal(remotePorts.size, N, 'each connection from its own port');

    // The per-port table: port P's row counts exactly the N connections made.
    const perPort = panel.getByRole('table', { name: 'Connections per port' }).getByRole('row').filter({ has: page.getByRole('cell', { name: String(P), exact: true }) });
    const count = await pollValue(async () => ((await perPort.count()) === 1 ? await perPort.getByRole('cell').nth(1).textContent() : null), (n) => n === String(N));
    assert.equal(count, String(N), `connections counted on port ${P}`);

    const row = table.getByRole('row').nth(1);
    const remotePort = (await row.getByRole('cell').allTextContents())[6]!;
    await row.click();
    const details = panel.getByRole('complementary', { name: 'Details' });
    await details.getByText(`127.0.0.1:${remotePort}`, { exact: false }).waitFor();
    await details.getByRole('button', { name: /Packets of this connection/ }).click();
    const packets = await opened('Packets');
    await packets.getByText(new RegExp(`Running: libpcap on any .*filter 'tcp and host 127\\.0\\.0\\.1 and port ${remotePort}'`)).waitFor({ timeout: 20_000 });
    await stop(packets);

    // The connection's process: its traffic, found by PID (a link without options starts the probe as it is).
    await tab('TCP connections');
    await details.getByRole('button', { name: /^Traffic of this process/ }).click();
    const nettop = await opened('Traffic per process');
    await nettop.getByText(/^Running: libpcap on any/).waitFor({ timeout: 20_000 });
    assert.equal(await nettop.getByLabel('Find in rows').inputValue(), `PID=${srv.child.pid}`);
    await stop(nettop);
    await nettop.getByLabel('Find in rows').fill('');
    await stop(await tab('TCP connections'));
  });

  test('Drops: datagrams to a closed port are counted at __udp4_lib_rcv with NO_SOCKET, all 150 and no more; details show the exact sites', async (t) => {
    if (!need(t, 'root') || !need(t, 'chromium')) return;
    const panel = await tab('Drops');
    await panel.getByLabel('interval').fill('1');
    await panel.getByRole('button', { name: 'Clear' }).click();
    await panel.getByRole('button', { name: 'Start' }).click();
    await panel.getByText(/^Running: tracefs tracepoint skb:kfree_skb/).waitFor({ timeout: 20_000 });
    const P = nextPort();
    await peer('udp-send', '127.0.0.1', String(P), '150', '10').done;

    // Every table since start, exported, until the 150 are in (the machine is quiet: no other closed-port traffic).
    const ours = (r: string[]) => r[2] === '__udp4_lib_rcv' && r[3] === 'NO_SOCKET' && r[4] === 'IPv4';
    const counted = await pollValue(
      async () => {
        const history = await csvOf(panel, 'Export history');
        assert.deepEqual(history[0], ['TIME', 'COUNT', 'LOCATION', 'REASON', 'PROTOCOL', 'PID', 'COMMAND']);
        return history.slice(1).filter(ours).reduce((n, r) => n + Number(r[1]), 0);
      },
      (n) => n >= 150,
      { timeoutMs: 15_000, everyMs: 1000 },
    );
    assert.equal(counted, 150, 'all 150 drops counted, once each');

    await panel.getByLabel('Find in rows').fill('LOCATION=__udp4_lib_rcv REASON=NO_SOCKET');
    const row = panel.getByRole('table', { name: 'Drops rows' }).getByRole('row').nth(1);
    await row.waitFor({ timeout: 10_000 });
    await panel.getByRole('button', { name: 'Pause' }).click();
    await row.click();
    const details = panel.getByRole('complementary', { name: 'Details' });
    // Since start (the tab's default view): the location's reasons, and its exact sites summing to the 150.
    await details.getByText(/(^|; )NO_SOCKET \(IPv4\): 150(;|$)/).waitFor();
    const sites = (await details.getByText(/^__udp4_lib_rcv\+0x[0-9a-f]+\/0x[0-9a-f]+ ×\d+/).textContent()) ?? '';
    assert.equal([...sites.matchAll(/ ×(\d+)/g)].reduce((n, m) => n + Number(m[1]), 0), 150, sites);
    await panel.getByRole('figure', { name: 'Drops per second by reason' }).getByText('NO_SOCKET').first().waitFor();
    await panel.getByRole('button', { name: 'Resume' }).click();
    await stop(panel);
    await panel.getByLabel('Find in rows').fill('');
  });

  test('Socket calls: a known process\'s exact calls and returns, exported; a per-function summary; its thread\'s link', async (t) => {
    if (!need(t, 'root') || !need(t, 'chromium')) return;
    const panel = await tab('Socket calls');
    await panel.getByLabel('pid', { exact: true }).fill('0'); // a process's link above set one
    await panel.getByLabel('comm').fill(CALLS_COMM);
    await panel.getByRole('button', { name: 'Clear' }).click();
    await panel.getByRole('button', { name: 'Start' }).click();
    await panel.getByText(new RegExp(`^Running: tracefs syscall tracepoints.*comm ${CALLS_COMM}`)).waitFor({ timeout: 20_000 });

    const P = nextPort();
    const client = spawn('/usr/bin/python3', ['-c', CALLS_CLIENT, String(P)], { stdio: ['pipe', 'pipe', 'inherit'] });
    const clientDone = collect(client);
    try {
      const [, sent, fd] = / (\d+) (\d+)/.exec(await waitForOutput(client, /sent \d+ \d+/))!;
      assert.equal(sent, '1');
      const pid = String(client.pid);

      // What the client did, as the probe reports it: each syscall a call and a return, sock_sendmsg inside sendto.
      const expected = [
        ['1', 'call', 'sys_socket'],
        ['1', 'return', 'sys_socket'],
        ['1', 'call', 'sys_sendto'],
        ['2', 'call', 'sock_sendmsg'],
        ['2', 'return', 'sock_sendmsg'],
        ['1', 'return', 'sys_sendto'],
      ];
      await pollValue(() => shownOf(panel), (s) => s.shown >= expected.length);
      const csv = await csvOf(panel, 'Export CSV');
      assert.deepEqual(csv[0], ['TIME', 'REL_US', 'COMM', 'PID', 'TID', 'DEPTH', 'DIRECTION', 'FUNCTION']);
      const rows = csv.slice(1);
      assert.deepEqual(rows.map((r) => [r[5], r[6], r[7]]), expected, csv.map((r) => r.join(',')).join('\n'));
      assert.deepEqual(new Set(rows.map((r) => `${r[2]} ${r[3]} ${r[4]}`)), new Set([`${CALLS_COMM} ${pid} ${pid}`]), 'every row is the client\'s main thread, under its name');

      // The summary counts the same calls, without errors.
      const summary = panel.getByRole('table', { name: 'Per-function summary' });
      const readSummary = () => summary.locator('tbody tr').evaluateAll((trs) => trs.map((tr) => [...tr.children].slice(0, 3).map((td) => td.textContent).join(' ')).sort());
      const funcs = await pollValue(readSummary, (f) => f.length === 3);
      assert.deepEqual(funcs, ['sock_sendmsg 1 0', 'sys_sendto 1 0', 'sys_socket 1 0']);

      // The returns' values, in the details: the socket's descriptor, the byte sent.
      const details = panel.getByRole('complementary', { name: 'Details' });
      const table = panel.getByRole('table', { name: 'Socket calls rows' });
      for (const [func, value] of [['sys_socket', fd], ['sys_sendto', '1']] as const) {
        await panel.getByLabel('Find in rows').fill(`FUNCTION=${func} DIRECTION=return`);
        assert.equal((await pollValue(() => shownOf(panel), (s) => s.shown === 1)).shown, 1);
        await table.getByRole('row').nth(1).click();
        await details.getByText(`returned ${value}`, { exact: true }).waitFor();
      }

      // Its thread's link: the probe runs again on that thread alone, and sees its next calls.
      await details.getByRole('button', { name: /^Only this thread/ }).click();
      await panel.getByText(new RegExp(`^Running: tracefs syscall tracepoints.*, tid ${pid},`)).waitFor({ timeout: 20_000 });
      assert.equal(await panel.getByLabel('comm').inputValue(), '', 'the thread link does not keep the name filter');
      client.stdin!.end('again\n');
      assert.equal((await clientDone).code, 0);
      await panel.getByLabel('Find in rows').fill(`TID=${pid} FUNCTION=sys_sendto DIRECTION=return`);
      assert.equal((await pollValue(() => shownOf(panel), (s) => s.shown >= 2)).shown, 2, 'the second sendto, seen through the thread link');
    } finally {
      client.kill();
      await clientDone;
    }
    await stop(panel);
    await panel.getByLabel('Find in rows').fill('');
  });

  test('Packets: with Processes, each packet\'s PID in the table; pcapng export that tcpdump reads back, the PID in each comment', async (t) => {
    if (!need(t, 'root') || !need(t, 'chromium')) return;
    const panel = await tab('Packets');
    await panel.getByLabel('Interface').selectOption('lo');
    const P = nextPort();
    await panel.getByLabel('Filter').fill(`udp port ${P}`);
    await panel.getByLabel('Both directions').setChecked(false); // the links above turned it on
    await panel.getByLabel('Processes').check();
    await panel.getByRole('button', { name: 'Start' }).click();
    await panel.getByText(/^Running: libpcap on lo/).waitFor({ timeout: 20_000 });
    const sender = peer('udp-send', '127.0.0.1', String(P), '12', '300', '500');
    const senderPid = sender.child.pid!;
    const senderComm = readFileSync(`/proc/${senderPid}/comm`, 'utf8').trim(); // spawn returned after exec
    await sender.done;
    // The counters are one click away (the tab leads with its health line).
    await showCounters(panel);
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
    await stop(panel);
    await panel.getByLabel('Processes').uncheck();
  });

  test('Overview, keyboard shortcuts and the help panel; the Drops card and its last minute', async (t) => {
    if (!need(t, 'root') || !need(t, 'chromium')) return;
    await page.keyboard.press('Escape');
    await page.locator('body').click({ position: { x: 5, y: 790 } });
    await page.keyboard.press('?');
    await page.getByRole('dialog', { name: 'Keyboard shortcuts' }).waitFor();
    await page.keyboard.press('Escape');
    // 6 opens Drops, x clears it (the last minute is then this test's alone), s starts it, 1 opens the Overview.
    await page.keyboard.press('6');
    const drops = await opened('Drops');
    await page.keyboard.press('x');
    assert.equal((await pollValue(() => shownOf(drops), (s) => s.held === 0)).held, 0, 'x cleared the rows');
    await page.keyboard.press('s');
    await drops.getByText(/^Running: tracefs/).waitFor({ timeout: 20_000 }); // not "Running: starting…": then the probe reads nothing yet
    await showCounters(drops);
    const P = nextPort();
    // Three bursts of 200, each once the probe has read it (the counter counts every drop on the machine: a sync, not the check).
    for (let i = 1; i <= 3; i++) {
      await peer('udp-send', '127.0.0.1', String(P), '200', '10').done;
      await pollValue(async () => Number(await drops.locator('[data-counter="drops"]').textContent()), (n) => n >= 200 * i);
    }
    await page.keyboard.press('1');
    const overview = page.getByRole('region', { name: 'Overview' });
    const card = overview.getByRole('button', { name: 'Drops overview' });
    await card.getByText('running', { exact: true }).waitFor();
    assert.match((await card.locator('.rate b').textContent()) ?? '', /^\d+(\.\d+)?[kMG]?$/, 'a rate while running');
    // The last minute's drops: exactly the 600 sent, at the UDP receive path with no socket.
    const line = overview.getByRole('listitem').filter({ hasText: 'at __udp4_lib_rcv (NO_SOCKET)' });
    const text = await pollValue(async () => ((await line.count()) === 1 ? ((await line.textContent()) ?? '') : `${await line.count()} lines`), (s) => s.startsWith('600 at'));
    assert.match(text, /^600 at __udp4_lib_rcv \(NO_SOCKET\): /);
    await page.screenshot({ path: path.join(ROOT, 'docs', 'overview.png') });

    // The card opens its tab; stopped, the card says so and shows no rate.
    await card.click();
    await opened('Drops');
    await page.keyboard.press('s');
    await drops.getByRole('button', { name: 'Start' }).waitFor();
    await page.keyboard.press('1');
    await card.getByText('stopped', { exact: true }).waitFor();
    assert.equal(await card.locator('.rate b').textContent(), '–');
  });
});
