// `npm run bench [-- --quick] [--runs N] [--seconds S] [--memory-minutes M] [--soak-connections N] [--soak-workers W]
//                 [--soak-rates R1,R2] [--soak-max-seconds S] [--no-gauges] [--soak-heap DIR] [--soak-cpu-profile DIR]
//                 [--only a,b] [--json FILE] [--md FILE] [--no-build] [--render JSON]`
// Parts: capture, churn, drops, accepts, calls, ui, memory, soak (every one unless --only names some).
// As root. Loopback only, every load bounded in time, every process started is stopped on any exit path.
// Writes a JSON file of figures (bench-results.json) and docs/BENCHMARKS.md. With --only, the parts measured replace
// theirs in the existing JSON file and the others are kept (a note says when and at which commit each was re-measured).

import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { memoryRun, uiRun, type MemoryResult, type UiResult } from './browser.ts';
import { captureRun, churnRun, type CaptureRun, type ChurnRun } from './capture.ts';
import { buildGenerator, cleanupAll, CLI, have, machine, ROOT, toJson } from './lib.ts';
import { renderMarkdown } from './report.ts';
import { soakRun, soakVerdict, type SoakResult } from './soak.ts';
import { acceptRun, callsRun, dropRun, type AcceptRun, type CallsRun, type DropRun } from './tracing.ts';

export interface Config {
  quick: boolean;
  runs: number;
  seconds: number;
  memoryMinutes: number;
  only: string[] | null;
  captureRates: number[];
  dropRates: number[];
  acceptRates: number[];
  callRates: number[];
  /** Short-lived TCP connections through nettop in each soak run, from soakWorkers long-lived processes; one run per rate (0 = ceiling). */
  soakConnections: number;
  soakWorkers: number;
  soakRates: number[];
  soakMaxSeconds: number;
  soakGauges: boolean;
  /** Investigation: heap snapshots of the collector at 10 % and 95 % of each soak run, into this directory. */
  soakHeap: string | null;
  /** Investigation: a 15-second CPU profile of the collector from 10 % of each soak run, into this directory. */
  soakProfile: string | null;
}

export interface Results {
  date: string;
  machine: ReturnType<typeof machine>;
  commit: string;
  config: Config;
  commands: Record<string, string>;
  capture: CaptureRun[];
  churn: ChurnRun[];
  drops: DropRun[];
  accepts: AcceptRun[];
  calls: CallsRun[];
  ui: UiResult | null;
  memory: MemoryResult | null;
  soak: SoakResult[];
  durationS: number;
  notes: string[];
}

function parseArgs(argv: string[]): Config {
  const quick = argv.includes('--quick');
  const val = (name: string): string | undefined => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const cfg: Config = {
    quick,
    runs: Number(val('runs') ?? (quick ? 1 : 3)),
    seconds: Number(val('seconds') ?? (quick ? 2 : 5)),
    memoryMinutes: Number(val('memory-minutes') ?? (quick ? 0.25 : 10)),
    only: val('only')?.split(',') ?? null,
    // 0 = the generator's ceiling (as fast as it can send).
    captureRates: quick ? [50_000, 0] : [25_000, 50_000, 100_000, 0],
    dropRates: quick ? [100_000, 0] : [50_000, 100_000, 0],
    acceptRates: quick ? [5_000] : [2_000, 5_000, 10_000, 0],
    callRates: quick ? [20_000] : [5_000, 20_000, 50_000, 0],
    soakConnections: Number(val('soak-connections') ?? (quick ? 100_000 : 1_000_000)),
    soakWorkers: Number(val('soak-workers') ?? 4),
    // 2,000/s: what nettop follows here with nothing lost (10⁶ in ~8 min); 0: as fast as the generator goes, which
    // overloads the collector on two cores (its bounds are what holds then).
    soakRates: (val('soak-rates') ?? (quick ? '2000' : '2000,0')).split(',').map(Number),
    soakMaxSeconds: Number(val('soak-max-seconds') ?? (quick ? 120 : 660)),
    soakGauges: !argv.includes('--no-gauges'),
    soakHeap: val('soak-heap') ?? null,
    soakProfile: val('soak-cpu-profile') ?? null,
  };
  return cfg;
}

