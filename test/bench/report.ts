// docs/BENCHMARKS.md from the figures: every figure the median of the runs with its min–max.

import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { MemorySample } from './browser.ts';
import type { CaptureRun } from './capture.ts';
import { stat } from './lib.ts';
import type { Results } from './run.ts';
import { soakPeak, soakSeries, type SoakResult, type SoakSample } from './soak.ts';

const pct = (x: number, d = 1) => (Number.isFinite(x) ? `${(x * 100).toFixed(d)} %` : '–');
const num = (x: number) => (Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : '–');

/** "median (min–max)" of f over runs, formatted by fmt. */
function mm<T>(runs: T[], f: (r: T) => number, fmt: (x: number) => string): string {
  const s = stat(runs.map(f));
  if (!s.n) return '–';
  return s.n === 1 || s.min === s.max ? fmt(s.median) : `${fmt(s.median)} (${fmt(s.min)}–${fmt(s.max)})`;
}

function groupBy<T, K>(xs: T[], key: (x: T) => K): Map<K, T[]> {
  const m = new Map<K, T[]>();
  for (const x of xs) m.set(key(x), [...(m.get(key(x)) ?? []), x]);
  return m;
}

const rateName = (r: number) => (r < 0 ? 'TCP bulk' : r === 0 ? 'ceiling' : `${num(r)}/s`);

/** Highest median sending rate at which the tool lost nothing (median run). */
function zeroLossRate(runs: CaptureRun[], lossless: (r: CaptureRun) => boolean): number {
  let best = 0;
  for (const [rate, rs] of groupBy(
    runs.filter((r) => r.rate >= 0),
    (r) => r.rate,
  )) {
    void rate;
    const ok = rs.filter(lossless).length * 2 > rs.length;
    if (ok) best = Math.max(best, stat(rs.map((r) => r.sentRate)).median);
  }
  return best;
}

export const probeLossless = (r: CaptureRun) => r.probeSeen >= r.sent && r.probeLost === 0;
export const refLossless = (r: CaptureRun) => r.refCaptured >= r.sent && r.refDropped === 0;

function plot<S extends { t: number }>(samples: S[], pick: (s: S) => number, label: string): string {
  const W = 72;
  const H = 12;
  const xs = samples.map((s) => s.t);
  const ys = samples.map(pick).map((kb) => kb / 1024);
  if (!ys.length) return '';
  const t1 = Math.max(...xs, 1);
  const hi = Math.max(...ys) * 1.05;
  const lo = 0;
  const grid = Array.from({ length: H }, () => Array.from({ length: W }, () => ' '));
  samples.forEach((_, i) => {
    const x = Math.min(W - 1, Math.round((xs[i]! / t1) * (W - 1)));
    const y = Math.min(H - 1, Math.round(((ys[i]! - lo) / (hi - lo || 1)) * (H - 1)));
    grid[H - 1 - y]![x] = '*';
  });
  const lines = grid.map((row, i) => {
    const v = hi - ((hi - lo) * i) / (H - 1);
    return `${v.toFixed(1).padStart(7)} |${row.join('')}`;
  });
  lines.push(`${''.padStart(7)} +${'-'.repeat(W)}`);
  lines.push(`${''.padStart(8)}0 s${`${Math.round(t1)} s`.padStart(W - 2)}`);
  return `${label} (MiB)\n\n\`\`\`\n${lines.join('\n')}\n\`\`\``;
}

/** Growth after warm-up: mean of the last quarter against the mean of the first quarter after the first 20 %. */
export function growth(samples: MemorySample[], pick: (s: MemorySample) => number): { warm: number; end: number; growth: number } {
  const v = samples.map(pick).filter(Number.isFinite);
  const start = Math.floor(v.length * 0.2);
  const rest = v.slice(start);
  const q = Math.max(1, Math.floor(rest.length / 4));
  const mean = (a: number[]) => a.reduce((s, x) => s + x, 0) / (a.length || 1);
  const warm = mean(rest.slice(0, q));
  const end = mean(rest.slice(-q));
  return { warm, end, growth: warm ? end / warm - 1 : NaN };
}

