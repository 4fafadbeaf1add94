// Benchmark plumbing: processes that are always stopped, CPU from schedstat, the generator, statistics.

import { spawn, execFileSync, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const ROOT = path.resolve(import.meta.dirname, '..', '..');
/** BENCH_CLI: another build's bin/netprobes.js (e.g. a worktree of an earlier commit), for before/after figures. */
export const CLI = process.env.BENCH_CLI ?? path.join(ROOT, 'bin', 'netprobes.js');
export const WORK = mkdtempSync(path.join(os.tmpdir(), 'netprobes-bench-'));
export const GEN = path.join(WORK, 'npgen');

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

// ---------- processes: every one started is tracked and stopped on any exit path ----------

const live = new Set<ChildProcess>();
const cleanups: (() => Promise<void> | void)[] = [];

export function onCleanup(f: () => Promise<void> | void): void {
  cleanups.push(f);
}

export interface Proc {
  child: ChildProcess;
  pid: number;
  out: () => string;
  err: () => string;
  done: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resolves when stdout or stderr matches. */
  waitFor: (re: RegExp, timeoutMs?: number) => Promise<RegExpExecArray>;
  /** SIGINT (or sig), then SIGKILL after graceMs; resolves when it has exited. */
  stop: (sig?: NodeJS.Signals, graceMs?: number) => Promise<void>;
}

export function start(cmd: string, args: string[], opts: SpawnOptions = {}): Proc {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
  live.add(child);
  let out = '';
  let err = '';
  const waiters: (() => void)[] = [];
  const poke = () => waiters.slice().forEach((w) => w());
  child.stdout?.setEncoding('utf8').on('data', (d: string) => {
    out = out.length > 1 << 20 ? out.slice(-(1 << 19)) + d : out + d;
    poke();
  });
  child.stderr?.setEncoding('utf8').on('data', (d: string) => {
    err = err.length > 1 << 20 ? err.slice(-(1 << 19)) + d : err + d;
    poke();
  });
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('error', (e) => {
      err += String(e);
      live.delete(child);
      resolve({ code: -1, signal: null });
    });
    child.on('close', (code, signal) => {
      live.delete(child);
      resolve({ code, signal });
      poke();
    });
  });
  let exited = false;
  void done.then(() => (exited = true));
  const p: Proc = {
    child,
    pid: child.pid ?? -1,
    out: () => out,
    err: () => err,
    done,
    waitFor: (re, timeoutMs = 20_000) =>
      new Promise((resolve, reject) => {
        const check = () => {
          const m = re.exec(out) ?? re.exec(err);
          if (m) {
            clearTimeout(timer);
            waiters.splice(waiters.indexOf(check), 1);
            resolve(m);
          } else if (exited) {
            clearTimeout(timer);
            waiters.splice(waiters.indexOf(check), 1);
            reject(new Error(`${cmd} ${args.join(' ')} exited before ${re}: ${err.slice(-400)}`));
          }
        };
        const timer = setTimeout(() => {
          waiters.splice(waiters.indexOf(check), 1);
          reject(new Error(`timed out waiting for ${re} from ${cmd} ${args.join(' ')}: ${(out + err).slice(-400)}`));
        }, timeoutMs);
        waiters.push(check);
        check();
      }),
    stop: async (sig = 'SIGINT', graceMs = 8000) => {
      if (exited) return;
      child.kill(sig);
      const t = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await done;
      clearTimeout(t);
    },
  };
  return p;
}

export function netprobes(args: string[], opts: SpawnOptions = {}): Proc {
  return start(process.execPath, [CLI, ...args], opts);
}

let cleaning = false;
export async function cleanupAll(): Promise<void> {
  if (cleaning) return;
  cleaning = true;
  for (const f of cleanups.splice(0).reverse()) {
    try {
      await f();
    } catch {
      /* best effort */
    }
  }
  for (const c of live) c.kill('SIGINT');
  const deadline = Date.now() + 5000;
  while (live.size && Date.now() < deadline) await sleep(100);
  for (const c of live) c.kill('SIGKILL');
  rmSync(WORK, { recursive: true, force: true });
}

for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(sig, () => {
    process.stderr.write(`\nbench: ${sig}, stopping every process started\n`);
    void cleanupAll().then(() => process.exit(130));
  });
}

// ---------- CPU: /proc/PID/task/*/schedstat, first field = ns on CPU (exact, unlike utime/stime) ----------

function taskCpu(pid: number): Map<number, number> {
  const m = new Map<number, number>();
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return m;
  }
  for (const t of tids) {
    try {
      m.set(Number(t), Number(readFileSync(`/proc/${pid}/task/${t}/schedstat`, 'utf8').split(' ')[0]));
    } catch {
      /* thread gone */
    }
  }
  return m;
}