const log = (s: string) => process.stderr.write(s + '\n');

async function repeat<T>(n: number, what: string, f: () => Promise<T>, show: (r: T) => string): Promise<T[]> {
  const out: T[] = [];
  for (let i = 0; i < n; i++) {
    const r = await f();
    log(`  ${what} run ${i + 1}/${n}: ${show(r)}`);
    out.push(r);
  }
  return out;
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) {
    log('bench: run as root (libpcap and tracefs need it)');
    process.exit(2);
  }
  const renderOnly = process.argv.indexOf('--render');
  if (renderOnly >= 0) {
    // Rewrites docs/BENCHMARKS.md from an earlier JSON (e.g. after editing findings.md); measures nothing.
    const r = JSON.parse(readFileSync(process.argv[renderOnly + 1]!, 'utf8')) as Results;
    writeFileSync(path.join(ROOT, 'docs', 'BENCHMARKS.md'), renderMarkdown(r));
    return;
  }
  const cfg = parseArgs(process.argv.slice(2));
  const want = (s: string) => !cfg.only || cfg.only.includes(s);
  const t0 = Date.now();
  log(`bench: ${cfg.quick ? 'quick, ' : ''}${cfg.runs} run(s) per figure, ${cfg.seconds} s per load`);
  // BENCH_CLI names another build (a worktree of another commit, for before/after figures): then nothing is built here.
  if (!process.env.BENCH_CLI && !process.argv.includes('--no-build')) {
    execFileSync(process.execPath, [path.join(ROOT, 'scripts', 'build.mjs')], { stdio: ['ignore', 'ignore', 'inherit'] });
  }
  const genCmd = buildGenerator();
  const res: Results = {
    date: new Date().toISOString(),
    machine: machine(),
    // The commit of the build measured (BENCH_CLI may name another worktree's).
    commit: execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: path.dirname(path.dirname(CLI)), encoding: 'utf8' }).trim(),
    config: cfg,
    commands: {
      generator: genCmd,
      flood: `npgen udp PORT RATE ${cfg.seconds}   (64-byte datagrams, sendmmsg, paced; RATE 0 = ceiling) + npgen recv PORT (drained receiver)`,
      tcpdumpReference: `tcpdump -i lo -w /dev/null -B 4096 -n 'udp dst port PORT'`,
      tcpdumpProbe: `node bin/netprobes.js tcpdump --format csv --iface lo --filter 'udp dst port PORT' > FILE`,
      nettopProbe: `node bin/netprobes.js nettop --format csv --interval 1 --iface lo > FILE`,
      dropwatch: `node bin/netprobes.js dropwatch --format csv --interval 1 > FILE, with npgen udp CLOSED_PORT RATE ${cfg.seconds}`,
      bpftrace: `bpftrace -e 'tracepoint:skb:kfree_skb { @all = count(); if (args->reason == NO_SOCKET) { @nosock = count(); } }'`,
      tcpConnections: `node bin/netprobes.js tcp-connections --format csv, with npgen accept PORT + npgen connect PORT RATE ${cfg.seconds}`,
      socketTrace: `node bin/netprobes.js socket-trace --format csv --comm npgen --rate 1000000, with npgen sendto PORT RATE ${cfg.seconds}`,
      churn: `node bin/netprobes.js nettop --format csv --interval 1 --iface lo, with npgen echo tcp|udp PORT + npgen churn tcp|udp PORT PROCS/s CONNS/proc S`,
      ui: 'netprobes serve + Chromium (playwright-core, software-rastered), Packets tab on lo, npgen udp PORT 10000',
      memory: `netprobes serve + Chromium, Packets tab on lo, npgen udp PORT 100000 for ${cfg.memoryMinutes} min`,
      soak: `host session (test/bench/soak-host.ts, bundled) + dist/collector.js, nettop --interval 1 on lo, with npgen echo tcp PORT + npgen conns PORT ${cfg.soakConnections} ${cfg.soakWorkers} RATE ${cfg.soakMaxSeconds}   (RATE ${cfg.soakRates.join(', ')}; 0 = ceiling)`,
    },
    capture: [],
    churn: [],
    drops: [],
    accepts: [],
    calls: [],
    ui: null,
    memory: null,
    soak: [],
    durationS: 0,
    notes: [],
  };
  const jsonFile = path.resolve(process.argv.includes('--json') ? process.argv[process.argv.indexOf('--json') + 1]! : path.join(ROOT, 'bench-results.json'));
  const mdFile = path.resolve(process.argv.includes('--md') ? process.argv[process.argv.indexOf('--md') + 1]! : path.join(ROOT, 'docs', 'BENCHMARKS.md'));
  // A partial run (--only) keeps the other parts of the last full run's file.
  let earlier: Results | null = null;
  if (cfg.only && existsSync(jsonFile)) earlier = JSON.parse(readFileSync(jsonFile, 'utf8')) as Results;
  const save = () => {
    res.durationS = Math.round((Date.now() - t0) / 1000);
    const out = earlier ? mergeParts(earlier, res, cfg.only!) : res;
    writeFileSync(jsonFile, toJson(out));
    writeFileSync(mdFile, renderMarkdown(out));
  };

  const capShow = (r: CaptureRun) =>
    `sent ${r.sent} (${Math.round(r.sentRate)}/s), probe saw ${r.probeSeen} lost ${r.probeLost} cpu ${(r.probeCpu * 100).toFixed(0)}%; tcpdump ${r.refCaptured} dropped ${r.refDropped} cpu ${(r.refCpu * 100).toFixed(1)}%`;
  if (want('capture')) {
    for (const probe of ['tcpdump', 'nettop'] as const) {
      for (const rate of [...cfg.captureRates, -1]) {
        log(`capture: ${probe} probe, ${rate < 0 ? 'TCP bulk' : rate ? `${rate} pkt/s` : 'ceiling'}`);
        res.capture.push(...(await repeat(cfg.runs, probe, () => captureRun(probe, rate, cfg.seconds), capShow)));
      }
      save();
    }
  }
  if (want('churn')) {
    for (const [proto, procs, conns] of [
      ['tcp', 200, 10],
      ['udp', 200, 10],
    ] as const) {
      log(`churn: ${proto}, ${procs} processes/s x ${conns} connections`);
      res.churn.push(
        ...(await repeat(cfg.runs, 'churn', () => churnRun(proto, procs, conns, cfg.seconds), (r) => `${r.connections} connections, right PID ${(r.share * 100).toFixed(2)}% (kernel ${r.kernel}, unknown ${r.unknown}, other ${r.otherPid})`)),
      );
    }
    save();
  }
  if (want('drops')) {
    const bt = have('bpftrace');
    if (!bt) res.notes.push('bpftrace not installed (apt-get install bpftrace): dropwatch compared with the kernel count only.');
    for (const rate of cfg.dropRates) {
      log(`drops: ${rate || 'ceiling'}`);
      res.drops.push(
        ...(await repeat(cfg.runs, 'dropwatch', () => dropRun(rate, cfg.seconds, bt), (r) => `kernel NoPorts ${r.kernelNoPorts}, dropwatch NO_SOCKET ${r.probeNoSocket}, bpftrace ${r.bpftraceNoSocket}; overruns ${r.overruns}, cpu ${(r.probeCpu * 100).toFixed(1)}%`)),
      );
    }
    save();
  }
  if (want('accepts')) {
    for (const rate of cfg.acceptRates) {
      log(`accepts: ${rate || 'ceiling'}`);
      res.accepts.push(...(await repeat(cfg.runs, 'tcp-connections', () => acceptRun(rate, cfg.seconds), (r) => `accepted ${r.accepted}, reported ${r.reported}, lost ${r.probeLost}, cpu ${(r.probeCpu * 100).toFixed(1)}%`)));
    }
    save();
  }
  if (want('calls')) {
    for (const rate of cfg.callRates) {
      log(`calls: ${rate || 'ceiling'}`);
      res.calls.push(...(await repeat(cfg.runs, 'socket-trace', () => callsRun(rate, cfg.seconds), (r) => `made ${r.made}, reported ${r.reported}, lost ${r.probeLost}, cpu ${(r.probeCpu * 100).toFixed(1)}%`)));
    }
    save();
  }
  if (want('ui')) {
    log('ui: serve + Chromium, 10000 rows/s');
    res.ui = await uiRun(10_000, cfg.quick ? 5 : 15, cfg.quick ? 2 : 5);
    const u = res.ui;
    log(
      `  first row ${u.firstRowMs.median.toFixed(0)} ms, frames p95 ${u.frames.p95.toFixed(1)} / sorted ${u.framesSorted?.p95.toFixed(1)} / typing ${u.framesTyping.p95.toFixed(1)} ms, long tasks ${u.longTasks?.count} (max ${u.longTasks?.maxMs.toFixed(0)} ms), input p95 ${u.inputLatency.p95.toFixed(0)} ms`,
    );
    save();
  }
  if (want('soak')) {
    for (const rate of cfg.soakRates) {
      log(`soak: ${cfg.soakConnections} short-lived TCP connections through nettop (host session + collector), ${cfg.soakWorkers} generator processes, ${rate ? `${rate}/s` : 'ceiling'}`);
      const r = await soakRun(cfg.soakConnections, { workers: cfg.soakWorkers, rate, maxSeconds: cfg.soakMaxSeconds, gauges: cfg.soakGauges, commit: res.commit, heapDir: cfg.soakHeap, profileDir: cfg.soakProfile }, log);
      log(`  ${r.connections} connections in ${r.seconds.toFixed(0)} s (${r.failed} failed); ${soakVerdict(r)}`);
      res.soak.push(r);
      save();
    }
  }
  if (want('memory')) {
    const seconds = Math.round(cfg.memoryMinutes * 60);
    log(`memory: ${seconds} s at 100000 pkt/s`);
    res.memory = await memoryRun(100_000, seconds, Math.max(1, Math.round(seconds / 120)), log);
    save();
  }
  save();
  log(`bench: done in ${res.durationS} s; wrote ${path.relative(ROOT, jsonFile)} and ${path.relative(ROOT, mdFile)}`);
}

