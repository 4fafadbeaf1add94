// The row path alone: rows/s from the real collector (tcpdump on lo) through the host
// (host/session.node.ts) and on to a WebSocket client of serve, at fixed UDP rates, and the
// host's CPU per 10k rows from /proc/PID/schedstat. The host runs in a child process (this
// file with --host) so its CPU is its own, not the sender's or the client's.
//
//   node scripts/build.mjs && node --import tsx test/bench/row-path.ts [RATE ...] [--seconds N]

import path from 'node:path';
import { WebSocket } from 'ws';
import { buildGenerator, cleanupAll, CpuMeter, gen, port, ROOT, sleep, start, stat } from './lib.ts';

const HOST_MODE = process.argv.includes('--host');

async function hostMain(): Promise<void> {
  const { Session } = await import('../../host/session.node.ts');
  const { startServer } = await import('../../cli/serve.node.ts');
  const session = new Session({ collectorScript: path.join(ROOT, 'dist', 'collector.js'), frontEnd: 'browser', elevatedLauncher: null, saveFile: null });
  let rows = 0;
  session.subscribe((e) => {
    if (e.type === 'rows') rows += e.rows.length;
  });
  const token = 'rowpathbenchtoken0123456789';
  const served = await startServer({ host: '127.0.0.1', port: 0, token }, session, path.join(ROOT, 'dist', 'renderer'), () => {});
  process.stdout.write(`url=${served.url.replace(/^http/, 'ws').replace(/\/\?.*$/, '')}/ws?token=${token}\n`);
  setInterval(() => process.stdout.write(`hostrows=${rows}\n`), 100);
  process.on('SIGINT', () => {
    session.shutdown();
    void served.close().finally(() => process.exit(0));
  });
}

interface Run {
  rate: number;
  hostRowsPerSec: number;
  wsRowsPerSec: number;
  cpuPer10k: number;
  hostCores: number;
}

async function measure(rate: number, seconds: number): Promise<Run> {
  const host = start(process.execPath, ['--import', 'tsx', import.meta.filename, '--host'], { cwd: ROOT });
  const url = (await host.waitFor(/url=(\S+)/))[1]!;
  const hostRows = () => Number([...host.out().matchAll(/hostrows=(\d+)/g)].at(-1)?.[1] ?? 0);
  const ws = new WebSocket(url, { origin: new URL(url.replace(/^ws/, 'http')).origin });
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  let wsRows = 0;
  const replies = new Map<number, (v: { ok: boolean; error: string | null }) => void>();
  ws.on('message', (data) => {
    const m = JSON.parse(String(data)) as { id?: number; ok: boolean; error: string | null; event?: { type: string; rows?: unknown[] } };
    if (m.event?.type === 'rows') wsRows += m.event.rows!.length;
    else if (m.id !== undefined) replies.get(m.id)?.(m);
  });
  let nextId = 1;
  const request = (req: object) =>
    new Promise<{ ok: boolean; error: string | null }>((resolve) => {
      const id = nextId++;
      replies.set(id, resolve);
      ws.send(JSON.stringify({ id, request: req }));
    });
  const p = port();
  const sink = gen(['recv', p, seconds + 30]);
  const started = await request({ type: 'start', probe: 'tcpdump', options: { ifaces: ['lo'], filter: `udp dst port ${p}`, bothDirections: false } });
  if (!started.ok) throw new Error(`start: ${started.error}`);
  await sleep(1500);
  const cpu = new CpuMeter(host.pid);
  const h0 = hostRows();
  const w0 = wsRows;
  const t0 = performance.now();
  cpu.begin();
  const flood = gen(['udp', p, rate, seconds]);
  await flood.done;
  await sleep(600); // the last flush
  cpu.end();
  const elapsed = (performance.now() - t0) / 1000;
  const h = hostRows() - h0;
  const w = wsRows - w0;
  await request({ type: 'stop', probe: 'tcpdump' });
  ws.close();
  await sink.stop();
  await host.stop();
  const cpuNs = cpu.cores * elapsed * 1e9;
  return { rate, hostRowsPerSec: h / seconds, wsRowsPerSec: w / seconds, cpuPer10k: h ? cpuNs / 1e6 / (h / 1e4) : NaN, hostCores: cpu.cores };
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('row-path: run as root (the collector captures on lo)');
  const args = process.argv.slice(2);
  const si = args.indexOf('--seconds');
  const seconds = si >= 0 ? Number(args.splice(si, 2)[1]) : 8;
  const rates = args.length ? args.map(Number) : [10_000, 40_000];
  const repeats = Number(process.env.ROW_PATH_REPEATS ?? 3);
  buildGenerator();
  for (const rate of rates) {
    const runs: Run[] = [];
    for (let i = 0; i < repeats; i++) runs.push(await measure(rate, seconds));
    const m = (f: (r: Run) => number) => stat(runs.map(f));
    const fmt = (s: ReturnType<typeof stat>, d = 0) => `${s.median.toFixed(d)} (${s.min.toFixed(d)}–${s.max.toFixed(d)})`;
    console.log(
      `rate ${rate}/s, ${seconds} s × ${repeats}: host ${fmt(m((r) => r.hostRowsPerSec))} rows/s, ws client ${fmt(m((r) => r.wsRowsPerSec))} rows/s, ` +
        `host CPU ${fmt(m((r) => r.cpuPer10k), 1)} ms per 10k rows (${fmt(m((r) => r.hostCores * 100), 1)} % of a core)`,
    );
  }
}

if (HOST_MODE) void hostMain();
else
  main()
    .catch((e: Error) => {
      console.error(e.stack ?? e.message);
      process.exitCode = 1;
    })
    .finally(() => cleanupAll());
