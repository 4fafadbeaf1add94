// Soak: 10⁶ short-lived TCP connections on loopback through nettop, run the way the app runs it: the host session
// (host/session.node.ts, in its own process: soak-host.ts) starting the real collector (dist/collector.js,
// which supervises the confined collector proper) and nettop in it. Every second: the RSS of the host, the
// supervisor and the collector proper (/proc/PID/status VmRSS), the probe's counters (its `counters` events, as the
// host gets them), TIME_WAIT sockets, and — unless --no-gauges — the sizes of nettop's bounded tables, read from the
// running collector through its inspector (see Gauges below).

import { createWriteStream, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { build } from 'esbuild';
import WebSocket from 'ws';
import { childrenOf, CLI, gen, kv, port, rssKb, sleep, start, WORK, type Proc } from './lib.ts';

export interface SoakGauges {
  /** Largest sizes seen since the previous sample (nettop's engine, sampled each time it settles held packets, ~25/s). */
  flows: number;
  heldFlows: number;
  /** Packets waiting in held flows (counted), and of them those kept one by one (at most 16 per flow). */
  heldPackets: number;
  heldKept: number;
  /** Interval tables open. */
  tables: number;
  /** The tracepoints' recent endpoints: keys (bound 16,384) and entries (at most 8 per key). */
  recentKeys: number;
  recentEntries: number;
  /** The collector's own account of its memory (process.memoryUsage(), KiB), largest in the window: JS heap, and outside it. */
  heapUsedKb: number;
  heapTotalKb: number;
  externalKb: number;
  arrayBuffersKb: number;
}

export interface SoakSample {
  /** Seconds since the load began. */
  t: number;
  /** Connections made so far (the generator's progress, once a second). */
  connections: number;
  collectorRssKb: number;
  /** Of the collector's RSS: anonymous memory, and the part of it in the C heap (the brk area, glibc's main arena). */
  collectorAnonKb: number;
  collectorBrkKb: number;
  supervisorRssKb: number;
  hostRssKb: number;
  /** TCP sockets in TIME_WAIT (/proc/net/sockstat): what every /proc scan reads through. */
  timeWait: number;
  /** The probe's counters, as last reported to the host. */
  counters: Record<string, number>;
  gauges: SoakGauges | null;
}

export interface SoakResult {
  /** When, and the commit of the build measured. */
  date: string;
  commit: string;
  target: number;
  workers: number;
  /** Requested rate (0 = as fast as the generator can). */
  rate: number;
  maxSeconds: number;
  connections: number;
  failed: number;
  seconds: number;
  connRate: number;
  /** Until the probe's last table was in, and the collector stopped. */
  totalSeconds: number;
  source: string;
  collectorScript: string;
  gauges: 'inspector' | string;
  samples: SoakSample[];
  /** The counters after the stop. */
  final: Record<string, number>;
  /** Packets in nettop's rows: to the generator's workers and server, to PID 0, to PID -1, to any other PID. */
  packets: { ours: number; kernel: number; unknown: number; other: number };
  rows: number;
  tables: number;
  idle: { collectorRssKb: number; supervisorRssKb: number; hostRssKb: number };
}

/** The host, bundled as the CLI is (esbuild, CommonJS, plain Node): `node soak-host.js`. */
async function buildHost(): Promise<string> {
  const out = path.join(WORK, 'soak-host.js');
  await build({
    entryPoints: [path.join(import.meta.dirname, 'soak-host.ts')],
    outfile: out,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    bundle: true,
    external: ['cap', 'electron'],
    logLevel: 'warning',
  });
  return out;
}

/** Anonymous RSS, and RSS of the [heap] mapping (malloc's main arena), from /proc/PID/smaps. */
function anonAndBrk(pid: number): { anon: number; brk: number } {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/smaps`, 'utf8');
  } catch {
    return { anon: NaN, brk: NaN };
  }
  let anon = 0;
  let brk = NaN;
  let inBrk = false;
  for (const line of text.split('\n')) {
    if (/^[0-9a-f]+-[0-9a-f]+ /.test(line)) inBrk = line.endsWith('[heap]');
    else if (line.startsWith('Anonymous:')) anon += Number(line.slice(10).trim().split(' ')[0]);
    else if (inBrk && line.startsWith('Rss:')) brk = Number(line.slice(4).trim().split(' ')[0]);
  }
  return { anon, brk };
}

/** The counters kept in each sample (all of them are in the result's `final`). */
export const SAMPLE_COUNTERS = ['attributed', 'unknown', 'held', 'holdOverflow', 'traceEvicted', 'traceOverruns', 'kernelDrops', 'frames', 'scans', 'scanMs', 'shed'];

export function pickCounters(c: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const k of SAMPLE_COUNTERS) if (k in c) out[k] = c[k]!;
  return out;
}

function timeWait(): number {
  try {
    return Number(/\btw (\d+)/.exec(readFileSync('/proc/net/sockstat', 'utf8'))?.[1] ?? NaN);
  } catch {
    return NaN;
  }
}

// ---------- Gauges: nettop's table sizes, from the running collector ----------
//
// The probe's counters say how many packets were held and whether a bound was hit (hold overflow, trace evicted),
// not how full its tables are. To read that from the real process, the collector's inspector is opened (SIGUSR1:
// Node listens on 127.0.0.1:9229, as root's process only root can ask for). A conditional breakpoint at the top of
// NettopEngine.settle(), hit once and then removed with the debugger turned off, hands over the engine; settle is then
// wrapped on that one object by plain JavaScript that notes the largest sizes seen (it runs each time the trace is
// read, ~25 times a second; the held packets are summed at most every 200 ms), and once a second the bench reads and
// resets them, with process.memoryUsage(), through Runtime.evaluate. A first version kept the breakpoint's condition
// doing that work: the collector's C heap then grew ~3 MiB a minute (the condition compiled at each hit), with
// nothing of the kind without the inspector; this one leaves its memory as it was. --no-gauges runs without it.

const ENGINE = '__npSoakEngine';
const GAUGE = '__npSoakGauge';
const GRAB_CONDITION = `(globalThis.${ENGINE} ??= this, false)`;
const INSTALL = `(() => {
  const e = globalThis.${ENGINE};
  const fresh = () => ({ flows: 0, heldFlows: 0, heldPackets: 0, heldKept: 0, tables: 0, recentKeys: 0, recentEntries: 0 });
  const G = (globalThis.${GAUGE} = { sumAt: 0, m: fresh(), fresh });
  const note = (x) => {
    const m = G.m;
    if (x.flows.size > m.flows) m.flows = x.flows.size;
    if (x.held.size > m.heldFlows) m.heldFlows = x.held.size;
    if (x.tables.size > m.tables) m.tables = x.tables.size;
    const r = x.opts.recent;
    if (r && r.keys) { if (r.keys.size > m.recentKeys) m.recentKeys = r.keys.size; if (r.entries > m.recentEntries) m.recentEntries = r.entries; }
    const now = Date.now();
    if (x.held.size && now - G.sumAt >= 200) {
      G.sumAt = now;
      let pk = 0, kept = 0;
      for (const h of x.held.values()) { for (const c of h.counts) pk += c.pk; if (h.packets) kept += h.packets.length; }
      if (pk > m.heldPackets) m.heldPackets = pk;
      if (kept > m.heldKept) m.heldKept = kept;
    }
  };
  G.note = note;
  const settle = Object.getPrototypeOf(e).settle;
  e.settle = function () { note(this); return settle.call(this); };
  return true;
})()`;
const READ = `(() => {
  const G = globalThis.${GAUGE};
  G.note(globalThis.${ENGINE});
  const m = G.m;
  G.m = G.fresh();
  const u = process.memoryUsage();
  return JSON.stringify({ ...m, heapUsedKb: u.heapUsed >> 10, heapTotalKb: u.heapTotal >> 10, externalKb: u.external >> 10, arrayBuffersKb: u.arrayBuffers >> 10 });
})()`;

class Gauges {
  /** Largest since the last take() (a read answered late, while the collector was busy, counts in the next window). */
  private window: SoakGauges | null = null;
  private reading = 0;
  call: (method: string, params?: object) => Promise<Record<string, unknown>> = () => Promise.reject(new Error('not attached'));
  private chunk: ((s: string) => void) | null = null;
  private constructor(private readonly ws: WebSocket) {}

  /** A heap snapshot of the collector (V8 collects garbage first, so it holds only what is live) written to file. */
  async snapshot(file: string): Promise<void> {
    const out = createWriteStream(file);
    this.chunk = (s) => out.write(s);
    try {
      await this.call('HeapProfiler.takeHeapSnapshot', { reportProgress: false });
    } finally {
      this.chunk = null;
      await new Promise((r) => out.end(r));
    }
  }

  /** Asks for the sizes (not waiting: a collector that is busy answers when it can; at most a few asks queued). */
  read(): void {
    if (this.reading >= 3) return;
    this.reading++;
    void this.call('Runtime.evaluate', { expression: READ, returnByValue: true })
      .then((r) => {
        const v = (r.result as { value?: unknown } | undefined)?.value;
        if (typeof v === 'string') this.note(JSON.parse(v) as SoakGauges);
      })
      .catch(() => undefined)
      .finally(() => this.reading--);
  }

  take(): SoakGauges | null {
    const w = this.window;
    this.window = null;
    return w;
  }

  private note(g: SoakGauges): void {
    const w = this.window;
    this.window = w ? (Object.fromEntries(Object.entries(w).map(([k, v]) => [k, Math.max(v, g[k as keyof SoakGauges])])) as unknown as SoakGauges) : { ...g };
  }

  /** Opens the collector's inspector (it says where on its stderr, which the host relays) and installs the gauges. */
  static async attach(collectorPid: number, host: Proc, collectorScript: string): Promise<Gauges> {
    const mark = host.err().length;
    process.kill(collectorPid, 'SIGUSR1');
    const end = Date.now() + 10_000;
    let url: string | null = null;
    while (!url && Date.now() < end) {
      const text = host.err().slice(mark);
      if (/Starting inspector on .* failed/.test(text)) throw new Error(`the collector's inspector could not listen: ${text.trim().split('\n').pop()}`);
      url = /Debugger listening on (ws:\/\/\S+)/.exec(text)?.[1] ?? null;
      if (!url) await sleep(100);
    }
    if (!url) throw new Error('the collector did not open its inspector within 10 s');
    const ws = new WebSocket(url);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    const g = new Gauges(ws);
    let id = 0;
    const waiting = new Map<number, { resolve: (v: Record<string, unknown>) => void; reject: (e: Error) => void }>();
    const scripts: { scriptId: string; url: string }[] = [];
    ws.on('message', (data) => {
      const m = JSON.parse(String(data)) as { id?: number; result?: Record<string, unknown>; error?: { message: string }; method?: string; params?: Record<string, unknown> };
      if (m.id !== undefined) {
        const w = waiting.get(m.id);
        waiting.delete(m.id);
        if (m.error) w?.reject(new Error(m.error.message));
        else w?.resolve(m.result ?? {});
      } else if (m.method === 'Debugger.scriptParsed') {
        scripts.push(m.params as { scriptId: string; url: string });
      } else if (m.method === 'HeapProfiler.addHeapSnapshotChunk') {
        g.chunk?.((m.params as { chunk: string }).chunk);
      }
    });
    ws.on('close', () => {
      for (const w of waiting.values()) w.reject(new Error('inspector closed'));
      waiting.clear();
    });
    const call = (method: string, params: object = {}) =>
      new Promise<Record<string, unknown>>((resolve, reject) => {
        if (ws.readyState !== WebSocket.OPEN) return reject(new Error('inspector closed'));
        waiting.set(++id, { resolve, reject });
        ws.send(JSON.stringify({ id, method, params }));
      });
    g.call = call;
    const evaluate = async (expression: string) => (((await call('Runtime.evaluate', { expression, returnByValue: true })).result ?? {}) as { value?: unknown }).value;
    await call('Debugger.enable');
    const want = `file://${path.resolve(collectorScript)}`;
    const script = scripts.find((s) => s.url === want);
    if (!script) throw new Error(`the collector's inspector does not list ${want}`);
    const source = String((await call('Debugger.getScriptSource', { scriptId: script.scriptId })).scriptSource);
    const lines = source.split('\n');
    const cls = lines.findIndex((l) => /\bNettopEngine = class\b|class NettopEngine\b/.test(l));
    const settle = lines.findIndex((l, i) => i > cls && /^\s+settle\(\) \{$/.test(l));
    if (cls < 0 || settle < 0) throw new Error('NettopEngine.settle() not found in the collector bundle');
    const bp = await call('Debugger.setBreakpoint', { location: { scriptId: script.scriptId, lineNumber: settle + 1 }, condition: GRAB_CONDITION });
    const until = Date.now() + 10_000;
    while ((await evaluate(`globalThis.${ENGINE} !== undefined`)) !== true && Date.now() < until) await sleep(50);
    await call('Debugger.removeBreakpoint', { breakpointId: bp.breakpointId });
    await call('Debugger.disable');
    if ((await evaluate(`globalThis.${ENGINE} !== undefined`)) !== true) throw new Error('NettopEngine.settle() was not reached within 10 s');
    if ((await evaluate(INSTALL)) !== true) throw new Error('could not install the gauges');
    return g;
  }

  close(): void {
    this.ws.close();
  }
}

