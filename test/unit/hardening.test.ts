// The Electron shell's hardening, checked without Electron's binary: each
// checklist decision in electron/main/security.ts, that main.ts wires those
// decisions in (and nothing that undoes them), the preload's surface, and the
// elevation command that crosses two shells into root.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { build } from 'esbuild';
import { directEnv } from '../../host/collector-link.node.ts';
import { classifyElevation, ELEVATION_MESSAGES, elevationCommand, runningAppImage } from '../../host/elevation.node.ts';
import {
  allowNavigation,
  allowPermission,
  collectorScriptPath,
  CSP,
  isOurPage,
  resolveAppRequest,
  SCHEME_PRIVILEGES,
  START_URL,
  webPreferences,
  windowOpenAction,
} from '../../electron/main/security.ts';
import { ROOT } from '../helpers/run.ts';

const MAIN = readFileSync(path.join(ROOT, 'electron', 'main', 'main.ts'), 'utf8');
const PRELOAD = readFileSync(path.join(ROOT, 'electron', 'preload', 'preload.ts'), 'utf8');
const DIR = '/opt/NetProbes/resources/app.asar/dist/renderer';

interface MainRun {
  dir: string;
  beforeReady: { windows: number; ipc: number; protocols: number };
  sandboxEnabled: boolean;
  schemes: unknown[];
  windows: { options: { webPreferences: unknown }; loaded: string[] }[];
  navigation: Record<string, unknown>;
  permissions: Record<string, { request: unknown; check: unknown }>;
  protocolAnswers: Record<'index' | 'traversal' | 'otherHost' | 'post', { status: number; csp: string | null; body: string }> | null;
  requests: Record<'ours' | 'subframe' | 'foreign' | 'malformed' | 'unknownType', string> | null;
}

