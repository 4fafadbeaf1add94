// What a test needs from its machine. Outside CI a test that needs root or a
// browser skips with the reason; in CI (NETPROBES_NO_SKIP=1, set by .ci/run)
// that skip is a failure, since CI runs as root with Chromium installed.

import type { TestContext } from 'node:test';
import { existsSync } from 'node:fs';

export const NO_SKIP = process.env.NETPROBES_NO_SKIP === '1';
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

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
