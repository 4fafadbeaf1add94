// `netprobes exporter` under load (as root): the series it shows under a churn
// of short-lived processes (`npgen churn`), and its CPU and scrape time at a
// 100k packets/s UDP flood. Scraped here once a second, as a Prometheus with a
// 1 s interval would. Prints a Markdown summary (test/bench/findings.md has the
// figures). Usage: node --import tsx test/bench/exporter.ts [--seconds S]

import { buildGenerator, cleanupAll, CpuMeter, gen, netprobes, percentile, port, rssKb, sleep } from './lib.ts';

const argSeconds = process.argv.indexOf('--seconds');
const SECONDS = argSeconds > 0 ? Number(process.argv[argSeconds + 1]) : 30;

interface Scrapes {
  ms: number[];
  /** Per scrape: nettop's series (one metric's lines), and every sample line. */
  processSeries: number[];
  samples: number[];
  last: string;
}

function scraper(url: string): { stop: () => Promise<Scrapes> } {
  const s: Scrapes = { ms: [], processSeries: [], samples: [], last: '' };
  let on = true;
  const loop = (async () => {
    while (on) {
      const t0 = performance.now();
      const text = await (await fetch(url)).text();
      s.ms.push(performance.now() - t0);
      s.processSeries.push(text.split('\n').filter((l) => l.startsWith('netprobes_process_transmit_bytes_total{')).length);
      s.samples.push(text.split('\n').filter((l) => l && !l.startsWith('#')).length);
      s.last = text;
      await sleep(1000);
    }
  })();
  return {
    stop: async () => {
      on = false;
      await loop;
      return s;
    },
  };
}

const value = (text: string, re: RegExp) => Number(re.exec(text)?.[1] ?? NaN);

async function exporterRun(args: string[]) {
  const listen = port();
  const ex = netprobes(['exporter', '--listen', `127.0.0.1:${listen}`, ...args]);
  await ex.waitFor(/serving/, 30_000);
  return { ex, url: `http://127.0.0.1:${listen}/metrics` };
}

async function churn(top: number, ttl: number, procsPerSec: number) {
  const p = port();
  const server = gen(['echo', 'udp', p, SECONDS + 30]);
  await server.waitFor(/ready/);
  const { ex, url } = await exporterRun(['--probes', 'nettop', '--interval', '1', '--top', String(top), '--series-ttl', String(ttl)]);
  const scrapes = scraper(url);
  const cpu = new CpuMeter(ex.pid);
  cpu.begin();
  const g = gen(['churn', 'udp', p, procsPerSec, 10, SECONDS]);
  await g.done;
  cpu.end();
  await sleep(3000);
  const s = await scrapes.stop();
  const rss = rssKb(ex.pid);
  await Promise.all([ex.stop(), server.stop('SIGTERM')]);
  const children = [...g.out().matchAll(/^child=(\d+)$/gm)].length;
  const t = s.last;
  return {
    top,
    ttl,
    children,
    maxProcessSeries: Math.max(...s.processSeries),
    maxSamples: Math.max(...s.samples),
    own: value(t, /netprobes_exporter_series\{probe="nettop",kind="own"\} (\d+)/),
    other: value(t, /netprobes_exporter_series\{probe="nettop",kind="other"\} (\d+)/),
    created: value(t, /change="created"\} (\d+)/),
    expired: value(t, /change="expired"\} (\d+)/),
    evicted: value(t, /change="evicted"\} (\d+)/),
    otherRows: value(t, /netprobes_exporter_other_rows_total\{probe="nettop"\} (\d+)/),
    scrapeP50: percentile(s.ms, 50),
    scrapeMax: Math.max(...s.ms),
    cpu: cpu.cores,
    rssMb: rss / 1024,
  };
}

async function flood(rate: number) {
  const p = port();
  const recv = gen(['recv', p, SECONDS + 30]);
  await recv.waitFor(/ready/).catch(() => sleep(300));
  const { ex, url } = await exporterRun(['--probes', 'nettop', '--interval', '1']);
  const scrapes = scraper(url);
  await sleep(1000);
  const cpu = new CpuMeter(ex.pid);
  cpu.begin();
  const g = gen(['udp', p, rate, SECONDS]);
  await g.done;
  cpu.end();
  await sleep(2500);
  const s = await scrapes.stop();
  await Promise.all([ex.stop(), recv.stop('SIGTERM')]);
  const sent = Number(/^sent=(\d+)$/m.exec(g.out())?.[1] ?? NaN);
  const tx = value(s.last, new RegExp(`netprobes_process_transmit_packets_total\\{pid="${g.pid}",[^}]*\\} (\\d+)`));
  return {
    rate,
    sent,
    achieved: sent / SECONDS,
    exporterTx: tx,
    kernelDrops: value(s.last, /netprobes_lost_total\{probe="nettop",cause="kernelDrops"\} (\d+)/),
    cpu: cpu.cores,
    scrapeP50: percentile(s.ms, 50),
    scrapeP99: percentile(s.ms, 99),
    scrapeMax: Math.max(...s.ms),
    samples: Math.max(...s.samples),
  };
}

async function main() {
  buildGenerator();
  const out: string[] = [`exporter bench, ${SECONDS} s per load, ${new Date().toISOString()}`, ''];
  out.push('| churn: processes/s | --top | --series-ttl | processes | max nettop series (one metric) | own / other at end | created / evicted / expired | rows to other | max samples a scrape | scrape p50 / max ms | exporter CPU | RSS MiB |');
  out.push('|---|---|---|---|---|---|---|---|---|---|---|---|');
  for (const [top, ttl] of [[100, 300], [100, 10]] as const) {
    const r = await churn(top, ttl, 200);
    out.push(`| 200 | ${r.top} | ${r.ttl} s | ${r.children} | ${r.maxProcessSeries} | ${r.own} / ${r.other} | ${r.created} / ${r.evicted} / ${r.expired} | ${r.otherRows} | ${r.maxSamples} | ${r.scrapeP50.toFixed(1)} / ${r.scrapeMax.toFixed(1)} | ${(r.cpu * 100).toFixed(1)} % | ${r.rssMb.toFixed(0)} |`);
    process.stderr.write(`${out.at(-1)}\n`);
  }
  out.push('', '| flood: packets/s asked | sent/s | sender\'s packets in /metrics | of sent | kernel drops | exporter CPU | scrape p50 / p99 / max ms | samples a scrape |', '|---|---|---|---|---|---|---|---|');
  for (const rate of [100_000]) {
    const r = await flood(rate);
    out.push(`| ${r.rate} | ${Math.round(r.achieved)} | ${r.exporterTx} | ${((100 * r.exporterTx) / r.sent).toFixed(2)} % | ${r.kernelDrops} | ${(r.cpu * 100).toFixed(1)} % | ${r.scrapeP50.toFixed(1)} / ${r.scrapeP99.toFixed(1)} / ${r.scrapeMax.toFixed(1)} | ${r.samples} |`);
    process.stderr.write(`${out.at(-1)}\n`);
  }
  process.stdout.write(out.join('\n') + '\n');
}

main()
  .catch((e) => {
    process.stderr.write(`${(e as Error).stack}\n`);
    process.exitCode = 1;
  })
  .finally(() => void cleanupAll());
