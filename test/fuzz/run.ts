// `npm run fuzz`: every target (test/fuzz/targets/) with 10^6 inputs each, the
// first ones coverage-guided, then pcapng files through tshark; prints the
// report and, for a full run, writes it to test/fuzz/REPORT.md. A developer
// tool: minutes, not seconds (the fast seeded version is test/unit/fuzz.test.ts).
//
//   npm run fuzz                             a full run, random seed
//   npm run fuzz -- --seed 12345             repeat a run
//   npm run fuzz -- --only frame:EN10MB,ipc  only targets whose name starts so
//   npm run fuzz -- --iterations 100000      fewer inputs per target
//   npm run fuzz -- --only X --dump N        print input N of target X
//   --explore N (coverage-guided inputs per target, default 10,000), --jobs N
//   (targets at a time, default half the CPUs), --tshark-files N and
//   --tshark-packets N (default 20 files of 10,000 packets), --no-tshark,
//   --report FILE (write the report there; "-" for stdout only),
//   --hang-seconds N (stop a target whose input runs longer; default 120)
//
// Exits 1 when something was found.

import { execFileSync } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { runTarget, type RunOptions, type TargetResult } from './engine.ts';
import { renderReport, type RunInfo } from './report.ts';
import { allTargets, targetNames } from './targets/index.ts';
import { tsharkRoundTrips, type TsharkResult } from './tshark.ts';

const ROOT = path.join(import.meta.dirname, '..', '..');
const REPORT = path.join(import.meta.dirname, 'REPORT.md');

