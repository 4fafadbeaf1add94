// `netprobes exporter` scraped by a real Prometheus (Debian's, started here on
// a free loopback port, a temporary data directory and a 1 s scrape interval,
// stopped by its PID at the end) while real processes exchange known traffic:
//  - `netprobes exporter --listen 127.0.0.1:PORT --probes nettop` (the probes
//    in-process) and the same through the confined collector (`--via
//    collector`): 200 UDP datagrams of 1000 bytes from one process to another
//    give, through Prometheus' HTTP API, exactly 200 packets and 200 × 1042
//    frame bytes sent by the sender's PID and received by the receiver's, and
//    increase() over the window says the same;
//  - a third exporter with dropwatch and tcp-connections sees datagrams to a
//    closed port (drops) and an accepted connection;
//  - an exporter listening beyond loopback, with TLS and a bearer token, is
//    scraped by that Prometheus with its own tls_config and credentials_file,
//    and refuses a request without the token;
//  - every expression of the Grafana dashboard returns series from that
//    Prometheus, and it loads and evaluates the example alert rules.
// Traffic goes to loopback only.

import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { after, test } from 'node:test';
import { need } from '../helpers/env.ts';
import { CLI, ROOT, sleep, waitForOutput } from '../helpers/run.ts';

const PEER = path.join(ROOT, 'test', 'integration', 'nettop-peer.mjs');
const DASHBOARD = path.join(ROOT, 'resources', 'grafana', 'netprobes.json');
const RULES = path.join(ROOT, 'resources', 'prometheus', 'alerts.yml');
const COUNT = 200;
const SIZE = 1000;
/** A 1000-byte UDP payload on lo: 14 (Ethernet) + 20 (IPv4) + 8 (UDP) + 1000. */
const FRAME = 1042;

const cleanups: (() => Promise<void> | void)[] = [];
after(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

/** Stops a child we started, by its PID: `signal`, then SIGKILL if it is still there after 5 s. */
function stopper(child: ChildProcess, signal: NodeJS.Signals): () => Promise<void> {
  return async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    process.kill(child.pid!, signal);
    const t = setTimeout(() => child.exitCode === null && process.kill(child.pid!, 'SIGKILL'), 5000);
    await exited;
    clearTimeout(t);
  };
}

async function exporter(args: string[], serving = /serving .* at http:\/\/127\.0\.0\.1:\d+\/metrics/): Promise<{ child: ChildProcess; stderr: () => string }> {
  const child = spawn(process.execPath, [CLI, 'exporter', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  cleanups.push(stopper(child, 'SIGINT'));
  await waitForOutput(child, serving, 30_000).catch((e: Error) => {
    throw new Error(`${e.message}\n${stderr}`);
  });
  return { child, stderr: () => stderr };
}

interface Peer {
  pid: number;
  next(pred: (m: Record<string, unknown>) => boolean): Promise<Record<string, unknown>>;
}

function peer(name: string, args: (string | number)[]): Peer {
  const child = spawn(process.execPath, [PEER, name, ...args.map(String)], { stdio: ['pipe', 'pipe', 'inherit'] });
  const seen: Record<string, unknown>[] = [];
  const waiters: (() => void)[] = [];
  createInterface({ input: child.stdout! }).on('line', (line) => {
    seen.push(JSON.parse(line) as Record<string, unknown>);
    for (const w of waiters.splice(0)) w();
  });
  cleanups.push(async () => {
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    child.stdin!.end();
    await exited;
  });
  return {
    pid: child.pid!,
    next: (pred) =>
      new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`${name}: no such message; got ${JSON.stringify(seen.slice(-3))}`)), 30_000);
        const check = () => {
          const m = seen.find(pred);
          if (!m) return void waiters.push(check);
          clearTimeout(t);
          resolve(m);
        };
        check();
      }),
  };
}

type Sample = { metric: Record<string, string>; value: [number, string] };

