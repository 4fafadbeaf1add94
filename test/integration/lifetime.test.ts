// The collector's lifetime: it lives exactly as long as its host. However the
// host ends — here the worst case, SIGKILL, which runs no cleanup at all — the
// kernel closes the host's end of the socket and the collector is gone within
// 2 s, started directly (host as root) or through pkexec (host as a user), with
// no process of the chain left behind. And when the collector dies, the GUI
// says so and its restart works (Chromium against `netprobes serve`).

import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { chromium } from 'playwright-core';
import { Session } from '../../host/session.node.ts';
import { CHROMIUM, need } from '../helpers/env.ts';
import { processesWith, setUpPolkit } from '../helpers/polkit.ts';
import { alive, startHost, until } from '../helpers/polkit-run.ts';
import { netprobes, ROOT, waitForOutput } from '../helpers/run.ts';

const COLLECTOR = path.join(ROOT, 'dist', 'collector.js');

test('host SIGKILLed (collector started directly, as root): the collector is gone within 2 s', async (t) => {
  if (!need(t, 'root')) return;
  const host = startHost(null, COLLECTOR, 9);
  t.after(() => host.child.kill('SIGKILL'));
  const started = (await host.next('started', 15_000)) as { pid: number; elevation: string };
  assert.equal(started.elevation, 'direct');
  assert.ok(alive(started.pid));
  host.child.kill('SIGKILL');
  const t0 = Date.now();
  await until(() => !alive(started.pid), 2000, 'collector gone after its host was SIGKILLed');
  t.diagnostic(`collector gone ${Date.now() - t0} ms after SIGKILL of its host`);
});

test('host SIGKILLed (collector started through pkexec, host a user): the root collector and the whole chain are gone within 2 s', async (t) => {
  if (!need(t, 'root')) return;
  const pk = await setUpPolkit(t);
  if (!pk) return;
  t.after(() => pk.cleanup());
  await pk.answer('YES');
  const host = startHost(pk, COLLECTOR, 9);
  const started = (await host.next('started', 15_000)) as { pid: number; elevated: boolean };
  assert.equal(started.elevated, true);
  host.child.kill('SIGKILL');
  const t0 = Date.now();
  await until(() => !alive(started.pid), 2000, 'root collector gone after its host was SIGKILLed');
  t.diagnostic(`root collector gone ${Date.now() - t0} ms after SIGKILL of its host`);
  // sh → pkexec → bash → collector: every link ends with the collector.
  await until(() => pk.userProcesses().length === 0, 2000, `no process of ${pk.user} left`);
  assert.deepEqual(processesWith(COLLECTOR, `--owner-uid ${pk.uid} `), []);
});

test('collector killed: the session says it crashed, and a restart brings a new one', async (t) => {
  if (!need(t, 'root')) return;
  const session = new Session({ collectorScript: COLLECTOR, frontEnd: 'browser', elevatedLauncher: null, saveFile: null });
  t.after(() => session.shutdown());
  await session.handle({ type: 'start', probe: 'tcpdump', options: { ifaces: ['lo'], filter: 'udp port 9', bothDirections: false } });
  const pid = session.state.collector.pid!;
  process.kill(pid, 'SIGKILL');
  await until(() => session.state.collector.status === 'crashed', 2000, 'crash noticed');
  assert.match(session.state.collector.problem!, /SIGKILL/);
  assert.equal(session.state.probes.tcpdump.running, false);
  assert.match(session.state.probes.tcpdump.problem!.message, /the collector stopped/);
  await session.handle({ type: 'restartCollector' });
  assert.equal(session.state.collector.status, 'running');
  assert.notEqual(session.state.collector.pid, pid);
});

test('collector killed: the browser GUI says so and its "Restart collector" works', async (t) => {
  if (!need(t, 'root') || !need(t, 'chromium')) return;
  const server = netprobes(['serve']);
  t.after(async () => {
    server.child.kill('SIGINT');
    await server.done;
  });
  const url = await waitForOutput(server.child, /http:\/\/127\.0\.0\.1:\d+\/\?token=[0-9a-f]+/);
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'] });
  t.after(() => browser.close());
  const page = await browser.newPage();
  await page.goto(url);
  await page.getByRole('tab', { name: /^Packets/ }).click();
  const panel = page.getByRole('region', { name: 'Packets' });
  await panel.getByLabel('Interface').selectOption('lo');
  await panel.getByLabel('Filter').fill('udp port 9');
  await panel.getByRole('button', { name: /^Start/ }).click();
  const status = page.getByRole('status', { name: 'collector status' });
  const running = await status.getByText(/running as root \(pid \d+\)/).textContent({ timeout: 20_000 });
  const pid = Number(/pid (\d+)/.exec(running!)![1]);

  process.kill(pid, 'SIGKILL');
  await status.getByText('stopped unexpectedly').waitFor({ timeout: 3000 });
  await status.getByText(/SIGKILL/).waitFor();
  await status.getByRole('button', { name: 'Restart collector' }).click();
  const again = await status.getByText(/running as root \(pid \d+\)/).textContent({ timeout: 20_000 });
  assert.notEqual(Number(/pid (\d+)/.exec(again!)![1]), pid);
  await status.getByRole('button', { name: 'Restart collector' }).waitFor({ state: 'detached' });
});
