// The real elevation path as a user sees it, minus the dialog itself: an
// unprivileged user's host (test/helpers/polkit-host.ts) asks through
// sudo-prompt and real pkexec/polkitd — a polkit rule answers in place of the
// person (test/helpers/polkit.ts) — for the real collector (dist/collector.js),
// which checks the socket is the asking user's, connects back and serves. Each
// refusal comes back within a second with its own message and leaves nothing
// running.

import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { need } from '../helpers/env.ts';
import { processesWith, setUpPolkit, type Polkit } from '../helpers/polkit.ts';
import { ROOT } from '../helpers/run.ts';
import { alive, startHost, until } from '../helpers/polkit-run.ts';

const COLLECTOR = path.join(ROOT, 'dist', 'collector.js');

/**
 * A collector that refuses to start has to boot first (a Node process as
 * root): 0.3–0.6 s here, but over 1 s on a loaded 2-vCPU machine, so its bound
 * is looser than a refused dialog's (30–70 ms).
 */
const FAILED_START_MS = 2500;

async function nothingLeft(pk: Polkit) {
  await until(() => pk.userProcesses().length === 0, 2000, `no process of ${pk.user} left (${pk.userProcesses().join(' ')})`);
  assert.deepEqual(processesWith(COLLECTOR, `--owner-uid ${pk.uid} `), [], 'no collector of this user left');
}

test('elevation through sudo-prompt with real pkexec and polkit', async (t) => {
  if (!need(t, 'root')) return;
  const pk = await setUpPolkit(t);
  if (!pk) return;
  t.after(() => pk.cleanup());
  // A subtest that fails leaves its host running: end it before the next one counts processes.
  t.afterEach(() => {
    for (const pid of pk.userProcesses()) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
  });

  await t.test('granted: the root collector connects back, serves real rows, and is gone within 2 s of the host closing', async () => {
    await pk.answer('YES');
    const port = 44000 + Math.floor(Math.random() * 1000);
    const host = startHost(pk, COLLECTOR, port);
    const started = (await host.next('started', 15_000)) as { ms: number; pid: number; elevated: boolean; elevation: string };
    assert.equal(started.elevation, 'prompt', 'a user\'s host asks');
    assert.equal(started.elevated, true);
    const status = readFileSync(`/proc/${started.pid}/status`, 'utf8');
    assert.match(status, /^Uid:\s+0\s/m, 'the collector runs as root');
    assert.ok(processesWith(COLLECTOR, '--owner-uid', String(pk.uid)).includes(started.pid), 'started with the user\'s uid as its owner');
    t.diagnostic(`elevated start took ${started.ms} ms`);

    await until(() => host.events.some((e) => (e as { capturing?: boolean }).capturing), 10_000, 'the probe capturing');
    const sock = dgram.createSocket('udp4');
    for (let i = 0; i < 20; i++) await new Promise((r) => sock.send(Buffer.alloc(32), port, '127.0.0.1', r));
    sock.close();
    await until(() => host.events.some((e) => (e as { rows?: number }).rows === 20), 5000, '20 rows through the elevated collector');

    host.child.stdin!.write('close\n');
    const t0 = Date.now();
    await until(() => !alive(started.pid), 2000, 'collector gone after the host closed its socket');
    t.diagnostic(`collector gone ${Date.now() - t0} ms after the host closed`);
    await host.exited;
    await nothingLeft(pk);
  });

  await t.test('from an AppImage: root runs the AppImage file itself, whose own mount has the collector', async () => {
    // A stand-in AppImage: like the real runtime, it sets APPDIR to its mount and runs the app's binary (here Node).
    const base = mkdtempSync('/tmp/np-appimage-');
    t.after(() => rmSync(base, { recursive: true, force: true }));
    const appDir = path.join(base, 'mount');
    mkdirSync(path.join(appDir, 'resources', 'app.asar.unpacked'), { recursive: true });
    symlinkSync(path.join(ROOT, 'dist'), path.join(appDir, 'resources', 'app.asar.unpacked', 'dist'));
    const file = path.join(base, 'NetProbes.AppImage');
    writeFileSync(file, `#!/bin/sh\nAPPDIR=${appDir} exec ${process.execPath} "$@"\n`, { mode: 0o755 });
    chmodSync(base, 0o755);
    await pk.answer('YES');
    const host = startHost(pk, path.join(appDir, 'resources', 'app.asar.unpacked', 'dist', 'collector.js'), 9, 'appimage', file, appDir);
    const started = (await host.next('started', 15_000)) as { pid: number; elevated: boolean };
    assert.equal(started.elevated, true);
    // The collector runs confined under its supervisor (confine.node.ts): the supervisor is what root started from the AppImage.
    const supervisor = Number(/^PPid:\s*(\d+)$/m.exec(readFileSync(`/proc/${started.pid}/status`, 'utf8'))![1]);
    const cmdline = readFileSync(`/proc/${supervisor}/cmdline`, 'utf8').split('\0');
    assert.deepEqual(cmdline.slice(1, 3), ['-e', 'process.argv.splice(1,0,"collector");require(require("path").join(process.env.APPDIR,"resources/app.asar.unpacked/dist/collector.js"))']);
    assert.deepEqual(cmdline.slice(3, 8), ['--', '--socket', cmdline[5], '--owner-uid', String(pk.uid)]);
    const confined = readFileSync(`/proc/${started.pid}/cmdline`, 'utf8').split('\0');
    assert.deepEqual(confined.slice(2, 7), ['--socket', cmdline[5], '--owner-uid', String(pk.uid), '--confined']);
    assert.match(readFileSync(`/proc/${started.pid}/status`, 'utf8'), /^NoNewPrivs:\s+1$/m);
    host.child.stdin!.write('close\n');
    await until(() => !alive(started.pid), 2000, 'collector gone after the host closed its socket');
    await host.exited;
    await nothingLeft(pk);
  });

  const refusals = [
    { name: 'refused (the dialog cancelled or the password wrong)', answer: 'NO', mode: 'plain', within: 1000, message: /^User did not grant permission\./ },
    { name: 'no polkit agent to ask for the password', answer: 'AUTH_ADMIN', mode: 'plain', within: 1000, message: /^No polkit authentication agent is running/ },
    {
      name: 'collector failed to start: --owner-uid is not the user pkexec says asked',
      answer: 'YES',
      mode: 'wrong-owner',
      within: FAILED_START_MS,
      message: /^The collector failed to start as administrator: .*--owner-uid \d+ is not the user who asked for administrator rights \(PKEXEC_UID \d+\)/,
    },
    {
      name: 'collector failed to start: a socket not in the asking user\'s private directory',
      answer: 'YES',
      mode: 'foreign-socket',
      within: FAILED_START_MS,
      message: /^The collector failed to start as administrator: .*refusing \/run\/dbus: not a private \(0700\) directory of uid \d+/,
    },
  ] as const;
  for (const r of refusals) {
    // Speed is measured, not asserted (a loaded machine is slower): the time is reported beside the target.
    await t.test(`${r.name}: its own message, nothing left running`, async () => {
      await pk.answer(r.answer);
      const host = startHost(pk, COLLECTOR, 9, r.mode);
      const failed = (await host.next('failed', 20_000)) as { ms: number; message: string; problem: string };
      assert.match(failed.message, r.message);
      assert.equal(failed.problem, failed.message, 'the session shows the same message');
      t.diagnostic(`${r.answer}/${r.mode}: ${failed.ms} ms (target ${r.within} ms): ${failed.message}`);
      host.child.stdin!.end();
      await host.exited;
      await nothingLeft(pk);
    });
  }
});
