// A private tracefs instance (instances/<name>: its own ring buffer and its own
// event switches), so a probe never touches the global tracing state.
//
// Lifecycle, on every way out:
//  - close() (a probe's stop) disables what it enabled, closes the raw readers'
//    fds (rmdir fails with EBUSY while one is open) and removes the instance;
//  - every instance is a Disposable in core's processStore, which the process's
//    exit hook (runtime/exit.node.ts) disposes on signals, uncaught errors and,
//    synchronously, on 'exit';
//  - SIGKILL cannot be caught: a watcher that outlives the process removes its
//    instances at once (the collector's supervisor, or reaper.node.ts for the CLI);
//    and, as a second line, instances are named netprobes-<pid>-<starttime>-<seq>[-label]
//    and every start removes those whose owner (pid with that start time) is gone.

import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmdirSync, writeFileSync, constants } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { processStore, type Disposable } from '../../core/lifecycle.ts';
import { ProbeError } from '../../core/probe-error.ts';
import { parseEventFormat, parseHeaderPage, type EventFormat } from '../../core/tracefs/format.ts';
import type { PageLayout } from '../../core/tracefs/page.ts';
import { ensureReaper } from './reaper.node.ts';

const CANDIDATES = ['/sys/kernel/tracing', '/sys/kernel/debug/tracing'];
const NAME_RE = /^netprobes-(\d+)(?:-(\d+))?(?:-\d+)?(?:-[a-z]+)?$/;

function errno(e: unknown): string {
  return (e as NodeJS.ErrnoException)?.code ?? '';
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** Field 22 of /proc/<pid>/stat (start time in clock ticks since boot), or null when no such process. */
export function processStartTime(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return rest[19] ?? null; // fields from 3 on; starttime is field 22
  } catch {
    return null;
  }
}

function mountedTracefs(): string | null {
  try {
    for (const line of readFileSync('/proc/mounts', 'utf8').split('\n')) {
      const [, dir, type] = line.split(' ');
      if (type === 'tracefs' && dir && existsSync(`${dir}/instances`)) return dir;
    }
  } catch {
    /* no /proc/mounts: fall through */
  }
  for (const dir of CANDIDATES) if (existsSync(`${dir}/instances`)) return dir;
  return null;
}

/** The tracefs root, mounting tracefs at /sys/kernel/tracing if it is not mounted. */
export function tracefsRoot(): string {
  if (process.getuid?.() !== 0) {
    throw new ProbeError('privilege', 'tracefs needs root: run with sudo (or use the app, which asks for it)');
  }
  const found = mountedTracefs();
  if (found) return found;
  try {
    execFileSync('mount', ['-t', 'tracefs', 'nodev', '/sys/kernel/tracing'], { stdio: 'pipe', timeout: 5000 });
  } catch (e) {
    const msg = (e as { stderr?: Buffer }).stderr?.toString().trim() || (e as Error).message;
    throw new ProbeError(
      'feature',
      `tracefs is not mounted and could not be mounted at /sys/kernel/tracing (${msg}); ` +
        'mount it with `mount -t tracefs nodev /sys/kernel/tracing`, or use a kernel built with CONFIG_FTRACE',
    );
  }
  const now = mountedTracefs();
  if (!now) throw new ProbeError('feature', 'tracefs was mounted at /sys/kernel/tracing but has no instances directory');
  return now;
}

/** True when the instance's owner (pid, and start time when the name has it) is still running. */
function ownerAlive(name: string): boolean {
  const m = NAME_RE.exec(name);
  if (!m) return true; // not ours
  const start = processStartTime(Number(m[1]));
  if (start === null) return false;
  return m[2] === undefined || m[2] === start;
}

/** Disables everything in an instance and removes it; returns false if it could not be removed. */
function removeInstance(dir: string): boolean {
  for (const [file, value] of [
    ['tracing_on', '0'],
    ['events/enable', '0'],
    ['current_tracer', 'nop'],
  ] as const) {
    try {
      writeFileSync(`${dir}/${file}`, value);
    } catch {
      /* best effort: rmdir removes the instance's events anyway */
    }
  }
  for (let attempt = 0; attempt < 20; attempt++) {
    try {
      rmdirSync(dir);
      return true;
    } catch (e) {
      if (errno(e) === 'ENOENT') return true;
      if (errno(e) !== 'EBUSY') return false;
      sleepSync(25); // a reader's fd is being closed
    }
  }
  return false;
}

/** Removes instances left by NetProbes processes that are gone (killed with SIGKILL, say). Returns their names. */
export function removeStaleInstances(root = tracefsRoot()): string[] {
  const removed: string[] = [];
  let names: string[] = [];
  try {
    names = readdirSync(`${root}/instances`);
  } catch {
    return removed;
  }
  for (const name of names) {
    if (!NAME_RE.test(name) || ownerAlive(name)) continue;
    if (removeInstance(`${root}/instances/${name}`)) removed.push(name);
  }
  return removed;
}

const live = new Set<TracefsInstance>();
let seq = 0;

/** Closes every live instance now (what the exit hook does, for tests that act it out). */
export function closeAllTracefsInstances(): void {
  for (const inst of [...live]) inst.close();
}