test('exporter scraped by a real Prometheus: exact per-process counts, every dashboard expression, the alert rules', { timeout: 180_000 }, async (t) => {
  if (!need(t, 'root')) return;
  const [portA, portC, portB, portD, portP] = [await freePort(), await freePort(), await freePort(), await freePort(), await freePort()];
  const dir = mkdtempSync(path.join(os.tmpdir(), 'np18-prometheus-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));

  // The command, the same through the collector, and the other two probes.
  const a = await exporter(['--listen', `127.0.0.1:${portA}`, '--probes', 'nettop', '--interval', '1']);
  const c = await exporter(['--listen', `127.0.0.1:${portC}`, '--probes', 'nettop', '--interval', '1', '--via', 'collector']);
  const b = await exporter(['--listen', `127.0.0.1:${portB}`, '--probes', 'dropwatch,tcp-connections', '--interval', '1']);
  // Beyond loopback: TLS (a certificate for 127.0.0.1 made here) and a bearer token, in Prometheus' own formats.
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=np18', '-addext', 'subjectAltName=IP:127.0.0.1',
    '-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'cert.pem')], { stdio: 'ignore' });
  writeFileSync(path.join(dir, 'web.yml'), 'tls_server_config:\n  cert_file: cert.pem\n  key_file: key.pem\n');
  writeFileSync(path.join(dir, 'token'), 'np18-scrape-token-0123456789abcdef\n', { mode: 0o600 });
  const d = await exporter(['--listen', `0.0.0.0:${portD}`, '--probes', 'tcp-connections', '--web-config', path.join(dir, 'web.yml'), '--bearer-token-file', path.join(dir, 'token')], /https:\/\/0\.0\.0\.0:\d+/);
  const config = path.join(dir, 'prometheus.yml');
  writeFileSync(
    config,
    [
      'global: { scrape_interval: 1s, evaluation_interval: 1s }',
      `rule_files: [${JSON.stringify(RULES)}]`,
      'scrape_configs:',
      '  - job_name: netprobes',
      `    static_configs: [{ targets: ["127.0.0.1:${portA}", "127.0.0.1:${portC}", "127.0.0.1:${portB}"] }]`,
      '  - job_name: netprobes-tls',
      '    scheme: https',
      `    tls_config: { ca_file: ${JSON.stringify(path.join(dir, 'cert.pem'))} }`,
      `    authorization: { type: Bearer, credentials_file: ${JSON.stringify(path.join(dir, 'token'))} }`,
      `    static_configs: [{ targets: ["127.0.0.1:${portD}"] }]`,
      '',
    ].join('\n'),
  );
  const prometheus = spawn(
    'prometheus',
    [`--config.file=${config}`, `--storage.tsdb.path=${path.join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${portP}`, '--log.level=warn'],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let promLog = '';
  prometheus.stderr!.on('data', (d: Buffer) => (promLog = (promLog + d.toString()).slice(-4000)));
  cleanups.push(stopper(prometheus, 'SIGTERM'));

  const api = async (what: string, params: Record<string, string>) => {
    const res = await fetch(`http://127.0.0.1:${portP}/api/v1/${what}?${new URLSearchParams(params)}`);
    const body = (await res.json()) as { status: string; data: { result: Sample[] }; error?: string };
    assert.equal(body.status, 'success', `${params.query}: ${body.error}`);
    return body.data;
  };
  const query = async (q: string, time?: number) => (await api('query', { query: q, ...(time !== undefined ? { time: time.toFixed(3) } : {}) })).result;
  const until = async <T>(what: string, probe: () => Promise<T | null>, ms = 45_000): Promise<T> => {
    const end = Date.now() + ms;
    for (;;) {
      const v = await probe().catch(() => null);
      if (v !== null) return v;
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}\nprometheus: ${promLog}\nexporters: ${a.stderr()}${c.stderr()}${b.stderr()}`);
      await sleep(250);
    }
  };
  await until('three exporters up', async () => ((await query('up{job="netprobes"} == 1')).length === 3 ? true : null));
  await until('the TLS exporter scraped with its token', async () => ((await query('up{job="netprobes-tls"} == 1')).length === 1 ? true : null));
  assert.equal(Number((await query('netprobes_probe_up{job="netprobes-tls",probe="tcp-connections"}'))[0]!.value[1]), 1);
  const ca = readFileSync(path.join(dir, 'cert.pem'));
  const status = (headers: Record<string, string>) =>
    new Promise<number>((resolve, reject) => {
      https.get(`https://127.0.0.1:${portD}/metrics`, { ca, headers }, (res) => resolve((res.resume(), res.statusCode!))).on('error', reject);
    });
  assert.equal(await status({}), 401);
  assert.equal(await status({ authorization: 'Bearer np18-scrape-token-0123456789abcdef' }), 200);
  assert.doesNotMatch(d.stderr(), /without TLS/, "TLS is on: no clear-text warning");

  // Traffic: 200 datagrams of 1000 bytes from one process to another.
  const receiver = peer('np18-recv', ['udp-recv', '127.0.0.1']);
  const port = (await receiver.next((m) => m.ready === true)).port as number;
  const sender = peer('np18-send', ['udp-send', '127.0.0.1', port, COUNT, SIZE]);
  await sender.next((m) => m.done === true);
  await receiver.next((m) => m.received === COUNT);

  // Drops (datagrams to a closed port: NO_SOCKET) and an accepted connection, for the other probes and the dashboard.
  const closed = dgram.createSocket('udp4');
  await new Promise<void>((r) => closed.bind(0, '127.0.0.1', () => r()));
  const closedPort = closed.address().port;
  await new Promise<void>((r) => closed.close(() => r()));
  const udp = dgram.createSocket('udp4');
  for (let i = 0; i < 20; i++) await new Promise<void>((r) => udp.send(Buffer.alloc(10), closedPort, '127.0.0.1', () => r()));
  udp.close();
  const server = net.createServer((s) => s.end());
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const acceptPort = (server.address() as net.AddressInfo).port;
  await new Promise<void>((r) => net.connect(acceptPort, '127.0.0.1').on('close', () => r()).on('error', () => r()).resume());
  server.close();

  // Exactly the traffic sent, per process, from both exporters, as Prometheus stored it.
  for (const instance of [`127.0.0.1:${portA}`, `127.0.0.1:${portC}`]) {
    const one = async (metric: string, pid: number, want: number) => {
      const sel = `${metric}{job="netprobes",instance="${instance}",pid="${pid}"}`;
      const [s] = await until(`${sel} = ${want}`, async () => {
        const r = await query(sel);
        return r.length === 1 && Number(r[0]!.value[1]) === want ? r : null;
      });
      assert.deepEqual(s!.metric.device, 'lo');
      assert.deepEqual(s!.metric.comm, pid === sender.pid ? 'np18-send' : 'np18-recv');
      // The series began at 0 (one scrape before its counts), so increase() at its newest sample counts all of them.
      const at = Number((await query(`timestamp(${sel})`))[0]!.value[1]);
      assert.equal(Number((await query(`min_over_time(${sel}[5m])`, at))[0]!.value[1]), 0, `${sel} began at 0`);
      const inc = await query(`increase(${sel}[1m])`, at);
      assert.equal(Number(inc[0]!.value[1]), want, `increase(${sel}[1m]) at ${at}`);
    };
    await one('netprobes_process_transmit_packets_total', sender.pid, COUNT);
    await one('netprobes_process_transmit_bytes_total', sender.pid, COUNT * FRAME);
    await one('netprobes_process_receive_packets_total', receiver.pid, COUNT);
    await one('netprobes_process_receive_bytes_total', receiver.pid, COUNT * FRAME);
    // Nothing else of theirs: the receiver sent nothing, the sender received nothing.
    assert.equal(Number((await query(`netprobes_process_receive_packets_total{instance="${instance}",pid="${sender.pid}"}`))[0]!.value[1]), 0);
    assert.equal(Number((await query(`netprobes_process_transmit_packets_total{instance="${instance}",pid="${receiver.pid}"}`))[0]!.value[1]), 0);
  }
  await until('the drops', async () => {
    const r = await query(`netprobes_drops_total{location="__udp4_lib_rcv",reason="NO_SOCKET",protocol="IPv4"}`);
    return r.length === 1 && Number(r[0]!.value[1]) >= 20 ? true : null;
  });
  const comm = readFileSync('/proc/self/comm', 'utf8').trim(); // the accepting thread: this one
  await until(`the accept on ${acceptPort} by ${comm}`, async () => ((await query(`netprobes_tcp_accepts_total{instance="127.0.0.1:${portB}",port="${acceptPort}",comm="${comm}"} == 1`)).length === 1 ? true : null));

  // Every expression of the dashboard returns series, with Grafana's variables as "all" and the intervals given.
  const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as { panels: { title: string; targets?: { expr: string }[] }[]; templating: { list: { query?: { query: string } | string }[] } };
  const exprs = dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title, expr: t.expr })));
  assert.ok(exprs.length >= 15, `${exprs.length} expressions`);
  const grafana = (e: string) => e.replaceAll('$__rate_interval', '1m').replaceAll('$__range', '5m').replaceAll('$instance', '.+').replaceAll('$device', '.+');
  for (const { panel, expr } of exprs) {
    const r = await query(grafana(expr));
    assert.ok(r.length > 0, `panel "${panel}": ${expr} returned no series`);
  }
  // The variables' label_values() queries, as series selectors through the series API.
  for (const v of dashboard.templating.list) {
    if (typeof v.query !== 'object') continue; // the data source variable
    const m = /^label_values\((.+), (\w+)\)$/.exec(v.query.query)!;
    const res = await fetch(`http://127.0.0.1:${portP}/api/v1/label/${m[2]}/values?${new URLSearchParams({ 'match[]': grafana(m[1]!) })}`);
    const values = ((await res.json()) as { data: string[] }).data;
    assert.ok(values.length > 0, `variable query ${v.query.query}`);
  }

  // Prometheus loaded the example rules and evaluates them without error.
  const rules = await until('rules evaluated', async () => {
    const res = (await (await fetch(`http://127.0.0.1:${portP}/api/v1/rules`)).json()) as { data: { groups: { name: string; rules: { name: string; health: string; lastError?: string }[] }[] } };
    const group = res.data.groups.find((g) => g.name === 'netprobes');
    return group && group.rules.every((r) => r.health === 'ok') ? group.rules : null;
  });
  assert.equal(rules.length, 6);

  // A scrape of an exporter is small and quick.
  const scrape = await query('max(scrape_duration_seconds{job="netprobes"})');
  assert.ok(Number(scrape[0]!.value[1]) < 0.5, `scrape took ${scrape[0]!.value[1]} s`);
  t.diagnostic(`slowest scrape ${(Number(scrape[0]!.value[1]) * 1000).toFixed(1)} ms; series per exporter: ${(await query('scrape_samples_scraped{job="netprobes"}')).map((s) => s.value[1]).join(', ')}`);

  for (const x of [a, b, c, d]) {
    const exited = new Promise<number | null>((r) => x.child.once('exit', (code) => r(code)));
    process.kill(x.child.pid!, 'SIGINT');
    assert.equal(await exited, 0, x.stderr());
  }
});

