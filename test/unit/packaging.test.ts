// The package configuration, checked where the packages cannot be built
// (Electron's binary cannot be downloaded here): electron-builder.yml passes
// electron-builder's own schema validation, and says what NetProbes needs —
// AppImage and deb, the collector at a fixed path outside the asar archive,
// cap rebuilt for Electron, the fuses, the desktop entry, the icons, the deb's
// dependencies.

import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { describe, test } from 'node:test';
import yaml from 'js-yaml';
import { ROOT } from '../helpers/run.ts';

type Config = Record<string, unknown> & {
  files: string[];
  asarUnpack: string[];
  electronFuses: Record<string, boolean>;
  linux: { target: string[]; icon: string; executableName: string; category: string; desktop: { entry: Record<string, string> } };
  deb: { depends: string[] };
};
const config = yaml.load(readFileSync(path.join(ROOT, 'electron-builder.yml'), 'utf8')) as Config;

describe('electron-builder configuration', () => {
  test("passes electron-builder's own validation", async () => {
    // app-builder-lib is electron-builder's engine (its dependency, pinned by it).
    const req = createRequire(require_resolve('electron-builder'));
    const { validateConfiguration } = req('app-builder-lib/out/util/config/config') as { validateConfiguration: (c: unknown, l: unknown) => Promise<void> };
    const { DebugLogger } = req('builder-util') as { DebugLogger: new (enabled: boolean) => unknown };
    await validateConfiguration(structuredClone(config), new DebugLogger(false));
    await assert.rejects(validateConfiguration({ ...structuredClone(config), linux: { ...config.linux, bogus: 1 } }, new DebugLogger(false)), /configuration object that does not match/);
  });

  test('an AppImage and a deb, from the bundles in dist/', () => {
    assert.deepEqual(config.linux.target, ['AppImage', 'deb']);
    assert.ok(config.files.includes('dist/**/*'));
    assert.equal(config.asar, true);
    assert.equal(JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')).main, 'dist/main.js');
  });

  test('the collector and cap unpacked to a fixed path; cap rebuilt for Electron', () => {
    assert.deepEqual(config.asarUnpack, ['dist/collector.js', 'node_modules/cap/**/*']);
    assert.equal(config.npmRebuild, true);
    assert.equal(config.buildDependenciesFromSource, true);
    const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
    assert.ok(pkg.dependencies.cap, 'cap is a production dependency, so it is packaged and rebuilt');
    assert.ok(pkg.devDependencies.electron, 'electron is a dev dependency (electron-builder requires it there)');
  });

  test('fuses: runAsNode kept for the collector (THREAT_MODEL.md says why), every other way to run foreign code closed', () => {
    assert.deepEqual(config.electronFuses, {
      runAsNode: true,
      enableCookieEncryption: true,
      enableNodeOptionsEnvironmentVariable: false,
      enableNodeCliInspectArguments: false,
      enableEmbeddedAsarIntegrityValidation: true,
      onlyLoadAppFromAsar: true,
      loadBrowserProcessSpecificV8Snapshot: false,
      grantFileProtocolExtraPrivileges: false,
    });
    assert.match(readFileSync(path.join(ROOT, 'THREAT_MODEL.md'), 'utf8'), /ELECTRON_RUN_AS_NODE/);
  });

  test('desktop entry: the config and resources/netprobes.desktop agree; the icons exist at every size', () => {
    const file = readFileSync(path.join(ROOT, 'resources', 'netprobes.desktop'), 'utf8');
    assert.match(file, /^\[Desktop Entry\]\n/);
    const entry = Object.fromEntries(
      file
        .split('\n')
        .filter((l) => l.includes('='))
        .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
    );
    for (const [k, v] of Object.entries(config.linux.desktop.entry)) assert.equal(entry[k], v, k);
    assert.equal(entry.Type, 'Application');
    assert.equal(entry.Exec, `${config.linux.executableName} %U`);
    assert.match(entry.Categories!, /^Network;/);
    assert.equal(config.linux.category, 'Network');
    for (const size of [16, 32, 48, 64, 128, 256, 512]) {
      const png = readFileSync(path.join(ROOT, config.linux.icon, `${size}x${size}.png`));
      assert.equal(png.subarray(1, 4).toString(), 'PNG');
      assert.deepEqual([png.readUInt32BE(16), png.readUInt32BE(20)], [size, size], `${size}x${size}.png`);
    }
    assert.ok(existsSync(path.join(ROOT, 'resources', 'icon.svg')));
  });

  test('the deb depends on libpcap and pkexec besides Electron\'s own libraries', () => {
    assert.ok(config.deb.depends.includes('libpcap0.8 | libpcap0.8t64'));
    assert.ok(config.deb.depends.includes('pkexec | policykit-1'));
    for (const lib of ['libgtk-3-0', 'libnss3', 'libxss1', 'libxtst6', 'libatspi2.0-0']) assert.ok(config.deb.depends.includes(lib), lib);
  });
});

function require_resolve(id: string): string {
  return createRequire(path.join(ROOT, 'package.json')).resolve(`${id}/package.json`);
}
