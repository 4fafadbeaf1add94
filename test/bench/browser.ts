// The browser UI against `netprobes serve` in Chromium (playwright-core): time from clicking Start to the
// first row on screen, frame times and input latency while the Packets tab receives a stream, and memory
// (collector RSS, renderer JS heap) over a long stream.

import { readFileSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';
import { childrenOf, gen, kv, netprobes, onCleanup, percentile, port, rssKb, sleep, stat, type Proc, type Stat } from './lib.ts';
import { CHROMIUM_ARGS } from '../helpers/env.ts';

const CHROMIUM = '/usr/bin/chromium';

export interface UiResult {
  rowsPerSec: number;
  firstRowMs: Stat;
  frames: FrameStat;
  /** With a column sort active (Length, descending). */
  framesSorted?: FrameStat;
  /** Typing in Find, the sort still active. */
  framesTyping: FrameStat;
  /** Long tasks (over 50 ms, PerformanceObserver 'longtask') over the three phases, and the longest. */
  longTasks?: { count: number; maxMs: number };
  /** How Chromium drew: --disable-gpu, so software rasterization. */
  raster?: string;
  inputLatency: { count: number; p50: number; p95: number; max: number };
  rowsShownAtEnd: string;
}

export interface FrameStat {
  count: number;
  p50: number;
  p95: number;
  max: number;
  over16: number;
}

const frameStat = (f: number[]): FrameStat => ({ count: f.length, p50: percentile(f, 50), p95: percentile(f, 95), max: Math.max(...f), over16: f.filter((x) => x > 16.7).length / f.length });

export interface MemorySample {
  t: number;
  collectorRssKb: number;
  serveRssKb: number;
  rendererHeapKb: number;
  rows: string;
}

export interface MemoryResult {
  rate: number;
  seconds: number;
  samples: MemorySample[];
  sent: number;
}

class Session {
  private constructor(
    readonly serve: Proc,
    readonly browser: Browser,
    readonly page: Page,
  ) {}

  static async open(): Promise<Session> {
    const serve = netprobes(['serve']);
    const url = (await serve.waitFor(/http:\/\/127\.0\.0\.1:\d+\/\?token=[0-9a-f]+/))[0];
    // No D-Bus: a system bus that another program stops mid-run makes Chromium abort ("D-Bus connection was disconnected").
    const env = { ...process.env, DBUS_SYSTEM_BUS_ADDRESS: 'unix:path=/nonexistent', DBUS_SESSION_BUS_ADDRESS: 'unix:path=/nonexistent' };
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, env });
    onCleanup(() => browser.close());
    const page = await (await browser.newContext({ viewport: { width: 1280, height: 800 } })).newPage();
    await page.goto(url);
    await page.getByRole('tab', { name: /^Packets/ }).click();
    // The counters read below are one click away since the health line (a build before it shows them at once).
    const counters = page.getByRole('region', { name: 'Packets' }).getByRole('button', { name: 'Counters' });
    if (await counters.count()) await counters.click();
    return new Session(serve, browser, page);
  }

  get panel() {
    return this.page.getByRole('region', { name: 'Packets' });
  }

  async configure(filter: string): Promise<void> {
    await this.panel.getByLabel('Interface').selectOption('lo');
    await this.panel.getByLabel('Filter').fill(filter);
  }

  /** Clicks Start; returns ms from the click to the first row painted (a frame after it is in the DOM). */
  async startAndTimeFirstRow(): Promise<number> {
    await this.page.evaluate(() => {
      const w = window as unknown as { __first: { click: number; row: number } };
      w.__first = { click: 0, row: 0 };
      document.addEventListener('click', () => (w.__first.click = performance.now()), { capture: true, once: true });
      const table = document.querySelector('[role=table][aria-label="Packets rows"]') ?? document.body;
      const mo = new MutationObserver(() => {
        if (w.__first.click && !w.__first.row && table.querySelector('[role=row]:not(.vt-head):not(.vt-empty)')) {
          const t = performance.now();
          requestAnimationFrame(() => (w.__first.row = w.__first.row || Math.max(t, performance.now())));
          mo.disconnect();
        }
      });
      mo.observe(table, { childList: true, subtree: true });
    });
    await this.panel.getByRole('button', { name: 'Start' }).click();
    await this.page.waitForFunction(() => (window as unknown as { __first: { row: number } }).__first.row > 0, null, { timeout: 20_000 });
    return this.page.evaluate(() => {
      const f = (window as unknown as { __first: { click: number; row: number } }).__first;
      return f.row - f.click;
    });
  }

  async stopProbe(): Promise<void> {
    await this.panel.getByRole('button', { name: 'Stop' }).click();
    await this.panel.getByRole('button', { name: 'Start' }).waitFor();
  }

  /** The collector proper: serve's collector child, or (confined) that supervisor's `--confined` child, which runs the probes. */
  collectorPid(): number {
    const cmd = (pid: number) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      } catch {
        return '';
      }
    };
    for (const pid of childrenOf(this.serve.pid)) {
      if (!cmd(pid).includes('collector')) continue;
      return childrenOf(pid).find((c) => cmd(c).includes('--confined')) ?? pid;
    }
    return -1;
  }

  async close(): Promise<void> {
    await this.browser.close();
    await this.serve.stop();
  }
}

