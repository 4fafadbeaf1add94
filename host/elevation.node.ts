// Starting the collector as root from a user's session, through sudo-prompt:
// the polkit dialog (pkexec) or kdesudo. No Electron here, so the real path is
// tested in plain Node (test/integration/elevation.test.ts) with real pkexec.
//
// What sudo-prompt does on Linux, and what follows from it:
//   sh -c 'cd "<cwd>"; /usr/bin/pkexec --disable-internal-agent /bin/bash -c "echo SUDOPROMPT; <command>"'
// - pkexec resets the environment (keeping PKEXEC_UID) and the working
//   directory (it becomes /root): the command carries absolute paths only, the
//   owner's uid as an argument, and ELECTRON_RUN_AS_NODE for Electron's binary;
// - <command> passes through two shells (sh, then bash): every word is checked
//   against a short set of safe characters and single-quoted, and nothing from
//   a request or a packet is ever part of it;
// - sudo-prompt answers only when the command exits, that is when the
//   collector does: success is the collector connecting back to our socket;
//   the answer tells a refused dialog, a missing agent, a missing pkexec and a
//   collector that failed apart, each with its own message.

import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sudo from 'sudo-prompt';
import type { LaunchPlan, Launcher } from './collector-link.node.ts';

export type ElevationFailure = 'refused' | 'no-agent' | 'no-pkexec' | 'failed';

/** What the user reads for each way the elevation can fail. */
export const ELEVATION_MESSAGES: Record<Exclude<ElevationFailure, 'failed'>, string> = {
  refused: 'User did not grant permission. The administrator dialog was cancelled or refused, so the collector was not started.',
  'no-agent':
    'No polkit authentication agent is running, so the administrator password cannot be asked for. Start your desktop session\'s polkit agent (for example polkit-gnome or polkit-kde-agent), or run NetProbes as root.',
  'no-pkexec': 'Neither pkexec nor kdesudo is installed, so NetProbes cannot ask for administrator rights. Install pkexec (apt-get install pkexec), or run NetProbes as root.',
};

const FAILED_TO_START = 'The collector failed to start as administrator: ';

/** The binaries sudo-prompt looks for, in its order. */
const PROMPTERS = ['/usr/bin/kdesudo', '/usr/bin/pkexec'];
const ENV = '/usr/bin/env';
/** Characters a word of the command may hold: it goes through sh and bash (see above). */
const SAFE_WORD = /^[A-Za-z0-9_./+,:@%=-]+$/;

/**
 * Inside an AppImage, Electron's binary and the collector live in a FUSE mount
 * that only the user can read — root cannot. So root runs the AppImage file
 * itself (its runtime mounts it again, for root, and sets APPDIR), as Node,
 * and this constant loader finds the collector in that mount. (Node's `-e`
 * leaves no script in argv: the loader puts a placeholder where it would be.)
 */
export interface AppImage {
  /** The .AppImage file ($APPIMAGE). */
  file: string;
  /** Where the user's own mount of it is ($APPDIR). */
  dir: string;
}
const appImageLoader = (rel: string) => `process.argv.splice(1,0,"collector");require(require("path").join(process.env.APPDIR,"${rel}"))`;

/** The command run as root: absolute paths and arguments only. Throws on a plan that could not be passed safely. */
export function elevationCommand(plan: LaunchPlan, appImage: AppImage | null = null): string {
  const paths: [string, string][] = [['runtime', plan.node], ['collector', plan.collectorScript], ['socket', plan.socket]];
  if (appImage) paths.push(['AppImage', appImage.file], ['AppImage mount', appImage.dir]);
  for (const [what, p] of paths) {
    if (!path.isAbsolute(p)) throw new Error(`the collector's ${what} path must be absolute: ${p}`);
    if (!SAFE_WORD.test(p)) throw new Error(`the collector's ${what} path has characters that cannot be passed to pkexec: ${JSON.stringify(p)}`);
  }
  if (!Number.isInteger(plan.ownerUid) || plan.ownerUid < 0) throw new Error(`bad owner uid ${plan.ownerUid}`);
  // The uid is an argument, not "$PKEXEC_UID": the outer shell would expand that, to nothing.
  const args = ['--socket', plan.socket, '--owner-uid', String(plan.ownerUid)];
  let words: string[];
  if (appImage) {
    const rel = path.relative(appImage.dir, plan.collectorScript);
    if (rel.startsWith('..') || path.isAbsolute(rel)) throw new Error(`the collector ${plan.collectorScript} is not inside the AppImage's ${appImage.dir}`);
    // The loader is ours and constant but for `rel`, checked above; it holds `"`, which sudo-prompt escapes for its outer shell.
    words = [ENV, 'ELECTRON_RUN_AS_NODE=1', appImage.file, '-e', appImageLoader(rel), '--', ...args];
  } else {
    words = [ENV, 'ELECTRON_RUN_AS_NODE=1', plan.node, plan.collectorScript, ...args];
  }
  return words.map((w) => `'${w}'`).join(' ');
}

