// Running test/helpers/polkit-host.ts as the test user (or as root) and
// reading what it reports.

import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';
import { ROOT, sleep } from './run.ts';

const TSX = pathToFileURL(path.join(ROOT, 'node_modules', 'tsx', 'dist', 'loader.mjs')).href;
const HOST = path.join(ROOT, 'test', 'helpers', 'polkit-host.ts');

export interface Host {
  child: ChildProcess;
  events: object[];
  /** The payload of the next event with this key (or one seen already). */
  next(key: string, timeoutMs: number): Promise<unknown>;
  exited: Promise<void>;
  stderr(): string;
}

/** As `user` (uid/gid), or as ourselves when it is null. */
export function startHost(user: { uid: number; gid: number } | null, collector: string, port: number, mode = 'plain', ...extra: string[]): Host {
  const child = spawn(process.execPath, ['--import', TSX, HOST, collector, String(port), mode, ...extra], {
    ...(user ? { uid: user.uid, gid: user.gid } : {}),
    cwd: '/tmp',
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: '/tmp' },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const events: object[] = [];
  let err = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  createInterface({ input: child.stdout! }).on('line', (l) => {
    try {
      events.push(JSON.parse(l) as object);
    } catch {
      err += `${l}\n`;
    }
  });
  const exited = new Promise<void>((r) => child.on('close', () => r()));
  return {
    child,
    events,
    exited,
    stderr: () => err,
    async next(key, timeoutMs) {
      const end = Date.now() + timeoutMs;
      while (Date.now() < end) {
        const e = events.find((x) => key in x);
        if (e) return (e as Record<string, unknown>)[key];
        if (child.exitCode !== null) break;
        await sleep(10);
      }
      throw new Error(`host never reported ${key}; events ${JSON.stringify(events)}; stderr: ${err.slice(-1500)}`);
    },
  };
}

export const alive = (pid: number) => existsSync(`/proc/${pid}`) && !/^State:\s+Z/m.test(status(pid));
function status(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return 'State: Z';
  }
}

export async function until(cond: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms: ${what}`);
    await sleep(10);
  }
}
