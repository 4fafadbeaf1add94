// What a test needs from its machine. Outside CI a test that needs root or a
// browser skips with the reason; in CI (NETPROBES_NO_SKIP=1, set by .ci/run)
// that skip is a failure, since CI runs as root with Chromium installed.

import type { TestContext } from 'node:test';
import { chmodSync, existsSync, statSync } from 'node:fs';
import path from 'node:path';

export const NO_SKIP = process.env.NETPROBES_NO_SKIP === '1';
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
/** How every test and bench runs Chromium: headless as root, no GPU, no traffic of its own (no QUIC, updates or sync). */
export const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/** Returns true when the test may go on; otherwise skips it (or fails it in CI). */
export function need(t: TestContext, what: 'root' | 'chromium'): boolean {
  const missing =
    what === 'root'
      ? process.getuid?.() !== 0 && 'needs root (capture, tracefs, network namespaces)'
      : !existsSync(CHROMIUM) && `needs Chromium at ${CHROMIUM} (apt-get install chromium)`;
  if (!missing) return true;
  if (NO_SKIP) throw new Error(`${missing}, and skips are failures in CI`);
  t.skip(missing);
  return false;
}

/**
 * Tests that run programs as another user (nobody, a throwaway polkit user) need
 * the checkout reachable by them. A checkout in a `mktemp -d` directory (0700)
 * is not: give "others" search permission (x, not read) on each directory above
 * the checkout that lacks it. Its own files are world-readable as git wrote them.
 */
export function reachableByOthers(dir: string = path.resolve(import.meta.dirname, '..', '..')): void {
  for (let d = dir; ; d = path.dirname(d)) {
    const mode = statSync(d).mode;
    if ((mode & 0o001) === 0) chmodSync(d, mode | 0o001);
    if (d === path.dirname(d)) return;
  }
}