/** Bundles the real main.ts with `electron` replaced by test/helpers/fake-electron.ts and runs it in a child process. */
async function runMainWithFakeElectron(): Promise<MainRun> {
  const dir = mkdtempSync(path.join(tmpdir(), 'np-main-'));
  try {
    mkdirSync(path.join(dir, 'renderer'));
    writeFileSync(path.join(dir, 'renderer', 'index.html'), '<!doctype html><p>ours</p>');
    writeFileSync(path.join(dir, 'secret.txt'), 'not to be served');
    await build({
      entryPoints: [path.join(ROOT, 'test', 'helpers', 'electron-main-driver.ts')],
      bundle: true,
      platform: 'node',
      format: 'cjs',
      outfile: path.join(dir, 'main.js'),
      alias: { electron: path.join(ROOT, 'test', 'helpers', 'fake-electron.ts') },
      external: ['cap'],
      logLevel: 'silent',
    });
    const out = execFileSync(process.execPath, [path.join(dir, 'main.js')], { encoding: 'utf8', timeout: 20_000 });
    return { dir, ...(JSON.parse(out) as Omit<MainRun, 'dir'>) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('Electron security checklist', () => {
  test('webPreferences: no Node, context isolation, sandbox, web security, no insecure content, no experimental features, no <webview>', () => {
    const p = webPreferences('/x/preload.js');
    assert.deepEqual(
      { ...p },
      {
        preload: '/x/preload.js',
        contextIsolation: true,
        sandbox: true,
        nodeIntegration: false,
        nodeIntegrationInWorker: false,
        nodeIntegrationInSubFrames: false,
        webSecurity: true,
        allowRunningInsecureContent: false,
        experimentalFeatures: false,
        webviewTag: false,
        navigateOnDragDrop: false,
        spellcheck: false,
      },
    );
    assert.ok(!('enableBlinkFeatures' in p));
  });

  test('main.ts, run against a recording Electron: every decision wired in and effective', async () => {
    const m = await runMainWithFakeElectron();
    // Registered before ready, as Electron requires for schemes and the sandbox.
    assert.deepEqual(m.beforeReady, { windows: 0, ipc: 0, protocols: 0 });
    assert.equal(m.sandboxEnabled, true);
    assert.deepEqual(m.schemes, [{ scheme: 'app', privileges: { ...SCHEME_PRIVILEGES } }]);
    assert.equal(m.windows.length, 1);
    assert.deepEqual(m.windows[0]!.options.webPreferences, { ...webPreferences(path.join(m.dir, 'preload.js')) });
    assert.deepEqual(m.windows[0]!.loaded, [START_URL]);
    assert.deepEqual(m.navigation, { navigateAway: true, navigateOwn: true, redirect: true, webview: true, windowOpen: { action: 'deny' } });
    for (const [p, a] of Object.entries(m.permissions)) assert.deepEqual(a, { request: false, check: false }, p);
    assert.deepEqual(m.protocolAnswers!.index, { status: 200, csp: CSP, body: '<!doctype html><p>ours</p>' });
    for (const k of ['traversal', 'otherHost', 'post'] as const) assert.equal(m.protocolAnswers![k].status, 404, k);
    assert.equal(m.requests!.ours, 'ok');
    assert.match(m.requests!.subframe, /unexpected frame/);
    assert.match(m.requests!.foreign, /unexpected frame/);
    assert.match(m.requests!.malformed, /^error: /);
    assert.match(m.requests!.unknownType, /^error: /);
  });

  test('main.ts uses nothing that would undo a decision', () => {
    for (const bad of ['file://', 'loadFile', 'nodeIntegration: true', 'contextIsolation: false', 'sandbox: false', 'webSecurity: false', 'openExternal', 'enableBlinkFeatures', 'bypassCSP', 'allowpopups', 'registerFileProtocol', "from 'electron/main'", 'remote']) {
      assert.ok(!MAIN.includes(bad), `main.ts must not use ${bad}`);
    }
    assert.equal(START_URL, 'app://netprobes/index.html');
    assert.deepEqual({ ...SCHEME_PRIVILEGES }, { standard: true, secure: true, supportFetchAPI: true });
  });

  test('CSP: our own files only, no inline script or eval, no plugins, no framing', () => {
    const d = Object.fromEntries(CSP.split(';').map((x) => x.trim().split(/\s+/)).map(([k, ...v]) => [k!, v.join(' ')]));
    assert.equal(d['default-src'], "'self'");
    assert.equal(d['script-src'], "'self'");
    assert.equal(d['object-src'], "'none'");
    assert.equal(d['frame-ancestors'], "'none'");
    assert.equal(d['base-uri'], "'none'");
    assert.equal(d['form-action'], "'none'");
    assert.doesNotMatch(CSP, /unsafe-inline|unsafe-eval|\*|http:|https:/);
  });

  test('app:// serves only files inside the renderer directory, for GET, from our host', () => {
    assert.equal(resolveAppRequest('app://netprobes/', 'GET', DIR), `${DIR}/index.html`);
    assert.equal(resolveAppRequest('app://netprobes/index.html', 'GET', DIR), `${DIR}/index.html`);
    assert.equal(resolveAppRequest('app://netprobes/app.js?v=1#x', 'GET', DIR), `${DIR}/app.js`);
    // The URL parser itself folds a `..` segment (also `%2e%2e`) (it cannot climb above the root), so these stay inside.
    for (const url of ['app://netprobes/../main.js', 'app://netprobes/a/../../index.html', 'app://netprobes/%2e%2e/main.js']) {
      const r = resolveAppRequest(url, 'GET', DIR);
      assert.ok(r === null || r.startsWith(`${DIR}/`), `${url} → ${r}`);
    }
    for (const url of [
      'app://netprobes/%2e%2e%2fmain.js',
      'app://netprobes/x/%2E%2E%2F%2E%2E%2Fcollector.js',
      'app://netprobes/..%5c..%5cmain.js',
      'app://netprobes/%2Fetc%2Fpasswd',
      'app://netprobes/index.html%00.js',
      'app://netprobes/%E0%A4%A',
      'app://netprobes/preload',
      'app://netprobes/secret.node',
      'app://evil/index.html',
      'app://user:pw@netprobes/index.html',
      'file:///etc/passwd',
      'https://netprobes/index.html',
      'not a url',
    ]) {
      assert.equal(resolveAppRequest(url, 'GET', DIR), null, url);
    }
    assert.equal(resolveAppRequest('app://netprobes/index.html', 'POST', DIR), null);
  });

  test('IPC: only our top-level page may call', () => {
    assert.equal(isOurPage('app://netprobes/index.html', true), true);
    assert.equal(isOurPage('app://netprobes/', true), true);
    assert.equal(isOurPage('app://netprobes/index.html', false), false, 'a subframe');
    for (const u of ['app://netprobes.evil/index.html', 'app://evil/index.html', 'https://netprobes/index.html', 'file:///index.html', 'app://netprobes/other.html', 'about:blank', '', undefined]) {
      assert.equal(isOurPage(u, true), false, String(u));
    }
  });

  test('no navigation, no new windows, no external URLs, no permissions', () => {
    for (const u of ['https://example.com/', 'app://netprobes/index.html', 'file:///etc/passwd', 'javascript:alert(1)']) {
      assert.equal(allowNavigation(u), false);
      assert.deepEqual(windowOpenAction(u), { action: 'deny' });
    }
    for (const p of ['media', 'geolocation', 'notifications', 'clipboard-read', 'openExternal', 'fullscreen', 'hid', 'serial', 'usb']) {
      assert.equal(allowPermission(p), false, p);
    }
  });

  test('the preload exposes one small API and requires nothing but electron (a sandboxed preload)', async () => {
    assert.equal((PRELOAD.match(/exposeInMainWorld\(/g) ?? []).length, 1);
    assert.match(PRELOAD, /exposeInMainWorld\('netprobes', api\)/);
    assert.doesNotMatch(PRELOAD, /exposeInMainWorld\([^)]*ipcRenderer/);
    assert.deepEqual([...PRELOAD.matchAll(/ipcRenderer\.(\w+)/g)].map((m) => m[1]).sort(), ['invoke', 'on', 'removeListener']);
    const out = await build({ entryPoints: [path.join(ROOT, 'electron', 'preload', 'preload.ts')], bundle: true, write: false, platform: 'node', format: 'cjs', external: ['electron'], logLevel: 'silent' });
    const code = out.outputFiles[0]!.text;
    assert.deepEqual([...new Set([...code.matchAll(/require\("([^"]+)"\)/g)].map((m) => m[1]))], ['electron']);
  });

  test('the collector runs from outside the asar archive in a package, next to main.js otherwise', () => {
    assert.equal(collectorScriptPath('/opt/NetProbes/resources/app.asar/dist'), '/opt/NetProbes/resources/app.asar.unpacked/dist/collector.js');
    assert.equal(collectorScriptPath('/work/main/dist'), '/work/main/dist/collector.js');
    assert.equal(collectorScriptPath('/x/app.asarx/dist'), '/x/app.asarx/dist/collector.js');
  });
});

describe('the elevation command (it crosses sh and bash into root)', () => {
  const plan = { node: '/opt/NetProbes/netprobes', collectorScript: '/opt/NetProbes/resources/app.asar.unpacked/dist/collector.js', socket: '/tmp/netprobes-Ab1_x/collector.sock', ownerUid: 1000 };

  test('absolute paths, each word single-quoted, the owner uid as an argument, Electron run as Node', () => {
    assert.equal(
      elevationCommand(plan),
      "'/usr/bin/env' 'ELECTRON_RUN_AS_NODE=1' '/opt/NetProbes/netprobes' '/opt/NetProbes/resources/app.asar.unpacked/dist/collector.js' '--socket' '/tmp/netprobes-Ab1_x/collector.sock' '--owner-uid' '1000'",
    );
    assert.doesNotMatch(elevationCommand(plan), /\$/);
  });

  test('refuses what it could not pass safely', () => {
    assert.throws(() => elevationCommand({ ...plan, socket: 'relative/c.sock' }), /must be absolute/);
    assert.throws(() => elevationCommand({ ...plan, node: 'node' }), /must be absolute/);
    for (const bad of ['/tmp/a b/c.sock', '/tmp/$(id)/c.sock', '/tmp/`id`/c', "/tmp/a'b/c", '/tmp/a"b/c', '/tmp/a\\b', '/tmp/a;b', '/tmp/a\nb', '/tmp/$PKEXEC_UID']) {
      assert.throws(() => elevationCommand({ ...plan, socket: bad }), /cannot be passed to pkexec/, bad);
    }
    assert.throws(() => elevationCommand({ ...plan, ownerUid: -1 }), /owner uid/);
  });

  test('from an AppImage: root runs the AppImage file, and a constant loader finds the collector in its own mount', () => {
    const appImage = { file: '/home/u/Apps/NetProbes-0.1.0-x86_64.AppImage', dir: '/tmp/.mount_NetProAbC123' };
    const p = { ...plan, node: `${appImage.dir}/netprobes`, collectorScript: `${appImage.dir}/resources/app.asar.unpacked/dist/collector.js` };
    assert.equal(
      elevationCommand(p, appImage),
      `'/usr/bin/env' 'ELECTRON_RUN_AS_NODE=1' '${appImage.file}' '-e' 'process.argv.splice(1,0,"collector");require(require("path").join(process.env.APPDIR,"resources/app.asar.unpacked/dist/collector.js"))' '--' '--socket' '/tmp/netprobes-Ab1_x/collector.sock' '--owner-uid' '1000'`,
    );
    assert.throws(() => elevationCommand({ ...p, collectorScript: '/opt/elsewhere/collector.js' }, appImage), /not inside the AppImage/);
    assert.deepEqual(runningAppImage({ APPIMAGE: appImage.file, APPDIR: appImage.dir }, p.collectorScript), appImage);
    assert.equal(runningAppImage({}, p.collectorScript), null);
    assert.equal(runningAppImage({ APPIMAGE: appImage.file, APPDIR: appImage.dir }, plan.collectorScript), null, 'a collector outside the mount');
  });

  test("sudo-prompt's answers become distinct messages", () => {
    assert.equal(classifyElevation(null, ''), null);
    assert.deepEqual(classifyElevation(new Error('User did not grant permission.'), ''), { kind: 'refused', message: ELEVATION_MESSAGES.refused });
    assert.match(ELEVATION_MESSAGES.refused, /^User did not grant permission\./);
    assert.equal(classifyElevation(new Error('No polkit authentication agent found.'), '')!.kind, 'no-agent');
    assert.equal(classifyElevation(new Error('Unable to find pkexec or kdesudo.'), '')!.kind, 'no-pkexec');
    assert.deepEqual(classifyElevation(Object.assign(new Error('Command failed: …'), { code: 2 }), 'netprobes collector: refusing /x: not a private (0700) directory of uid 1000\n'), {
      kind: 'failed',
      message: 'The collector failed to start as administrator: netprobes collector: refusing /x: not a private (0700) directory of uid 1000',
    });
    assert.match(classifyElevation(Object.assign(new Error('Command failed'), { code: 137 }), '')!.message, /killed \(SIGKILL\)/);
    assert.match(classifyElevation(Object.assign(new Error('Command failed'), { code: 1 }), '')!.message, /exited with code 1/);
    const kinds = new Set(Object.values(ELEVATION_MESSAGES));
    assert.equal(kinds.size, 3);
  });

  test('a collector we start ourselves as root is not told another user asked', () => {
    const env = directEnv({ PATH: '/usr/bin', SUDO_UID: '1000', SUDO_USER: 'u', SUDO_GID: '1000', PKEXEC_UID: '1000', NODE_OPTIONS: '--require /tmp/x.js' });
    assert.deepEqual(env, { PATH: '/usr/bin', ELECTRON_RUN_AS_NODE: '1' });
  });
});
