// Least privilege for the collector. Started as root with every capability, it
// splits in two at once:
//  - the supervisor (this process) does what needs more than the probes do —
//    mounts tracefs if it is absent (CAP_SYS_ADMIN) and removes instances left
//    by dead runs — then starts the collector proper through setpriv(1) and
//    waits. It reads nothing from the host, the network or the kernel's event
//    streams: its only inputs are its child's exit and the names in tracefs's
//    instances directory. When the child dies, however it dies (SIGKILL too),
//    it removes that child's tracefs instances at once, then exits with the
//    child's status — so sudo-prompt and the host see the collector's exit;
//  - the collector proper runs with only COLLECTOR_CAPABILITIES in its
//    effective, permitted and bounding sets, no_new_privs set, and a parent-death
//    signal so it never outlives the supervisor. That process is the one that
//    takes the host's commands and decodes packets and trace pages.
// Why setpriv and not a capset() call in-process: capabilities are per thread,
// and Node's worker and libuv threads exist before any of our code runs;
// dropping them for the main thread alone would leave the others privileged.
// A fresh exec through setpriv confines every thread there will ever be,
// with no native module. See THREAT_MODEL.md for what each capability allows.

import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import type net from 'node:net';
import { removeStaleInstances, tracefsRoot } from '../kernel/tracefs/instance.node.ts';
import { SUPERVISED_ENV } from '../kernel/tracefs/reaper.node.ts';

/** The capabilities the running probes need, and why; nothing else survives the exec. */
export const COLLECTOR_CAPABILITIES = {
  net_raw: 'open libpcap packet sockets (tcpdump, nettop)',
  dac_read_search: "read other users' /proc/PID/fd directories to find socket owners (nettop, tcp-connections, socket-trace)",
  sys_ptrace: "resolve /proc/PID/fd/N links of other users' and of privileged processes (the kernel's ptrace read check)",
  syslog: 'read real addresses in /proc/kallsyms to name drop locations (dropwatch)',
} as const;

/**
 * The argument that tells a collector it runs confined, its host's connection
 * handed over as fd 3 by the supervisor (which connected while it could still
 * reach the user's private socket directory). Set by the supervisor, never by a host.
 */
export const CONFINED_FLAG = '--confined';
export const CONNECTION_FD = 3;

const SETPRIV = ['/usr/bin/setpriv', '/bin/setpriv'];

/** setpriv's arguments: the same short list for the bounding, inheritable and ambient sets, no_new_privs, die with the parent. */
export function setprivArgs(): string[] {
  const caps = ['-all', ...Object.keys(COLLECTOR_CAPABILITIES).map((c) => `+${c}`)].join(',');
  return ['--bounding-set', caps, '--inh-caps', caps, '--ambient-caps', caps, '--no-new-privs', '--pdeathsig', 'SIGTERM'];
}

/** Where there is something to drop: as root, with setpriv at hand (else a warning, and the collector runs unconfined). */
export function confinementTool(log: (line: string) => void): string | null {
  if (process.getuid?.() !== 0) return null;
  const setpriv = SETPRIV.find((p) => existsSync(p)) ?? null;
  if (!setpriv) log('warning: setpriv (util-linux) is missing, so the collector keeps every root capability; install util-linux');
  return setpriv;
}

/**
 * The supervisor: prepares what needs full root, starts the confined collector
 * with the same arguments and the host's connection, and waits for it.
 */
export function superviseConfined(setpriv: string, argv: string[], conn: net.Socket, log: (line: string) => void): void {
  try {
    removeStaleInstances(tracefsRoot()); // mounts tracefs if absent: the confined collector cannot
  } catch {
    /* no tracefs: the tracefs probes say so when started */
  }
  const child = spawn(setpriv, [...setprivArgs(), process.execPath, __filename, ...argv, CONFINED_FLAG], {
    stdio: ['ignore', 'inherit', 'inherit', conn],
    env: { ...process.env, [SUPERVISED_ENV]: '1' },
  });
  conn.destroy(); // the child holds its own copy; the supervisor reads nothing from the host
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, () => child.kill(sig));
  child.on('error', (e) => {
    log(`cannot start the confined collector through ${setpriv}: ${e.message}`);
    process.exit(2);
  });
  child.on('exit', (code, signal) => {
    // A collector that was killed left its instances behind, events enabled: take them down now.
    try {
      for (const name of removeStaleInstances()) log(`removed tracefs instance ${name} of the stopped collector`);
    } catch {
      /* no tracefs */
    }
    if (code !== null) process.exit(code);
    // End the way the collector ended, so the host can say "killed (SIGKILL)".
    process.removeAllListeners(signal!);
    process.kill(process.pid, signal!);
  });
}