/** The parts named in `only` from `now`, everything else from `earlier`; a note says what was re-measured when. */
function mergeParts(earlier: Results, now: Results, only: string[]): Results {
  const parts = ['capture', 'churn', 'drops', 'accepts', 'calls', 'ui', 'memory', 'soak'] as const;
  const out: Results = { ...earlier, commands: { ...earlier.commands, ...now.commands }, config: { ...earlier.config } };
  const measured = parts.filter((p) => only.includes(p));
  for (const p of measured) {
    const v = now[p];
    if (v !== null && !(Array.isArray(v) && !v.length)) (out as unknown as Record<string, unknown>)[p] = v; // not measured yet: kept
  }
  // Soak runs are kept per rate: `--soak-rates 0` re-measures the ceiling run and keeps the paced one.
  if (measured.includes('soak') && now.soak.length) {
    const rates = new Set(now.soak.map((x) => x.rate));
    out.soak = [...(earlier.soak ?? []).filter((x) => !rates.has(x.rate) && x.date), ...now.soak].sort((a, b) => (a.rate || Infinity) - (b.rate || Infinity));
  }
  const cfg = out.config as unknown as Record<string, unknown>;
  for (const [k, v] of Object.entries(now.config)) if (k.startsWith('soak') ? measured.includes('soak') : !(k in cfg)) cfg[k] = v;
  const note = `${measured.map((p) => `\`${p}\``).join(', ')} measured on ${now.date.slice(0, 10)} at commit ${now.commit} (\`npm run bench -- --only ${only.join(',')}\`, ${now.durationS} s).`;
  const prefix = note.slice(0, note.indexOf(' measured on'));
  out.notes = [...(earlier.notes ?? []).filter((n) => !n.startsWith(prefix)), ...now.notes, note];
  out.soak ??= [];
  return out;
}

main()
  .catch((e: unknown) => {
    log(`bench: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    process.exitCode = 1;
  })
  .finally(() => cleanupAll());