export function renderMarkdown(r: Results): string {
  const m = r.machine;
  const out: string[] = [];
  const p = (s = '') => out.push(s);
  p('# NetProbes benchmarks');
  p();
  p(`Written by \`npm run bench${r.config.quick ? ' -- --quick' : ''}\` on ${r.date} (commit ${r.commit}, ${r.durationS} s). Rerun it as root; figures are in \`bench-results.json\`.`);
  p();
  p(`**Machine**: ${m.cpu}, ${m.cores} cores, kernel ${m.kernel}, ${m.memGb} GiB, Node ${m.node}.`);
  p();
  p(
    r.config.quick
      ? `**Quick mode**: ${r.config.runs} run per figure (so no min–max), ${r.config.seconds} s per load, a ${r.config.memoryMinutes}-minute memory stream. Use \`npm run bench\` for the real figures.`
      : `Each figure is the **median of ${r.config.runs} runs (min–max)**, ${r.config.seconds} s per load. CPU is the share of one core from \`/proc/PID/task/*/schedstat\` (ns on CPU) over the load; on lo the receive softirq is charged to the sender, not to the capturing process.`,
  );
  p();
  p('Absolute rates drift on these shared VMs; the targets are ratios taken in the same run, with the reference tool on the same load.');
  for (const n of r.notes) p(`\n> ${n}`);
  p();
  p('## Commands');
  p();
  for (const [k, v] of Object.entries(r.commands)) p(`- ${k}: \`${v}\``);
  p();

  if (r.capture.length) {
    p('## Capture: tcpdump and nettop probes beside tcpdump, same flood, same run');
    p();
    p('64-byte UDP datagrams to a drained receiver on 127.0.0.1 (and one TCP bulk connection). *seen* is rows written by the tcpdump probe, or packets nettop credits to the sender\'s PID; *reported lost* is the probe\'s own loss counters (libpcap kernel drops count both copies lo queues, so they exceed the missing packets); tcpdump is `tcpdump -i lo -w /dev/null -B 4096` on the same packets. For TCP bulk the yardstick is tcpdump\'s count.');
    p();
    for (const [probe, runs] of groupBy(r.capture, (x) => x.probe)) {
      p(`### ${probe} probe`);
      p();
      p('| load | sent/s | probe seen / sent | missing | reported lost | probe CPU | tcpdump captured / sent | tcpdump drops | tcpdump CPU |');
      p('|---|---|---|---|---|---|---|---|---|');
      for (const [rate, rs] of groupBy(runs, (x) => x.rate)) {
        p(
          `| ${rateName(rate)} | ${rate < 0 ? mm(rs, (x) => x.sentRate, (v) => `${v.toFixed(0)} MB/s`) : mm(rs, (x) => x.sentRate, num)} | ${mm(rs, (x) => x.probeSeen / x.sent, (v) => pct(v, 2))} | ${mm(rs, (x) => Math.max(0, x.sent - x.probeSeen), num)} | ${mm(rs, (x) => x.probeLost, num)} | ${mm(rs, (x) => x.probeCpu, (v) => pct(v, 0))} | ${mm(rs, (x) => x.refCaptured / x.sent, (v) => pct(v, 2))} | ${mm(rs, (x) => x.refDropped, num)} | ${mm(rs, (x) => x.refCpu, (v) => pct(v, 1))} |`,
        );
      }
      const zp = zeroLossRate(runs, probeLossless);
      const zr = zeroLossRate(runs, refLossless);
      p();
      p(`**Zero-loss rate**: ${probe} probe ${num(zp)}/s, tcpdump ${num(zr)}/s → **ratio ${zr ? (zp / zr).toFixed(2) : '–'}** (target 1.0, below 0.5 a defect). Unreported loss: ${runs.some((x) => x.sent - x.probeSeen > x.probeLost) ? '**yes, in some runs**' : 'none (every missing packet was counted)'}.`);
      p();
    }
  }

  if (r.churn.length) {
    p('## Attribution under churn (nettop)');
    p();
    p('Short-lived processes (`npgen churn`), each making 10 short connections (TCP: connect, 64-byte request, the server closes; UDP: a new socket, 4 datagrams) and exiting, against `npgen echo`. *Right PID* is the share of packets in nettop\'s rows credited to the child that made them or to the server (every packet on lo counts sent and received).');
    p();
    p('| proto | connections/s | processes | packets in rows | right PID | of which to the children | kernel (PID 0) | unknown (PID -1) | other PID | nettop CPU | kernel drops |');
    p('|---|---|---|---|---|---|---|---|---|---|---|');
    for (const [proto, rs] of groupBy(r.churn, (x) => x.proto)) {
      p(`| ${proto} | ${mm(rs, (x) => x.connPerSec, num)} | ${mm(rs, (x) => x.processes, num)} | ${mm(rs, (x) => x.packetsInRows, num)} | ${mm(rs, (x) => x.share, (v) => pct(v, 2))} | ${mm(rs, (x) => x.toChildren, num)} | ${mm(rs, (x) => x.kernel, num)} | ${mm(rs, (x) => x.unknown, num)} | ${mm(rs, (x) => x.otherPid, num)} | ${mm(rs, (x) => x.probeCpu, (v) => pct(v, 0))} | ${mm(rs, (x) => x.kernelDrops, num)} |`);
    }
    p();
    p('Target: ≥ 99.9 % to the right process.');
    p();
  }

  if (r.drops.length) {
    p('## dropwatch under a closed-port drop storm');
    p();
    p('64-byte datagrams to a port nobody listens on: each is a `NO_SOCKET` drop (`/proc/net/snmp` Udp NoPorts counts them too). bpftrace counts `skb:kfree_skb` in the kernel in the same run.');
    p();
    p('| load | drops/s | kernel NoPorts | dropwatch NO_SOCKET / kernel | bpftrace NO_SOCKET / kernel | dropwatch all / bpftrace all | ring overruns | reported lost | dropwatch CPU | bpftrace CPU |');
    p('|---|---|---|---|---|---|---|---|---|---|');
    for (const [rate, rs] of groupBy(r.drops, (x) => x.rate)) {
      p(
        `| ${rateName(rate)} | ${mm(rs, (x) => x.sentRate, num)} | ${mm(rs, (x) => x.kernelNoPorts, num)} | ${mm(rs, (x) => x.probeNoSocket / x.kernelNoPorts, (v) => pct(v, 2))} | ${mm(rs, (x) => x.bpftraceNoSocket / x.kernelNoPorts, (v) => pct(v, 2))} | ${mm(rs, (x) => x.probeTotal / x.bpftraceTotal, (v) => pct(v, 2))} | ${mm(rs, (x) => x.overruns, num)} | ${mm(rs, (x) => x.probeLost, num)} | ${mm(rs, (x) => x.probeCpu, (v) => pct(v, 1))} | ${mm(rs, (x) => x.bpftraceCpu, (v) => pct(v, 2))} |`,
      );
    }
    p();
    p('The two tools start and stop at slightly different moments, so *all / all* also carries the few unrelated drops around the edges.');
    p();
  }

  if (r.accepts.length) {
    p('## tcp-connections under a connect/accept storm');
    p();
    p('`npgen connect` (paced connect(), closed with RST) against `npgen accept` (accept4 and close). *reported* counts rows with the server\'s PID and port.');
    p();
    p('| load | connections/s | accepted | reported / accepted | reported lost | CPU |');
    p('|---|---|---|---|---|---|');
    for (const [rate, rs] of groupBy(r.accepts, (x) => x.rate)) {
      p(`| ${rateName(rate)} | ${mm(rs, (x) => x.connRate, num)} | ${mm(rs, (x) => x.accepted, num)} | ${mm(rs, (x) => x.reported / x.accepted, (v) => pct(v, 2))} | ${mm(rs, (x) => x.probeLost, num)} | ${mm(rs, (x) => x.probeCpu, (v) => pct(v, 1))} |`);
    }
    p();
  }

  if (r.calls.length) {
    p('## socket-trace under paced sendto() calls');
    p();
    p('`npgen sendto` makes one sendto() per datagram; *reported* counts `call sys_sendto` rows with its PID (`--comm npgen --rate 1000000`).');
    p();
    p('*stop* is the time from SIGINT to the probe\'s exit (it reads what the ring still holds, then prints its summary; the bench waits up to 60 s).');
    p();
    p('| load | calls/s | calls made | reported / made | reported lost | CPU | stop |');
    p('|---|---|---|---|---|---|---|');
    for (const [rate, rs] of groupBy(r.calls, (x) => x.rate)) {
      p(`| ${rateName(rate)} | ${mm(rs, (x) => x.callRate, num)} | ${mm(rs, (x) => x.made, num)} | ${mm(rs, (x) => x.reported / x.made, (v) => pct(v, 2))} | ${mm(rs, (x) => x.probeLost, num)} | ${mm(rs, (x) => x.probeCpu, (v) => pct(v, 1))} | ${mm(rs, (x) => x.stopS ?? NaN, (v) => `${v.toFixed(1)} s`)} |`);
    }
    p();
  }

  if (r.ui) {
    const u = r.ui;
    p('## UI: Chromium against `netprobes serve`');
    p();
    p(`The Packets tab on lo receiving ${num(u.rowsPerSec)} rows/s${u.raster ? `, drawn by ${u.raster}` : ''}. Frame times from requestAnimationFrame, first while only streaming, then with the table sorted by Length, then (sort kept) while a key is pressed in *Find in rows* every 200 ms; input latency from a key press in *Find in rows* to the frame after it; first row from the click on Start to the frame after the first row is in the table (${u.firstRowMs.n} tries).`);
    p();
    p('| figure | value | target |');
    p('|---|---|---|');
    p(`| frame time p50 / p95 / max | ${u.frames.p50.toFixed(1)} / ${u.frames.p95.toFixed(1)} / ${u.frames.max.toFixed(0)} ms (${u.frames.count} frames, ${pct(u.frames.over16, 0)} over 16.7 ms) | p95 ≤ 16.7 ms |`);
    if (u.framesSorted) p(`| frame time with a sort active, p50 / p95 / max | ${u.framesSorted.p50.toFixed(1)} / ${u.framesSorted.p95.toFixed(1)} / ${u.framesSorted.max.toFixed(0)} ms (${u.framesSorted.count} frames, ${pct(u.framesSorted.over16, 0)} over 16.7 ms) | p95 ≤ 16.7 ms |`);
    if (u.longTasks) p(`| long tasks (over 50 ms), all phases | ${u.longTasks.count} (longest ${u.longTasks.maxMs.toFixed(0)} ms) | none |`);
    p(`| frame time while typing in Find (sort active), p50 / p95 / max | ${u.framesTyping.p50.toFixed(1)} / ${u.framesTyping.p95.toFixed(1)} / ${u.framesTyping.max.toFixed(0)} ms (${u.framesTyping.count} frames) | |`);
    p(`| input latency p50 / p95 / max | ${u.inputLatency.p50.toFixed(0)} / ${u.inputLatency.p95.toFixed(0)} / ${u.inputLatency.max.toFixed(0)} ms (${u.inputLatency.count} key presses) | p95 ≤ 50 ms |`);
    p(`| Start → first row on screen | ${u.firstRowMs.median.toFixed(0)} ms (${u.firstRowMs.min.toFixed(0)}–${u.firstRowMs.max.toFixed(0)}) | ≤ 500 ms |`);
    p();
  }

  if (r.memory) {
    const mem = r.memory;
    p('## Memory over a long stream');
    p();
    p(`\`netprobes serve\` with the Packets tab running in Chromium while ${num(mem.rate)} packets/s arrive for ${(mem.seconds / 60).toFixed(1)} min (${num(mem.sent)} sent), sampled ${mem.samples.length} times. Growth: mean of the last quarter against the first quarter after a 20 % warm-up.`);
    p();
    const gc = growth(mem.samples, (s) => s.collectorRssKb);
    const gh = growth(mem.samples, (s) => s.rendererHeapKb);
    const gs = growth(mem.samples, (s) => s.serveRssKb);
    p('| series | after warm-up | at the end | growth |');
    p('|---|---|---|---|');
    p(`| collector RSS | ${(gc.warm / 1024).toFixed(1)} MiB | ${(gc.end / 1024).toFixed(1)} MiB | ${pct(gc.growth)} |`);
    p(`| serve (host) RSS | ${(gs.warm / 1024).toFixed(1)} MiB | ${(gs.end / 1024).toFixed(1)} MiB | ${pct(gs.growth)} |`);
    p(`| renderer JS heap | ${(gh.warm / 1024).toFixed(1)} MiB | ${(gh.end / 1024).toFixed(1)} MiB | ${pct(gh.growth)} |`);
    p();
    p('Target: flat within 10 % after warm-up.');
    p();
    p(plot(mem.samples, (s) => s.collectorRssKb, 'Collector RSS'));
    p();
    p(plot(mem.samples, (s) => s.rendererHeapKb, 'Renderer JS heap'));
    p();
  }
  if (r.soak?.length) renderSoak(r.soak, p);
  // Analysis that outlives one run (what the figures showed, what was changed, before/after): kept by hand.
  const findings = path.join(import.meta.dirname, 'findings.md');
  if (existsSync(findings)) p(readFileSync(findings, 'utf8').trimEnd());
  return out.join('\n') + '\n';
}