// ---------- the run ----------

/** The RSS of pid, or NaN; the supervisor is the host's child, the collector proper the supervisor's (through setpriv's exec). */
function supervisorOf(hostPid: number, collectorPid: number): number {
  const kids = childrenOf(hostPid);
  return kids.find((k) => k !== collectorPid && childrenOf(k).includes(collectorPid)) ?? NaN;
}

export async function soakRun(
  target: number,
  opts: { workers: number; rate: number; maxSeconds: number; gauges: boolean; commit: string; heapDir?: string | null; profileDir?: string | null },
  log: (s: string) => void,
): Promise<SoakResult> {
  const collectorScript = path.join(path.dirname(path.dirname(CLI)), 'dist', 'collector.js');
  const hostJs = await buildHost();
  // Below the ephemeral range (32768-60999 by default), which a million client sockets sweep through.
  const p = 20000 + (port() % 12000);
  const server = gen(['echo', 'tcp', p, opts.maxSeconds + 120]);
  await server.waitFor(/ready/);
  const host = start(process.execPath, [hostJs, collectorScript, '1', 'lo'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let counters: Record<string, number> = {};
  let started: { collectorPid: number; source: string } | null = null;
  let stopped: { counters: Record<string, number>; rows: number; tables: number; packets: Record<string, number> } | null = null;
  let buf = '';
  host.child.stdout!.on('data', (d: string) => {
    buf += d;
    let nl;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      const m = JSON.parse(line) as { ev: string; counters?: Record<string, number> };
      if (m.ev === 'counters') counters = m.counters!;
      else if (m.ev === 'started') started = m as unknown as typeof started;
      else if (m.ev === 'stopped') stopped = m as unknown as typeof stopped;
    }
  });
  let load: Proc | null = null;
  let gauges: Gauges | null = null;
  try {
    const until = Date.now() + 30_000;
    while (!started && Date.now() < until) {
      if (host.child.exitCode !== null) throw new Error(`soak host exited: ${host.err().slice(-800)}`);
      await sleep(100);
    }
    if (!started) throw new Error(`nettop did not start through the host: ${host.err().slice(-800)}`);
    const { collectorPid, source } = started as { collectorPid: number; source: string };
    const supervisorPid = supervisorOf(host.pid, collectorPid);
    let gaugeWhy = 'off (--no-gauges)';
    if (opts.gauges) {
      try {
        gauges = await Gauges.attach(collectorPid, host, collectorScript);
        gaugeWhy = 'inspector';
      } catch (e) {
        gaugeWhy = `unavailable: ${(e as Error).message}`;
        log(`  soak: gauges ${gaugeWhy}`);
      }
    }
    await sleep(2000);
    const idle = { collectorRssKb: rssKb(collectorPid), supervisorRssKb: rssKb(supervisorPid), hostRssKb: rssKb(host.pid) };
    log(`  soak: collector ${collectorPid} ${(idle.collectorRssKb / 1024).toFixed(1)} MiB, supervisor ${supervisorPid} ${(idle.supervisorRssKb / 1024).toFixed(1)} MiB, host ${host.pid} ${(idle.hostRssKb / 1024).toFixed(1)} MiB idle`);

    const t0 = Date.now();
    load = gen(['conns', p, target, opts.workers, opts.rate, opts.maxSeconds]);
    const samples: SoakSample[] = [];
    const heapTaken = new Set<string>();
    let profiling: 'no' | 'on' | 'done' = 'no';
    const heaps = new Map<string, HeapSummary>();
    let next = t0 + 1000;
    while (load.child.exitCode === null && load.child.signalCode === null) {
      await sleep(Math.max(0, next - Date.now()));
      next += 1000;
      gauges?.read(); // answered within the next second, in the next sample
      const progress = [...load.out().matchAll(/^progress=(\d+)$/gm)].pop();
      const mem = anonAndBrk(collectorPid);
      const s: SoakSample = {
        t: (Date.now() - t0) / 1000,
        connections: Number(progress?.[1] ?? 0),
        collectorRssKb: rssKb(collectorPid),
        collectorAnonKb: mem.anon,
        collectorBrkKb: mem.brk,
        supervisorRssKb: rssKb(supervisorPid),
        hostRssKb: rssKb(host.pid),
        timeWait: timeWait(),
        counters: pickCounters(counters),
        gauges: gauges?.take() ?? null,
      };
      samples.push(s);
      // Investigation (--soak-heap DIR): the collector's live heap once warm (10 %) and near the end (95 %), compared.
      for (const [at, name] of [
        [0.1, 'warm'],
        [0.95, 'end'],
      ] as const) {
        if (!opts.heapDir || !gauges || heapTaken.has(name) || s.connections < at * target) continue;
        heapTaken.add(name);
        const file = path.join(opts.heapDir, `collector-${opts.rate || 'ceiling'}-${name}.heapsnapshot`);
        const t = Date.now();
        await gauges.snapshot(file);
        try {
          heaps.set(name, heapSummary(file));
          log(`  soak: heap snapshot ${name} at ${s.connections} connections: ${(heaps.get(name)!.total / 2 ** 20).toFixed(1)} MiB live (${((Date.now() - t) / 1000).toFixed(1)} s) → ${file}`);
        } catch (e) {
          log(`  soak: heap snapshot ${name} → ${file}, not summarised here: ${(e as Error).message}`);
        }
        if (name === 'end' && heaps.has('warm')) {
          const diff = heapDiff(heaps.get('warm')!, heaps.get(name)!);
          writeFileSync(path.join(opts.heapDir, `collector-${opts.rate || 'ceiling'}-diff.txt`), diff + '\n');
          log(diff);
        }
      }
      // Investigation (--soak-cpu-profile DIR): the collector's CPU for 15 s from 10 % of the connections.
      if (opts.profileDir && gauges && profiling === 'no' && s.connections >= 0.1 * target) {
        profiling = 'on';
        await gauges.call('Profiler.enable');
        await gauges.call('Profiler.start');
        const from = s.t;
        void sleep(15_000).then(async () => {
          const { profile } = (await gauges!.call('Profiler.stop')) as { profile: CpuProfile };
          await gauges!.call('Profiler.disable');
          profiling = 'done';
          const file = path.join(opts.profileDir!, `collector-${opts.rate || 'ceiling'}.cpuprofile`);
          writeFileSync(file, JSON.stringify(profile));
          log(`  soak: CPU profile from t=${from.toFixed(0)} s → ${file}\n${profileSummary(profile)}`);
        });
      }
      if (!Number.isFinite(s.collectorRssKb)) throw new Error(`the collector is gone: ${host.err().slice(-800)}`);
      if (server.child.exitCode !== null || server.child.signalCode !== null) {
        throw new Error(`the echo server stopped (${server.child.exitCode ?? server.child.signalCode}) after ${s.connections} connections: ${server.err().slice(-400)}`);
      }
      if (samples.length % 15 === 1) {
        const g = s.gauges;
        log(
          `  t=${s.t.toFixed(0)}s ${s.connections} conns, collector ${(s.collectorRssKb / 1024).toFixed(1)} MiB (C heap ${(s.collectorBrkKb / 1024).toFixed(1)}), host ${(s.hostRssKb / 1024).toFixed(1)} MiB, ` +
            `held ${s.counters.held ?? 0} (overflow ${s.counters.holdOverflow ?? 0}), drops ${s.counters.kernelDrops ?? 0}, tw ${s.timeWait}` +
            (g ? `; flows ${g.flows}, held flows ${g.heldFlows}, held pk ${g.heldPackets}, recent keys ${g.recentKeys}` : ''),
        );
      }
    }
    const loadEnd = Date.now();
    const out = kv(load.out());
    // The last tables: the probe stops (its last interval goes out), then the host says what it got.
    host.child.stdin!.end();
    const stopUntil = Date.now() + 30_000;
    while (!stopped && Date.now() < stopUntil) await sleep(100);
    const totalSeconds = (Date.now() - t0) / 1000;
    if (!stopped) throw new Error(`the host did not report the stop: ${host.err().slice(-800)}`);
    const st = stopped as { counters: Record<string, number>; rows: number; tables: number; packets: Record<string, number> };
    const ours = new Set([server.pid, load.pid, ...[...load.out().matchAll(/^worker=(\d+)$/gm)].map((m) => Number(m[1]))]);
    const packets = { ours: 0, kernel: 0, unknown: 0, other: 0 };
    for (const [pid, n] of Object.entries(st.packets)) {
      const id = Number(pid);
      if (ours.has(id)) packets.ours += n;
      else if (id === 0) packets.kernel += n;
      else if (id === -1) packets.unknown += n;
      else packets.other += n;
    }
    return {
      date: new Date(t0).toISOString(),
      commit: opts.commit,
      target,
      workers: opts.workers,
      rate: opts.rate,
      maxSeconds: opts.maxSeconds,
      connections: out.connections ?? NaN,
      failed: out.failed ?? NaN,
      seconds: out.seconds ?? (loadEnd - t0) / 1000,
      connRate: out.rate ?? NaN,
      totalSeconds,
      source,
      collectorScript: path.relative(path.dirname(path.dirname(CLI)), collectorScript),
      gauges: gaugeWhy,
      samples,
      final: st.counters,
      packets,
      rows: st.rows,
      tables: st.tables,
      idle,
    };
  } finally {
    gauges?.close();
    await load?.stop('SIGTERM');
    if (host.child.exitCode === null) host.child.stdin?.end();
    await host.stop('SIGTERM', 20_000);
    await server.stop('SIGTERM');
  }
}

// ---------- figures ----------

export interface SoakSeries {
  /** Median over the samples from 10 % to 15 % of the connections made: the RSS once warmed up. */
  warm: number;
  /** Median over the samples of the last 5 % of the connections. */
  final: number;
  /** Largest sample after the warm-up. */
  max: number;
  /** max / warm - 1 and final / warm - 1. */
  maxGrowth: number;
  finalGrowth: number;
  /** Least-squares line through the samples after the warm-up, against connections made: its rise over them / warm. */
  trend: number;
  /** Final and trend within 10 % of warm (a collection's swing in one sample, which max shows, is not growth). */
  flat: boolean;
}

function median(xs: number[]): number {
  const v = xs.filter(Number.isFinite).sort((a, b) => a - b);
  if (!v.length) return NaN;
  const mid = v.length >> 1;
  return v.length % 2 ? v[mid]! : (v[mid - 1]! + v[mid]!) / 2;
}

export function soakSeries(r: SoakResult, pick: (s: SoakSample) => number): SoakSeries {
  const made = r.connections;
  const at = (f: number) => r.samples.findIndex((s) => s.connections >= f * made);
  const w0 = Math.max(0, at(0.1));
  const w1 = Math.max(w0 + 1, at(0.15));
  const f0 = Math.max(w1, at(0.95));
  const warm = median(r.samples.slice(w0, w1).map(pick));
  const final = median(r.samples.slice(f0).map(pick));
  const after = r.samples.slice(w0).filter((s) => Number.isFinite(pick(s)));
  const max = Math.max(...after.map(pick));
  // Least squares of RSS on connections after the warm-up.
  const n = after.length;
  const mx = after.reduce((a, s) => a + s.connections, 0) / n;
  const my = after.reduce((a, s) => a + pick(s), 0) / n;
  const sxy = after.reduce((a, s) => a + (s.connections - mx) * (pick(s) - my), 0);
  const sxx = after.reduce((a, s) => a + (s.connections - mx) ** 2, 0);
  const span = n ? after[n - 1]!.connections - after[0]!.connections : 0;
  const trend = sxx ? ((sxy / sxx) * span) / warm : NaN;
  const finalGrowth = final / warm - 1;
  return { warm, final, max, maxGrowth: max / warm - 1, finalGrowth, trend, flat: Math.abs(finalGrowth) <= 0.1 && trend <= 0.1 };
}

/** Largest value of a counter or gauge over the run. */
export function soakPeak(r: SoakResult, pick: (s: SoakSample) => number | undefined): number {
  let m = -Infinity;
  for (const s of r.samples) {
    const v = pick(s);
    if (v !== undefined && Number.isFinite(v)) m = Math.max(m, v);
  }
  return m === -Infinity ? NaN : m;
}

const mib = (kb: number) => `${(kb / 1024).toFixed(1)} MiB`;

/** One line for the log: each RSS series warm → final (max), and whether it stayed flat. */
export function soakVerdict(r: SoakResult): string {
  const part = (name: string, pick: (s: SoakSample) => number) => {
    const s = soakSeries(r, pick);
    return `${name} ${mib(s.warm)} → ${mib(s.final)} (max ${mib(s.max)}, trend ${(s.trend * 100).toFixed(1)} %: ${s.flat ? 'flat' : 'NOT flat'})`;
  };
  return [part('collector', (s) => s.collectorRssKb), part('host', (s) => s.hostRssKb), `hold overflow ${r.final.holdOverflow ?? 0}, kernel drops ${r.final.kernelDrops ?? 0}`].join('; ');
}

// ---------- heap snapshots (investigation) ----------

interface HeapSummary {
  /** Self size of every node, bytes. */
  total: number;
  /** By type and constructor name: [count, self size]. */
  by: Map<string, [number, number]>;
}

function heapSummary(file: string): HeapSummary {
  const snap = JSON.parse(readFileSync(file, 'utf8')) as {
    snapshot: { meta: { node_fields: string[]; node_types: [string[]] } };
    nodes: number[];
    strings: string[];
  };
  const f = snap.snapshot.meta.node_fields;
  const types = snap.snapshot.meta.node_types[0];
  const width = f.length;
  const [ti, ni, si] = [f.indexOf('type'), f.indexOf('name'), f.indexOf('self_size')];
  const by = new Map<string, [number, number]>();
  let total = 0;
  for (let i = 0; i < snap.nodes.length; i += width) {
    const type = types[snap.nodes[i + ti]!]!;
    const size = snap.nodes[i + si]!;
    total += size;
    const name = type === 'object' || type === 'closure' || type === 'native' || type === 'hidden' || type === 'array' ? `${type} ${snap.strings[snap.nodes[i + ni]!]}` : `(${type})`;
    const e = by.get(name);
    if (e) {
      e[0]++;
      e[1] += size;
    } else by.set(name, [1, size]);
  }
  return { total, by };
}

function heapDiff(a: HeapSummary, b: HeapSummary): string {
  const rows = [...new Set([...a.by.keys(), ...b.by.keys()])].map((k) => {
    const [c0, s0] = a.by.get(k) ?? [0, 0];
    const [c1, s1] = b.by.get(k) ?? [0, 0];
    return { k, c0, c1, s0, s1 };
  });
  rows.sort((x, y) => Math.abs(y.s1 - y.s0) - Math.abs(x.s1 - x.s0));
  const lines = [`  live heap ${(a.total / 2 ** 20).toFixed(1)} → ${(b.total / 2 ** 20).toFixed(1)} MiB; largest changes (count, self size):`];
  for (const r of rows.slice(0, 20)) lines.push(`    ${r.k.slice(0, 60).padEnd(60)} ${String(r.c0).padStart(8)} → ${String(r.c1).padEnd(8)} ${(r.s0 / 1024).toFixed(0).padStart(8)} → ${(r.s1 / 1024).toFixed(0)} KiB`);
  return lines.join('\n');
}

// ---------- CPU profile (investigation) ----------

interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; children?: number[] }[];
  samples: number[];
  timeDeltas: number[];
}

/** Self time by function, largest first, and the total. */
function profileSummary(p: CpuProfile): string {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map<string, number>();
  let total = 0;
  p.samples.forEach((id, i) => {
    const n = byId.get(id)!;
    const dt = p.timeDeltas[i] ?? 0;
    total += dt;
    const f = n.callFrame;
    const key = `${f.functionName || '(anonymous)'} ${f.url.split('/').pop()}:${f.lineNumber + 1}`;
    self.set(key, (self.get(key) ?? 0) + dt);
  });
  const rows = [...self].sort((a, b) => b[1] - a[1]).slice(0, 20);
  return [`  ${(total / 1e6).toFixed(1)} s sampled; self time:`, ...rows.map(([k, us]) => `    ${((100 * us) / total).toFixed(1).padStart(5)} %  ${k}`)].join('\n');
}
