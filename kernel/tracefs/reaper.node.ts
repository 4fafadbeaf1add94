// A lifeline for the tracefs instances of a process that can die by SIGKILL
// (the CLI run as root; the collector has its supervisor, see confine.node.ts).
// A tiny shell, in its own session so a terminal's Ctrl-C does not reach it,
// holds the read end of a pipe whose write end only this process has (libuv
// opens it close-on-exec). When this process dies, however it dies, the kernel
// closes the pipe, `cat` returns, and the shell disables and removes every
// instance named after this process (pid and start time: a reused pid does not
// match). On a normal exit the instances are gone already and it finds none.

import { spawn } from 'node:child_process';
import type net from 'node:net';

const SCRIPT = `cat >/dev/null
for d in "$1"/instances/netprobes-"$2"-"$3"-*; do
  [ -d "$d" ] || continue
  echo 0 > "$d/tracing_on"; echo 0 > "$d/events/enable"
  i=0
  until rmdir "$d" 2>/dev/null || [ $i -ge 40 ]; do sleep 0.05; i=$((i + 1)); done
done`;

/** Set by the collector's supervisor, which does this job itself. */
export const SUPERVISED_ENV = 'NETPROBES_SUPERVISED';

let started = false;

/** Starts the reaper once per process; later calls do nothing. */
export function ensureReaper(root: string, startTime: string): void {
  if (started || process.env[SUPERVISED_ENV] === '1') return;
  started = true;
  try {
    const child = spawn('/bin/sh', ['-c', SCRIPT, 'netprobes-reaper', root, String(process.pid), startTime], {
      detached: true,
      stdio: ['pipe', 'ignore', 'ignore'],
    });
    child.on('error', () => {}); // no /bin/sh: the next start's cleanup remains
    child.unref();
    (child.stdin as net.Socket).unref();
  } catch {
    /* the next start's cleanup of dead owners' instances remains */
  }
}