function parseArgs(argv: string[]) {
  const a = {
    seed: String(randomInt(1, 2 ** 31)),
    iterations: 1_000_000,
    explore: 10_000,
    only: [] as string[],
    jobs: Math.max(1, Math.floor(availableParallelism() / 2)),
    tsharkFiles: 20,
    tsharkPackets: 10_000,
    tshark: true,
    report: '' as string,
    dump: undefined as number | undefined,
    hangSeconds: 120,
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const val = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${arg} needs a value`);
      return v;
    };
    const num = () => {
      const v = Number(val().replace(/_/g, ''));
      if (!Number.isInteger(v) || v < 0) throw new Error(`${arg}: a whole number, please`);
      return v;
    };
    if (arg === '--seed') a.seed = val();
    else if (arg === '--iterations') a.iterations = num();
    else if (arg === '--explore') a.explore = num();
    else if (arg === '--only') a.only.push(...val().split(','));
    else if (arg === '--jobs') a.jobs = Math.max(1, num());
    else if (arg === '--tshark-files') a.tsharkFiles = num();
    else if (arg === '--tshark-packets') a.tsharkPackets = num();
    else if (arg === '--no-tshark') a.tshark = false;
    else if (arg === '--report') a.report = val();
    else if (arg === '--dump') a.dump = num();
    else if (arg === '--hang-seconds') a.hangSeconds = num();
    else if (arg === '--help' || arg === '-h') {
      process.stdout.write(
        'npm run fuzz -- [--seed S] [--iterations N] [--explore N] [--only PREFIX,...] [--jobs N]\n' +
          '                [--tshark-files N] [--tshark-packets N] [--no-tshark] [--report FILE|-] [--dump N] [--hang-seconds N]\n' +
          `targets: ${targetNames().join(', ')}, pcapng:tshark\n`,
      );
      process.exit(0);
    } else throw new Error(`unknown argument ${arg} (--help lists them)`);
  }
  return a;
}

const log = (s: string) => process.stderr.write(`${s}\n`);

function git(args: string[]): string {
  try {
    return execFileSync('git', args, { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  } catch {
    return '';
  }
}

/** Runs one target in a worker; a target whose current input runs longer than hangSeconds is stopped. */
function inWorker(name: string, run: Omit<RunOptions, 'progress' | 'onInput'>, hangSeconds: number, hangs: RunInfo['hangs']): Promise<TargetResult | null> {
  const shared = new SharedArrayBuffer(8);
  const state = new Int32Array(shared);
  // The worker loads TypeScript as this process does: through tsx's loader, registered in the worker first.
  const boot = `import('tsx/esm/api').then((m) => m.tsImport(${JSON.stringify(new URL('./worker.ts', import.meta.url).href)}, ${JSON.stringify(import.meta.url)}))`;
  const worker = new Worker(boot, { eval: true, workerData: { target: name, run, targets: { oversize: true }, shared } });
  return new Promise((resolve, reject) => {
    let lastInput = -1;
    let since = performance.now();
    let lastLog = performance.now();
    const timer = setInterval(() => {
      const input = state[1]!;
      const t = performance.now();
      if (input !== lastInput) {
        lastInput = input;
        since = t;
      } else if (t - since > hangSeconds * 1000) {
        clearInterval(timer);
        hangs.push({ target: name, iteration: input, seconds: hangSeconds });
        log(`${name}: input ${input} has run for ${hangSeconds} s: stopped`);
        void worker.terminate().then(() => resolve(null));
      }
      if (t - lastLog > 30_000) {
        lastLog = t;
        log(`  ${name}: ${Atomics.load(state, 0).toLocaleString('en')} of ${run.iterations.toLocaleString('en')}`);
      }
    }, 1000);
    worker.once('message', (r: TargetResult) => {
      clearInterval(timer);
      resolve(r);
    });
    worker.once('error', (e) => {
      clearInterval(timer);
      reject(e);
    });
  });
}

async function main() {
  const a = parseArgs(process.argv.slice(2));
  const names = targetNames().filter((t) => !a.only.length || a.only.some((o) => t.startsWith(o)));
  const withTshark = a.tshark && (!a.only.length || a.only.some((o) => 'pcapng:tshark'.startsWith(o)));
  if (!names.length && !withTshark) throw new Error(`no target matches ${a.only.join(', ')} (--help lists them)`);

  if (a.dump !== undefined) {
    if (names.length !== 1) throw new Error('--dump needs --only naming one target');
    const t = allTargets({ oversize: true }).find((x) => x.name === names[0])!;
    const r = runTarget(t, { seed: a.seed, iterations: a.iterations, explore: a.explore, dump: a.dump });
    process.stdout.write(`${r.dumped ?? `no input ${a.dump}: the run has ${a.iterations}`}\n`);
    return;
  }

  const t0 = performance.now();
  const full = !a.only.length && a.iterations >= 1_000_000 && a.tshark;
  log(`fuzz: seed ${a.seed}, ${names.length} targets × ${a.iterations.toLocaleString('en')} inputs, ${a.jobs} at a time${withTshark ? `, then ${a.tsharkFiles} × ${a.tsharkPackets.toLocaleString('en')} packets through tshark` : ''}`);
  const results = new Map<string, TargetResult>();
  const hangs: RunInfo['hangs'] = [];
  const queue = [...names];
  const run = { seed: a.seed, iterations: a.iterations, explore: a.explore };
  await Promise.all(
    Array.from({ length: Math.min(a.jobs, names.length) }, async () => {
      for (let name = queue.shift(); name; name = queue.shift()) {
        const r = await inWorker(name, run, a.hangSeconds, hangs);
        if (!r) continue;
        results.set(name, r);
        const found = r.findings.reduce((s, f) => s + f.count, 0);
        log(`${name}: ${r.inputs.toLocaleString('en')} inputs in ${(r.ms / 1000).toFixed(1)} s, ${found ? `${found} FINDINGS` : 'no findings'}${r.notes.length ? `, ${r.notes.length} kinds of note` : ''}`);
      }
    }),
  );

  let tshark: TsharkResult | null = null;
  if (withTshark) {
    log(`pcapng:tshark: ${a.tsharkFiles} files × ${a.tsharkPackets.toLocaleString('en')} packets`);
    let lastLog = performance.now();
    tshark = await tsharkRoundTrips({
      seed: a.seed,
      files: a.tsharkFiles,
      packetsPerFile: a.tsharkPackets,
      progress: (files, packets) => {
        if (performance.now() - lastLog < 30_000) return;
        lastLog = performance.now();
        log(`  pcapng:tshark: ${files} files, ${packets.toLocaleString('en')} packets`);
      },
    });
    log(tshark.skipped ? `pcapng:tshark: skipped: ${tshark.skipped}` : `pcapng:tshark: ${tshark.packets.toLocaleString('en')} packets in ${(tshark.ms / 1000).toFixed(1)} s, ${tshark.failures.length ? `${tshark.failures.length} FAILED FILES` : 'all matched'}`);
  }

  const args = [`--seed ${a.seed}`, ...(a.iterations !== 1_000_000 ? [`--iterations ${a.iterations}`] : []), ...(a.explore !== 10_000 ? [`--explore ${a.explore}`] : []), ...(a.only.length ? [`--only ${a.only.join(',')}`] : [])];
  const info: RunInfo = {
    seed: a.seed,
    command: `npm run fuzz -- ${args.join(' ')}`,
    replay: [`--seed ${a.seed}`, ...(a.explore !== 10_000 ? [`--explore ${a.explore}`] : [])].join(' '),
    date: new Date().toISOString().slice(0, 16).replace('T', ' ') + ' UTC',
    commit: git(['rev-parse', '--short', 'HEAD']).trim() || 'unknown',
    dirty: git(['status', '--porcelain', '--', 'electron']).split('\n').filter(Boolean).map((l) => l.slice(3)),
    node: `Node ${process.version}`,
    cpus: availableParallelism(),
    jobs: a.jobs,
    iterations: a.iterations,
    explore: Math.min(a.explore, a.iterations),
    ms: performance.now() - t0,
    hangs,
  };
  const report = renderReport(info, names.map((x) => results.get(x)).filter((r): r is TargetResult => !!r), tshark);
  process.stdout.write(`${report}\n`);
  const file = a.report === '-' ? '' : a.report ? path.resolve(a.report) : full ? REPORT : '';
  if (file) {
    writeFileSync(file, report);
    log(`report written to ${path.relative(process.cwd(), file) || file}`);
  }
  const failed = hangs.length + (tshark?.failures.length ?? 0) + [...results.values()].reduce((s, r) => s + r.findings.length, 0);
  process.exitCode = failed ? 1 : 0;
}

main().catch((e: unknown) => {
  log(e instanceof Error ? (e.stack ?? e.message) : String(e));
  process.exitCode = 2;
});
