// The real elevation path, without a person at the password dialog (a text
// session cannot authenticate: "No session for cookie"): the system bus and polkitd (started here if they are not
// running), a throwaway user, and a rule file in /etc/polkit-1/rules.d that
// answers org.freedesktop.policykit.exec for that user — YES stands in for a
// granted dialog, NO for a refused one, AUTH_ADMIN (with no agent running) for
// a session without a polkit agent. Everything made here is removed by
// cleanup(): the rule, the user, its processes, and the daemons we started.

import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import type { TestContext } from 'node:test';
import { NO_SKIP, reachableByOthers } from './env.ts';
import { sleep } from './run.ts';

const PKEXEC = '/usr/bin/pkexec';
const POLKITD = '/usr/lib/polkit-1/polkitd';
const DBUS_SOCKET = '/run/dbus/system_bus_socket';
const RULES_DIR = '/etc/polkit-1/rules.d';

export type Answer = 'YES' | 'NO' | 'AUTH_ADMIN';

export interface Polkit {
  user: string;
  uid: number;
  gid: number;
  /** Writes the rule and waits until pkexec, run as the user, behaves accordingly. */
  answer(result: Answer): Promise<void>;
  /** Pids of every process running as the test user. */
  userProcesses(): number[];
  cleanup(): Promise<void>;
}

/** Null (and the test skipped, or failed in CI) when pkexec or polkitd is missing. */
export async function setUpPolkit(t: TestContext): Promise<Polkit | null> {
  const missing = [PKEXEC, POLKITD, '/usr/bin/dbus-daemon', '/usr/sbin/useradd'].filter((p) => !existsSync(p));
  if (missing.length) {
    const why = `needs ${missing.join(', ')} (apt-get install pkexec policykit-1 dbus)`;
    if (NO_SKIP) throw new Error(`${why}, and skips are failures in CI`);
    t.skip(why);
    return null;
  }
  const started: number[] = [];
  if (!(await connectable(DBUS_SOCKET))) {
    mkdirSync('/run/dbus', { recursive: true });
    rmSync(DBUS_SOCKET, { force: true });
    rmSync('/run/dbus/pid', { force: true });
    const r = spawnSync('dbus-daemon', ['--system', '--fork', '--print-pid'], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`dbus-daemon --system failed: ${r.stderr}`);
    started.push(Number(r.stdout.trim()));
    for (let i = 0; i < 100 && !(await connectable(DBUS_SOCKET)); i++) await sleep(20);
  }
  if (!processesNamed('polkitd').length) {
    const child = spawn(POLKITD, ['--no-debug'], { detached: true, stdio: 'ignore' });
    child.unref();
    started.push(child.pid!);
  }

  const user = `npelev${process.pid % 100000}`;
  spawnSync('userdel', [user], { stdio: 'ignore' }); // a leftover of a killed run
  reachableByOthers(); // the test user's host runs from this checkout
  const add = spawnSync('useradd', ['--no-create-home', '--home-dir', '/tmp', '--shell', '/bin/sh', user], { encoding: 'utf8' });
  if (add.status !== 0) throw new Error(`useradd failed: ${add.stderr}`);
  const uid = Number(spawnSync('id', ['-u', user], { encoding: 'utf8' }).stdout.trim());
  const gid = Number(spawnSync('id', ['-g', user], { encoding: 'utf8' }).stdout.trim());
  const rule = `${RULES_DIR}/00-netprobes-test-${user}.rules`;

  const userProcesses = () =>
    readdirSync('/proc')
      .filter((d) => /^\d+$/.test(d))
      .filter((d) => {
        try {
          return statSync(`/proc/${d}`).uid === uid;
        } catch {
          return false;
        }
      })
      .map(Number);

  return {
    user,
    uid,
    gid,
    userProcesses,
    async answer(result) {
      writeFileSync(
        rule,
        `// NetProbes test (removed by the test): stands in for the password dialog.\n` +
          `polkit.addRule(function (action, subject) {\n` +
          `  if (action.id == "org.freedesktop.policykit.exec" && subject.user == "${user}") return polkit.Result.${result};\n` +
          `});\n`,
        { mode: 0o644 },
      );
      // polkitd rereads its rules on a change; wait until it answers as asked.
      const expect = { YES: /^ok$/, NO: /Not authorized/, AUTH_ADMIN: /No authentication agent/ }[result];
      let seen = '';
      for (let i = 0; i < 100; i++) {
        const r = spawnSync(PKEXEC, ['--disable-internal-agent', '/bin/echo', 'ok'], { uid, gid, cwd: '/tmp', encoding: 'utf8', timeout: 5000 });
        seen = `${r.stdout}${r.stderr}`.trim();
        if (expect.test(seen)) return;
        await sleep(50);
      }
      throw new Error(`polkit did not take the ${result} rule; pkexec said: ${seen}`);
    },
    async cleanup() {
      rmSync(rule, { force: true });
      for (const pid of userProcesses()) kill(pid);
      await sleep(100);
      spawnSync('userdel', [user], { stdio: 'ignore' });
      for (const pid of started.reverse()) kill(pid);
    },
  };
}

function kill(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

function connectable(socket: string): Promise<boolean> {
  return new Promise((resolve) => {
    const c = net.createConnection(socket);
    c.once('connect', () => (c.destroy(), resolve(true)));
    c.once('error', () => resolve(false));
  });
}

export function processesNamed(comm: string): number[] {
  return readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .filter((d) => {
      try {
        return readFileSync(`/proc/${d}/comm`, 'utf8').trim() === comm;
      } catch {
        return false;
      }
    })
    .map(Number);
}

/** Pids whose command line contains every one of `parts`. */
export function processesWith(...parts: string[]): number[] {
  return readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d) && Number(d) !== process.pid)
    .filter((d) => {
      try {
        const cmd = readFileSync(`/proc/${d}/cmdline`, 'utf8').replace(/\0/g, ' ');
        return parts.every((p) => cmd.includes(p));
      } catch {
        return false;
      }
    })
    .map(Number);
}