/** CPU of a process (all its threads) over a window; sampled every 200 ms so short-lived threads count too. */
export class CpuMeter {
  private first = new Map<number, number>();
  private last = new Map<number, number>();
  private timer: NodeJS.Timeout | null = null;
  private t0 = 0;
  private t1 = 0;
  constructor(readonly pid: number) {}
  begin(): void {
    this.first = taskCpu(this.pid);
    this.last = new Map(this.first);
    this.t0 = performance.now();
    this.timer = setInterval(() => this.sample(), 200);
  }
  private sample(): void {
    for (const [tid, ns] of taskCpu(this.pid)) {
      if (!this.first.has(tid)) this.first.set(tid, 0);
      this.last.set(tid, ns);
    }
  }
  end(): void {
    this.sample();
    if (this.timer) clearInterval(this.timer);
    this.t1 = performance.now();
  }
  /** Share of one core, 0..N. */
  get cores(): number {
    let ns = 0;
    for (const [tid, v] of this.last) ns += v - (this.first.get(tid) ?? 0);
    return ns / 1e6 / (this.t1 - this.t0);
  }
}

export function rssKb(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : NaN;
  } catch {
    return NaN;
  }
}

export function childrenOf(pid: number): number[] {
  try {
    return readdirSync(`/proc/${pid}/task`).flatMap((t) =>
      readFileSync(`/proc/${pid}/task/${t}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number),
    );
  } catch {
    return [];
  }
}

// ---------- the generator ----------

export function buildGenerator(): string {
  execFileSync('gcc', ['-O2', '-Wall', '-o', GEN, path.join(import.meta.dirname, 'gen.c')], { stdio: 'inherit' });
  return `gcc -O2 -o npgen test/bench/gen.c`;
}

export function gen(args: (string | number)[]): Proc {
  return start(GEN, args.map(String));
}

/** Parses the generator's `key=value` lines. */
export function kv(text: string): Record<string, number> {
  const r: Record<string, number> = {};
  for (const m of text.matchAll(/^(\w+)=([\d.]+)$/gm)) r[m[1]!] = Number(m[2]);
  return r;
}

let nextPort = 20000 + Math.floor(Math.random() * 20000);
export function port(): number {
  return nextPort++;
}

// ---------- kernel counters ----------

export function udpNoPorts(): number {
  const lines = readFileSync('/proc/net/snmp', 'utf8').split('\n').filter((l) => l.startsWith('Udp:'));
  const keys = lines[0]!.split(/\s+/);
  const vals = lines[1]!.split(/\s+/);
  return Number(vals[keys.indexOf('NoPorts')]);
}

/** Indented JSON, but each sample of a series on one line (a soak run has one a second). */
export function toJson(o: unknown): string {
  const compact: string[] = [];
  const text = JSON.stringify(
    o,
    (k, v: unknown) => (k === 'samples' && Array.isArray(v) ? v.map((x) => `\u0000${compact.push(JSON.stringify(x)) - 1}`) : v),
    2,
  );
  return text.replace(/"\\u0000(\d+)"/g, (_, i: string) => compact[Number(i)]!) + '\n';
}

// ---------- statistics ----------

export interface Stat {
  median: number;
  min: number;
  max: number;
  n: number;
}

export function stat(xs: number[]): Stat {
  const v = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (!v.length) return { median: NaN, min: NaN, max: NaN, n: 0 };
  const mid = v.length >> 1;
  const median = v.length % 2 ? v[mid]! : (v[mid - 1]! + v[mid]!) / 2;
  return { median, min: v[0]!, max: v[v.length - 1]!, n: v.length };
}

export function percentile(xs: number[], p: number): number {
  const v = xs.slice().sort((a, b) => a - b);
  if (!v.length) return NaN;
  return v[Math.min(v.length - 1, Math.max(0, Math.ceil((p / 100) * v.length) - 1))]!;
}

/** Parses the probe's end-of-run summary: `netprobes X: seen N WHAT, shown M rows, lost K (label v, ...)`. */
export function probeSummary(stderr: string): Record<string, number> {
  const m = /netprobes [\w-]+: seen (\d+)[^,]*, shown (\d+) rows, lost (\d+) \(([^)]*)\)/.exec(stderr);
  if (!m) return {};
  const r: Record<string, number> = { seen: Number(m[1]), shown: Number(m[2]), lost: Number(m[3]) };
  for (const part of m[4]!.split(', ')) {
    const mm = /^(.*) (\d+)$/.exec(part);
    if (mm) r[mm[1]!] = Number(mm[2]);
  }
  return r;
}

export function machine(): { cpu: string; cores: number; kernel: string; memGb: number; node: string } {
  const cpu = /model name\s*:\s*(.*)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? 'unknown';
  return { cpu, cores: os.cpus().length, kernel: os.release(), memGb: Math.round(os.totalmem() / 2 ** 30), node: process.version };
}

export function have(cmd: string): boolean {
  return ['/usr/bin', '/usr/sbin', '/bin', '/sbin', '/usr/local/bin'].some((d) => existsSync(path.join(d, cmd)));
}