export class TracefsInstance implements Disposable {
  readonly dir: string;
  private readonly fds = new Set<number>();
  private readonly enabled: string[] = [];
  private readonly closing: (() => void)[] = [];
  private closed = false;

  private constructor(
    readonly root: string,
    readonly name: string,
  ) {
    this.dir = `${root}/instances/${name}`;
  }

  /**
   * Mounts tracefs if needed, removes stale instances of dead owners, and creates a fresh instance; `label`
   * (lower-case letters) ends its name, to tell a helper instance from a probe's own.
   */
  static create(label = ''): TracefsInstance {
    const root = tracefsRoot();
    removeStaleInstances(root);
    const start = processStartTime(process.pid) ?? '0';
    const name = `netprobes-${process.pid}-${start}-${++seq}${label ? `-${label}` : ''}`;
    try {
      mkdirSync(`${root}/instances/${name}`);
    } catch (e) {
      throw new ProbeError('feature', `cannot create tracefs instance ${name}: ${(e as Error).message}`);
    }
    const inst = new TracefsInstance(root, name);
    live.add(inst);
    processStore.add(inst);
    ensureReaper(root, start);
    return inst;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** The format of an event, or a ProbeError naming the missing tracepoint. */
  eventFormat(system: string, event: string): EventFormat {
    const path = `${this.dir}/events/${system}/${event}/format`;
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch {
      throw new ProbeError(
        'feature',
        `tracepoint ${system}:${event} is missing on this kernel (no events/${system}/${event} in tracefs); ` +
          'it needs a kernel built with it (CONFIG_TRACEPOINTS' + (system === 'syscalls' ? ', CONFIG_FTRACE_SYSCALLS' : '') + ')',
      );
    }
    return parseEventFormat(text);
  }

  hasEvent(system: string, event: string): boolean {
    return existsSync(`${this.dir}/events/${system}/${event}/enable`);
  }

  pageLayout(): { layout: PageLayout; pageSize: number } {
    const hp = parseHeaderPage(readFileSync(`${this.root}/events/header_page`, 'utf8'));
    let kb = 4;
    try {
      kb = Number(readFileSync(`${this.dir}/buffer_subbuf_size_kb`, 'utf8').trim()) || 4;
    } catch {
      /* older kernels: pages are 4 KiB */
    }
    return {
      layout: { timestampOffset: hp.timestamp.offset, commitOffset: hp.commit.offset, commitSize: hp.commit.size, dataOffset: hp.data.offset },
      pageSize: kb * 1024,
    };
  }

  write(file: string, value: string): void {
    if (this.closed) throw new Error(`tracefs instance ${this.name} is closed`);
    writeFileSync(`${this.dir}/${file}`, value);
  }

  read(file: string): string {
    return readFileSync(`${this.dir}/${file}`, 'utf8');
  }

  /** Sets an event filter; a filter the kernel refuses is an input error with the kernel's reason. */
  setFilter(system: string, event: string, filter: string): void {
    try {
      this.write(`events/${system}/${event}/filter`, filter);
    } catch (e) {
      let why = '';
      try {
        why = this.read('error_log').trim().split('\n').slice(-3).join(' ');
      } catch {
        /* no error_log on old kernels */
      }
      throw new ProbeError('input', `the kernel refused the filter '${filter}' on ${system}:${event}: ${why || (e as Error).message}`);
    }
  }

  enable(system: string, event: string): void {
    this.write(`events/${system}/${event}/enable`, '1');
    this.enabled.push(`events/${system}/${event}/enable`);
  }

  cpus(): number[] {
    return readdirSync(`${this.dir}/per_cpu`)
      .map((d) => /^cpu(\d+)$/.exec(d)?.[1])
      .filter((x): x is string => x !== undefined)
      .map(Number)
      .sort((a, b) => a - b);
  }

  /** Opens a CPU's trace_pipe_raw without blocking; the fd is closed by close(). */
  openRaw(cpu: number): number {
    const fd = openSync(`${this.dir}/per_cpu/cpu${cpu}/trace_pipe_raw`, constants.O_RDONLY | constants.O_NONBLOCK);
    this.fds.add(fd);
    return fd;
  }

  closeFd(fd: number): void {
    if (!this.fds.delete(fd)) return;
    try {
      closeSync(fd);
    } catch {
      /* already closed */
    }
  }

  /** Runs `fn` just before the instance closes, however it closes (a reader's last read of its buffers). */
  beforeClose(fn: () => void): void {
    this.closing.push(fn);
  }

  dispose(): void {
    this.close();
  }

  /** Disables what this instance enabled, closes its readers and removes it. Synchronous and idempotent. */
  close(): void {
    if (this.closed) return;
    for (const fn of this.closing.splice(0)) {
      try {
        fn();
      } catch {
        /* closing goes on: the kernel state must not stay behind */
      }
    }
    this.closed = true;
    live.delete(this);
    processStore.delete(this);
    for (const file of this.enabled.splice(0)) {
      try {
        writeFileSync(`${this.dir}/${file}`, '0');
      } catch {
        /* removed with the instance below */
      }
    }
    for (const fd of [...this.fds]) this.closeFd(fd);
    if (!removeInstance(this.dir)) {
      process.stderr.write(`netprobes: could not remove tracefs instance ${this.dir}; the next start removes it\n`);
    }
  }
}