test("the systemd unit's capabilities are enough: all three probes run whole under its CapabilityBoundingSet and NoNewPrivileges", { timeout: 60_000 }, async (t) => {
  if (!need(t, 'root')) return;
  const unit = readFileSync(path.join(ROOT, 'resources', 'netprobes-exporter.service'), 'utf8');
  const caps = /^CapabilityBoundingSet=(.*)$/m.exec(unit)![1]!.split(/\s+/).map((c) => `+${c.replace(/^CAP_/, '').toLowerCase()}`);
  assert.match(unit, /^NoNewPrivileges=yes$/m);
  const port = await freePort();
  // What systemd does for a root service with that bounding set: every capability outside it gone before exec.
  const child = spawn('setpriv', ['--bounding-set', ['-all', ...caps].join(','), '--no-new-privs', process.execPath, CLI, 'exporter', '--listen', `127.0.0.1:${port}`, '--interval', '1'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  cleanups.push(stopper(child, 'SIGINT'));
  await waitForOutput(child, /serving nettop, dropwatch, tcp-connections at/, 30_000).catch((e: Error) => {
    throw new Error(`${e.message}\n${stderr}`);
  });
  const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
  assert.equal(/^CapBnd:\s+(\w+)$/m.exec(status)![1], /^CapEff:\s+(\w+)$/m.exec(status)![1], 'effective = the bounding set');
  assert.notEqual(/^CapEff:\s+(\w+)$/m.exec(status)![1], '000001ffffffffff');
  // Every probe up, as /metrics says (polled; the probes start one after another).
  const up = (text: string) => ['nettop', 'dropwatch', 'tcp-connections'].every((probe) => new RegExp(`^netprobes_probe_up\\{probe="${probe}"\\} 1$`, 'm').test(text));
  let text = '';
  for (const end = Date.now() + 15_000; !up(text) && Date.now() < end; await sleep(100)) text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  for (const probe of ['nettop', 'dropwatch', 'tcp-connections']) assert.match(text, new RegExp(`^netprobes_probe_up\\{probe="${probe}"\\} 1$`, 'm'), stderr);
  assert.doesNotMatch(stderr, /without /, 'nothing runs degraded');
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  process.kill(child.pid!, 'SIGINT');
  assert.equal(await exited, 0, stderr);
});
