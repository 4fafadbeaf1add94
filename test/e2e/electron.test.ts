// The real desktop app, driven by Playwright's Electron support under Xvfb:
// launch it (as root here, so the collector starts directly, without a
// prompt), check the shell's hardening from inside, start the packet probe on
// lo, send UDP, see the rows, quit, and see the collector gone.
//
// It needs Electron's binary, which cannot be downloaded on the CI machines
// (ELECTRON_SKIP_BINARY_DOWNLOAD=1): there it skips and says so. On a machine
// with internet access: `npm install` (without that variable), then `npm test`.

import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { _electron as electron } from 'playwright-core';
import { electronBinary } from '../../cli/app.node.ts';
import { need } from '../helpers/env.ts';
import { alive, until } from '../helpers/polkit-run.ts';
import { ROOT, sleep } from '../helpers/run.ts';

async function startXvfb(): Promise<{ display: string; proc: ChildProcess }> {
  for (let n = 90 + Math.floor(Math.random() * 100); ; n++) {
    if (existsSync(`/tmp/.X11-unix/X${n}`) || existsSync(`/tmp/.X${n}-lock`)) continue;
    const proc = spawn('Xvfb', [`:${n}`, '-screen', '0', '1280x800x24', '-nolisten', 'tcp'], { stdio: 'ignore' });
    for (let i = 0; i < 100 && !existsSync(`/tmp/.X11-unix/X${n}`); i++) await sleep(50);
    if (existsSync(`/tmp/.X11-unix/X${n}`)) return { display: `:${n}`, proc };
    proc.kill();
  }
}

test('the desktop app: hardened window, collector started directly as root, packet probe on lo shows rows, gone on quit', async (t) => {
  const bin = electronBinary();
  if ('missing' in bin) {
    t.skip(`Electron binary not installed: ${bin.missing}`);
    return;
  }
  if (!need(t, 'root')) return;
  if (!existsSync('/usr/bin/Xvfb')) throw new Error('needs Xvfb (apt-get install xvfb)');

  const x = await startXvfb();
  t.after(() => x.proc.kill());
  const app = await electron.launch({
    executablePath: bin.path,
    // Chromium refuses to run as root without --no-sandbox; a user's app keeps the sandbox.
    args: [path.join(ROOT, 'dist', 'main.js'), '--no-sandbox'],
    env: { ...process.env, DISPLAY: x.display },
    timeout: 30_000,
  });
  let closed = false;
  t.after(async () => {
    if (!closed) await app.close();
  });
  const page = await app.firstWindow();
  assert.equal(page.url(), 'app://netprobes/index.html');

  // The shell's hardening, from inside: no Node, one bridged API, navigation refused (the rest: test/unit/hardening.test.ts).
  assert.deepEqual(
    await page.evaluate(() => ({
      require: typeof (globalThis as { require?: unknown }).require,
      process: typeof (globalThis as { process?: unknown }).process,
      api: Object.keys((globalThis as unknown as { netprobes: object }).netprobes).sort(),
    })),
    { require: 'undefined', process: 'undefined', api: ['frontEnd', 'request', 'subscribe'] },
  );
  await page.evaluate(() => void (location.href = 'https://example.com/'));
  await sleep(300);
  assert.equal(page.url(), 'app://netprobes/index.html', 'navigation refused');

  await page.getByRole('tab', { name: /^Packets/ }).click();
  const panel = page.getByRole('region', { name: 'Packets' });
  const port = 45000 + Math.floor(Math.random() * 1000);
  await panel.getByLabel('Interface').selectOption('lo');
  await panel.getByLabel('Filter').fill(`udp port ${port}`);
  await panel.getByRole('button', { name: /^Start/ }).click();
  await panel.getByText(/Running: libpcap on lo/).waitFor({ timeout: 20_000 });
  const status = page.getByRole('status', { name: 'collector status' });
  const running = await status.getByText(/running as root \(pid \d+\)/).textContent();
  const pid = Number(/pid (\d+)/.exec(running!)![1]);

  const sock = dgram.createSocket('udp4');
  for (let i = 0; i < 20; i++) await new Promise((r) => sock.send(Buffer.alloc(50), port, '127.0.0.1', r));
  sock.close();
  // The counters are one click away (the tab leads with its health line).
  await panel.getByRole('button', { name: 'Counters' }).click();
  await panel.locator('[data-counter="rows"]').getByText('20', { exact: true }).waitFor({ timeout: 10_000 });
  assert.match(readFileSync(`/proc/${pid}/cmdline`, 'utf8'), /collector\.js/);

  await app.close();
  closed = true;
  await until(() => !alive(pid), 2000, 'collector gone after the app quit');
});