export async function uiRun(rowsPerSec: number, seconds: number, firstRowTries: number): Promise<UiResult> {
  const p = port();
  const sink = gen(['recv', p, seconds + firstRowTries * 10 + 60]);
  await sink.waitFor(/ready/);
  const flood = gen(['udp', p, rowsPerSec, seconds + firstRowTries * 10 + 30]);
  const s = await Session.open();
  try {
    await s.configure(`udp dst port ${p}`);
    const firsts: number[] = [];
    for (let i = 0; i < firstRowTries; i++) {
      if (i) {
        await s.stopProbe();
        await sleep(500);
      }
      firsts.push(await s.startAndTimeFirstRow());
    }
    await sleep(1000); // the table fills and scrolls
    const { page } = s;
    // A string, not a function: the TypeScript loader would wrap named inner functions in a helper the page lacks.
    await page.evaluate(`(() => {
      const perf = (window.__perf = { frames: [], lat: [], long: [], on: true });
      new PerformanceObserver((list) => { for (const e of list.getEntries()) perf.long.push(e.duration); }).observe({ type: 'longtask' });
      let last = performance.now();
      function tick(t) {
        perf.frames.push(t - last);
        last = t;
        if (perf.on) requestAnimationFrame(tick);
      }
      requestAnimationFrame((t) => { last = t; requestAnimationFrame(tick); });
      document.addEventListener('keydown', (e) => {
        const t0 = e.timeStamp;
        requestAnimationFrame(() => setTimeout(() => perf.lat.push(performance.now() - t0), 0));
      }, { capture: true });
    })()`);
    // Phase 1: streaming only. Phase 2: sorted by Length, descending (new rows merged into the sort every frame).
    // Phase 3: the sort kept, a key press in Find every 200 ms (each one refilters every row held).
    await sleep(seconds * 1000);
    const split = (await page.evaluate('window.__perf.frames.length')) as number;
    const length = s.panel.getByRole('table', { name: 'Packets rows' }).getByRole('columnheader', { name: /Length/ });
    await length.click();
    await length.click();
    await sleep(seconds * 1000);
    const split2 = (await page.evaluate('window.__perf.frames.length')) as number;
    const find = s.panel.getByLabel('Find in rows');
    await find.focus();
    const end = Date.now() + seconds * 1000;
    while (Date.now() < end) {
      await page.keyboard.press('1');
      await sleep(200);
      await page.keyboard.press('Backspace');
      await sleep(200);
    }
    const perf = await page.evaluate(() => {
      const w = window as unknown as { __perf: { frames: number[]; lat: number[]; long: number[]; on: boolean } };
      w.__perf.on = false;
      return { frames: w.__perf.frames, lat: w.__perf.lat, long: w.__perf.long };
    });
    const rowsShownAtEnd = (await s.panel.locator('[data-counter="rows"]').textContent()) ?? '';
    await s.stopProbe();
    return {
      rowsPerSec,
      firstRowMs: stat(firsts),
      frames: frameStat(perf.frames.slice(0, split)),
      framesSorted: frameStat(perf.frames.slice(split, split2)),
      framesTyping: frameStat(perf.frames.slice(split2)),
      longTasks: { count: perf.long.length, maxMs: perf.long.length ? Math.max(...perf.long) : 0 },
      raster: 'software (Chromium --disable-gpu, no GPU on this machine)',
      inputLatency: { count: perf.lat.length, p50: percentile(perf.lat, 50), p95: percentile(perf.lat, 95), max: Math.max(...perf.lat) },
      rowsShownAtEnd,
    };
  } finally {
    await s.close();
    await Promise.all([flood.stop('SIGTERM'), sink.stop('SIGTERM')]);
  }
}

const within = <T>(p: Promise<T>, ms: number): Promise<T | null> =>
  Promise.race([p, new Promise<null>((r) => setTimeout(() => r(null), ms).unref())]);

export async function memoryRun(rate: number, seconds: number, everyS: number, log: (s: string) => void): Promise<MemoryResult> {
  const p = port();
  const sink = gen(['recv', p, seconds + 90]);
  await sink.waitFor(/ready/);
  const s = await Session.open();
  let flood: Proc | null = null;
  try {
    await s.configure(`udp dst port ${p}`);
    flood = gen(['udp', p, rate, seconds + 60]);
    await s.panel.getByRole('button', { name: 'Start' }).click();
    const cdp = await s.page.context().newCDPSession(s.page);
    const samples: MemorySample[] = [];
    const t0 = Date.now();
    while (Date.now() - t0 < seconds * 1000) {
      // A renderer that cannot keep up answers late: a sample that takes over 5 s is recorded as missing.
      const heap = (await within(cdp.send('Runtime.getHeapUsage'), 5000)) as { usedSize: number } | null;
      const sample: MemorySample = {
        t: (Date.now() - t0) / 1000,
        collectorRssKb: rssKb(s.collectorPid()),
        serveRssKb: rssKb(s.serve.pid),
        rendererHeapKb: heap ? Math.round(heap.usedSize / 1024) : NaN,
        rows: (await within(s.panel.locator('[data-counter="rows"]').textContent({ timeout: 5000 }), 5000).catch(() => null)) ?? '',
      };
      samples.push(sample);
      if (samples.length % 10 === 1) log(`  t=${sample.t.toFixed(0)}s collector ${(sample.collectorRssKb / 1024).toFixed(1)} MiB, heap ${(sample.rendererHeapKb / 1024).toFixed(1)} MiB, rows ${sample.rows}`);
      await sleep(everyS * 1000);
    }
    await flood.stop('SIGTERM');
    return { rate, seconds, samples, sent: kv(flood.out()).sent ?? NaN };
  } finally {
    await s.close();
    await Promise.all([flood?.stop('SIGTERM'), sink.stop('SIGTERM')]);
  }
}
