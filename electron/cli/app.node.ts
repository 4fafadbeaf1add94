// `netprobes app` (what `npm start` runs): the desktop app where it can run —
// Electron's binary installed and a display present — and otherwise, said
// plainly, the same GUI served to a browser.

import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { DIST_DIR, parseServeArgs, serve } from './serve.node.ts';

/** The Electron binary's path, or why there is none. */
export function electronBinary(): { path: string } | { missing: string } {
  try {
    const req = createRequire(path.join(DIST_DIR, '..', 'package.json'));
    const bin = req('electron') as unknown;
    if (typeof bin === 'string' && existsSync(bin)) return { path: bin };
  } catch {
    // The package throws when its binary was never downloaded.
  }
  return { missing: "Electron's binary is not installed (installs here set ELECTRON_SKIP_BINARY_DOWNLOAD=1; on a machine with internet access, `npm install electron` fetches it)" };
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