const mib = (kb: number) => (Number.isFinite(kb) ? `${(kb / 1024).toFixed(1)} MiB` : '–');
const signed = (x: number) => (Number.isFinite(x) ? `${x >= 0 ? '+' : '−'}${Math.abs(x * 100).toFixed(1)} %` : '–');

function renderSoak(runs: SoakResult[], p: (s?: string) => void): void {
  const rateOf = (x: SoakResult) => (x.rate ? `${num(x.rate)}/s` : 'ceiling');
  p('## Soak: short-lived connections through nettop');
  p();
  p(
    `nettop (\`--interval 1\` on lo) run as the app runs it: the host session (\`host/session.node.ts\`, in a process of its own: \`test/bench/soak-host.ts\`, bundled like the CLI) starts \`${runs[0]!.collectorScript}\`, which confines itself (a supervisor and, through setpriv, the collector proper that runs the probe). ` +
      `Load: \`npgen conns\`, ${runs[0]!.workers} long-lived generator processes sharing one pace, each connection a new socket: connect, a 16-byte request, close (FIN, client first: loopback reuses the TIME_WAIT ports), against \`npgen echo tcp\` (accept, read, close). ` +
      'Sampled every second: VmRSS of the three processes, the probe\'s counters as the host receives them, TIME_WAIT sockets' +
      (runs.some((x) => x.gauges === 'inspector')
        ? ", and the sizes of nettop's bounded tables, read from the running collector through its inspector (opened with SIGUSR1; `NettopEngine.settle()` wrapped on the live engine to note the largest sizes, read once a second; see *Gauges* in `test/bench/soak.ts`)."
        : '.'),
  );
  p();
  p('*Warm* is the median RSS over the samples from 10 % to 15 % of the connections, *final* over the last 5 %, *max* the largest sample after the warm-up, *trend* the rise of a least-squares line through the samples after the warm-up (RSS against connections made) over the run, against warm. Flat: final and trend within 10 % of warm (*max* also carries single samples taken before a garbage collection).');
  p();
  p('| load | connections (failed) | took | series | idle | warm | final | max | max / warm | final / warm | trend | flat |');
  p('|---|---|---|---|---|---|---|---|---|---|---|---|');
  for (const x of runs) {
    const head = `| ${rateOf(x)} (${num(x.connRate)}/s reached) | ${num(x.connections)} (${num(x.failed)}) | ${x.seconds.toFixed(0)} s |`;
    const series: [string, (s: SoakSample) => number, number][] = [
      ['collector proper', (s) => s.collectorRssKb, x.idle.collectorRssKb],
      ['supervisor', (s) => s.supervisorRssKb, x.idle.supervisorRssKb],
      ['host', (s) => s.hostRssKb, x.idle.hostRssKb],
    ];
    if (x.samples.some((s) => s.gauges?.heapTotalKb)) {
      // Inside the collector: V8's heap (used, and reserved) and memory outside it (Buffers and other external memory).
      series.push(
        ['↳ collector JS heap used', (s) => s.gauges?.heapUsedKb ?? NaN, NaN],
        ['↳ collector JS heap reserved', (s) => s.gauges?.heapTotalKb ?? NaN, NaN],
        ['↳ collector external', (s) => s.gauges?.externalKb ?? NaN, NaN],
      );
    }
    series.forEach(([name, pick, idle], i) => {
      const g = soakSeries(x, pick);
      const verdict = name.startsWith('↳') ? '' : g.flat ? 'yes' : '**no**';
      p(`${i ? '| | | |' : head} ${name} | ${mib(idle)} | ${mib(g.warm)} | ${mib(g.final)} | ${mib(g.max)} | ${signed(g.maxGrowth)} | ${signed(g.finalGrowth)} | ${signed(g.trend)} | ${verdict} |`);
    });
  }
  p();
  p(`Target: collector and host RSS flat within 10 % after warm-up. Runs: ${runs.map((x) => `${rateOf(x)} on ${x.date?.slice(0, 10) ?? '?'} at commit ${x.commit ?? '?'}`).join('; ')}. *↳* rows are the collector's own \`process.memoryUsage()\`, largest in each second (JS heap used swings with every collection: its *max* says little).`);
  p();
  const gauges = runs.some((x) => x.samples.some((s) => s.gauges));
  p("nettop's tables and counters over each run (peaks of once-a-second samples; *bound* is the engine's limit). The counters are cumulative; *hold overflow* and *trace evicted* count what a full table turned away.");
  p();
  p(`| load | ${gauges ? 'flow cache (bound 16,384) | held flows (bound 16,384) | held packets kept one by one (≤ 16 a flow) | held packets waiting | recent endpoints: keys (16,384) / entries (≤ 8 a key) | ' : ''}packets held (total) | hold overflow | trace evicted | trace overruns | kernel drops | frames | unknown | to the generator and server | /proc scans (ms) | TIME_WAIT peak |`);
  p(`|---|${gauges ? '---|---|---|---|---|' : ''}---|---|---|---|---|---|---|---|---|---|`);
  for (const x of runs) {
    const g = (k: keyof NonNullable<SoakSample['gauges']>) => num(soakPeak(x, (s) => s.gauges?.[k]));
    const f = x.final;
    const inRows = x.packets.ours + x.packets.kernel + x.packets.unknown + x.packets.other;
    p(
      `| ${rateOf(x)} | ${gauges ? `${g('flows')} | ${g('heldFlows')} | ${g('heldKept')} | ${g('heldPackets')} | ${g('recentKeys')} / ${g('recentEntries')} | ` : ''}${num(f.held ?? NaN)} | ${num(f.holdOverflow ?? NaN)} | ${num(f.traceEvicted ?? NaN)} | ${num(f.traceOverruns ?? NaN)} | ${num(f.kernelDrops ?? NaN)} | ${num(f.frames ?? NaN)} | ${num(f.unknown ?? NaN)} | ${pct(inRows ? x.packets.ours / inRows : NaN, 2)} | ${num(f.scans ?? NaN)} (${num(f.scanMs ?? NaN)}) | ${num(soakPeak(x, (s) => s.timeWait))} |`,
    );
  }
  p();
  for (const x of runs) {
    p(plot(x.samples, (s) => s.collectorRssKb, `Collector proper RSS, ${rateOf(x)}`));
    p();
    p(plot(x.samples, (s) => s.hostRssKb, `Host RSS, ${rateOf(x)}`));
    p();
    if (x.samples.some((s) => s.gauges?.heapTotalKb)) {
      p(plot(x.samples.filter((s) => s.gauges?.heapTotalKb), (s) => s.gauges!.heapTotalKb, `Collector JS heap reserved (heapTotal), ${rateOf(x)}`));
      p();
    }
  }
}
