// Running the real `netprobes` command and real processes from tests.

import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { reachableByOthers } from './env.ts';

export const ROOT = path.resolve(import.meta.dirname, '..', '..');
export const CLI = path.join(ROOT, 'bin', 'netprobes.js');

export interface Finished {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export function collect(child: ChildProcess): Promise<Finished> {
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

/** Runs `netprobes ...args` to completion (callers give --duration or send a signal). */
export function netprobes(args: string[], opts: { uid?: number; gid?: number } = {}): { child: ChildProcess; done: Promise<Finished> } {
  if (opts.uid !== undefined) reachableByOthers();
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
  return { child, done: collect(child) };
}

/** Resolves when `text` has appeared on the child's stdout or stderr. */
export function waitForOutput(child: ChildProcess, pattern: RegExp, timeoutMs = 10_000): Promise<string> {
  return new Promise((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${pattern}; saw: ${seen.slice(-500)}`)), timeoutMs);
    const on = (d: Buffer | string) => {
      seen += String(d);
      const m = pattern.exec(seen);
      if (m) {
        clearTimeout(timer);
        resolve(m[0]);
      }
    };
    child.stdout?.on('data', on);
    child.stderr?.on('data', on);
  });
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Runs a command to completion; throws with its stderr on a non-zero exit. */
export async function sh(cmd: string, args: string[]): Promise<string> {
  const r = await collect(spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] }));
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
  return r.stdout;
}
