// `netprobes app` (what `npm start` runs): the desktop app where it can run —
// Electron's binary installed and a display present — and otherwise, said
// plainly, the same GUI served to a browser.

import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { DIST_DIR, parseServeArgs, serve } from './serve.node.ts';

/**
 * The Electron binary's path, or why there is none. Read from the electron
 * package's path.txt rather than by requiring the package: since Electron 3x
 * its index.js tries to download a missing binary on require, which here would
 * hit the network (and fail) on every `npm start` and test run.
 */
export function electronBinary(): { path: string } | { missing: string } {
  const missing = {
    missing: "Electron's binary is not installed (installs here set ELECTRON_SKIP_BINARY_DOWNLOAD=1; on a machine with internet access, `npm install electron` fetches it)",
  };
  let pkgDir: string;
  try {
    pkgDir = path.dirname(createRequire(path.join(DIST_DIR, '..', 'package.json')).resolve('electron/package.json'));
  } catch {
    return missing;
  }
  const pathFile = path.join(pkgDir, 'path.txt');
  if (!existsSync(pathFile)) return missing;
  const rel = readFileSync(pathFile, 'utf8').trim();
  const bin = process.env.ELECTRON_OVERRIDE_DIST_PATH ? path.join(process.env.ELECTRON_OVERRIDE_DIST_PATH, rel || 'electron') : path.join(pkgDir, 'dist', rel);
  return rel && existsSync(bin) ? { path: bin } : missing;
}

export async function startApp(argv: string[]): Promise<void> {
  const electron = electronBinary();
  const display = process.env.DISPLAY || process.env.WAYLAND_DISPLAY;
  if ('path' in electron && display) {
    const args = [path.join(DIST_DIR, 'main.js'), ...(process.getuid?.() === 0 ? ['--no-sandbox'] : []), ...argv];
    const child = spawn(electron.path, args, { stdio: 'inherit' });
    child.on('exit', (code) => process.exit(code ?? 0));
    return;
  }
  const why = 'missing' in electron ? electron.missing : 'there is no display (DISPLAY and WAYLAND_DISPLAY are unset)';
  await serve(parseServeArgs(argv), `netprobes: not starting the desktop app: ${why}.\nServing the browser UI instead.\n`);
}
