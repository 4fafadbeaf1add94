// The Drops tab and the Overview name the process losing packets: a UDP socket
// with a 4 KiB receive buffer that never reads, flooded on lo, shows up as a
// chip "np16-sink (PID)" under "Processes losing packets", its rows carry its
// PID and command with the plain-language explanation in the details pane, and
// the Overview's drop lines say who lost them.

import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import { need } from '../helpers/env.ts';
import { collect, ROOT } from '../helpers/run.ts';
import { openServePage, type ServePage } from '../helpers/serve-page.ts';

const PEER = path.join(ROOT, 'test', 'helpers', 'peer.mjs');

const SINK = `
import ctypes, socket, time
ctypes.CDLL(None).prctl(15, b'np16-sink', 0, 0, 0)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
s.bind(('127.0.0.1', 0))
print(s.getsockname()[1], flush=True)
time.sleep(120)
`;

describe('drops named by process in the browser', () => {
  let served: ServePage | null = null;
  let sink: ChildProcess | null = null;
  let page: Page;

  before(async () => {
    if (process.getuid?.() !== 0) return;
    served = await openServePage();
    page = served.page!;
  });
  after(async () => {
    sink?.kill('SIGKILL');
    await served?.close();
  });

  test('the Drops tab charts and lists the process, the Overview names it', async (t) => {
    if (!need(t, 'root') || !need(t, 'chromium')) return;
    sink = spawn('/usr/bin/python3', ['-c', SINK], { stdio: ['ignore', 'pipe', 'inherit'] });
    const port = Number(await new Promise<string>((r) => sink!.stdout!.once('data', (d) => r(String(d).trim()))));
    const pid = sink.pid!;

    await page.getByRole('tab', { name: /^Drops/ }).click();
    const panel = page.getByRole('region', { name: 'Drops' });
    await panel.getByLabel('interval').fill('1');
    await panel.getByRole('button', { name: 'Start' }).click();
    await panel.getByText(/^Running: tracefs tracepoint skb:kfree_skb/).waitFor({ timeout: 20_000 });
    await collect(spawn(process.execPath, [PEER, 'udp-send', '127.0.0.1', String(port), '500', '200'], { stdio: ['ignore', 'pipe', 'pipe'] }));

    const chip = panel.getByRole('group', { name: 'Processes losing packets' }).getByRole('button', { name: `np16-sink (${pid})` });
    await chip.waitFor({ timeout: 10_000 });
    await panel.getByRole('figure', { name: 'Drops per second by process (its socket\'s)' }).getByText(`np16-sink (${pid})`).first().waitFor();
    await panel.getByRole('button', { name: 'Pause' }).click();
    await chip.click();
    const row = panel.getByRole('table', { name: 'Drops rows' }).getByRole('row').nth(1);
    await row.waitFor({ timeout: 10_000 });
    const cells = await row.getByRole('cell').allInnerTexts();
    assert.ok(cells.includes(String(pid)) && cells.includes('np16-sink') && cells.includes('SOCKET_RCVBUFF'), cells.join(' | '));
    await row.click();
    const details = page.getByRole('complementary', { name: 'Details' });
    await details.getByText(`Np16-sink (PID ${pid}) does not read its socket fast enough`, { exact: false }).first().waitFor();
    await panel.getByRole('button', { name: 'Resume' }).click();

    await page.keyboard.press('1');
    const overview = page.getByRole('region', { name: 'Overview' });
    await overview.getByText(new RegExp(`SOCKET_RCVBUFF\\), lost by np16-sink \\(${pid}\\)`)).first().waitFor({ timeout: 10_000 });
    await page.getByRole('tab', { name: /^Drops/ }).click();
    await panel.getByRole('button', { name: 'Stop' }).click();
  });
});