/** This process's AppImage, if it runs from one and the collector is inside it. */
export function runningAppImage(env: NodeJS.ProcessEnv, collectorScript: string): AppImage | null {
  const file = env.APPIMAGE;
  const dir = env.APPDIR;
  if (!file || !dir || !collectorScript.startsWith(dir + path.sep)) return null;
  return { file, dir };
}

/** The signal of a shell's exit status above 128, as its name. */
function describeExit(code: unknown): string {
  if (typeof code !== 'number') return 'it exited';
  const signal = code > 128 ? Object.entries(os.constants.signals).find(([, n]) => n === code - 128)?.[0] : undefined;
  return signal ? `it was killed (${signal})` : `it exited with code ${code}`;
}

/**
 * sudo-prompt's answer → what happened. null: the command (the collector) ran
 * and exited cleanly. sudo-prompt sets "User did not grant permission." and
 * "No polkit authentication agent found." only when it knows the command was
 * never elevated; anything else after elevation is the collector's own failure.
 */
export function classifyElevation(error: (Error & { code?: unknown }) | null | undefined, stderr: string): { kind: ElevationFailure; message: string } | null {
  if (!error) return null;
  const msg = error.message;
  if (msg === 'User did not grant permission.') return { kind: 'refused', message: ELEVATION_MESSAGES.refused };
  if (msg === 'No polkit authentication agent found.') return { kind: 'no-agent', message: ELEVATION_MESSAGES['no-agent'] };
  if (/Unable to find pkexec or kdesudo/.test(msg)) return { kind: 'no-pkexec', message: ELEVATION_MESSAGES['no-pkexec'] };
  const last = stderr
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .pop();
  return { kind: 'failed', message: `${FAILED_TO_START}${last ?? describeExit(error.code)}` };
}

export interface ElevatedLauncherOptions {
  /** The name sudo-prompt shows ("NetProbes wants to make changes"): letters, digits and spaces. */
  name?: string;
  /** Called with the classified failure (also the launcher's exit reason). */
  onFailure?: (kind: ElevationFailure, message: string) => void;
  /** Where to look for $APPIMAGE and $APPDIR (default: this process's environment). */
  env?: NodeJS.ProcessEnv;
}

/** A Launcher that asks for administrator rights through sudo-prompt. */
export function elevatedLauncher(opts: ElevatedLauncherOptions = {}): Launcher {
  return (plan, log) => {
    let connected = false;
    const exited = new Promise<string | null>((resolve) => {
      const fail = (kind: ElevationFailure, message: string) => {
        log(`elevation: ${kind}: ${message}`);
        opts.onFailure?.(kind, message);
        resolve(message);
      };
      // sudo-prompt finds this out too, but only after a round trip; say it at once.
      if (!PROMPTERS.some((p) => existsSync(p))) return fail('no-pkexec', ELEVATION_MESSAGES['no-pkexec']);
      let command: string;
      try {
        command = elevationCommand(plan, runningAppImage(opts.env ?? process.env, plan.collectorScript));
      } catch (e) {
        return fail('failed', `${FAILED_TO_START}${(e as Error).message}`);
      }
      sudo.exec(command, { name: opts.name ?? 'NetProbes' }, (error, _stdout, stderr) => {
        for (const line of String(stderr ?? '').split('\n')) if (line) log(line);
        const outcome = classifyElevation(error as (Error & { code?: unknown }) | undefined, String(stderr ?? ''));
        if (!outcome) resolve(null);
        else if (connected) resolve(outcome.message.replace(FAILED_TO_START, 'The collector stopped: '));
        else fail(outcome.kind, outcome.message);
      });
    });
    // A root collector cannot be signalled from here; closing the socket is what ends it.
    return { exited, kill: () => {}, connected: () => void (connected = true) };
  };
}
