// `netprobes exporter` without probes: the bounded series (top N, other,
// expiry, a new series shown at 0 once), the families resolved from the probes'
// real column definitions, the exposition text prom-client writes, and access
// control on a real HTTP(S) server on loopback (bearer token, basic auth with
// bcrypt, TLS with a certificate openssl makes) — and the CLI refusing a
// non-loopback address without a token or TLS. The alert rules and the scrape
// configuration are checked by Prometheus' own promtool.

import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import bcrypt from 'bcryptjs';
import { OTHER, SeriesStore, type SeriesLimits, type ShownSeries } from '../../metrics/series.ts';
import { EXPORTABLE, FAMILIES, resolveFamily, FamilyError } from '../../metrics/families.ts';
import { Exporter } from '../../metrics/exporter.node.ts';
import { AccessError, checkExposure, isLoopback, parseListen } from '../../metrics/access.ts';
import { startMetricsServer, type MetricsServer } from '../../metrics/server.node.ts';
import { parseExporterArgs } from '../../cli/exporter.node.ts';
import { UsageError } from '../../cli/args.ts';
import { PROBES } from '../../probes/registry.ts';
import type { Column } from '../../core/probe.ts';
import { CLI, ROOT } from '../helpers/run.ts';
import { COLLECTOR_CAPABILITIES } from '../../collector/confine.node.ts';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'np18-exporter-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const LIMITS: SeriesLimits = { maxSeries: 3, maxOther: 2, ttlMs: 10_000, halfLifeMs: 5_000 };
const byLabels = (shown: ShownSeries[]) => Object.fromEntries(shown.map((s) => [s.labels.join('/'), s.values[0]]));
const total = (shown: ShownSeries[]) => shown.reduce((n, s) => n + s.values[0]!, 0);

describe('bounded series', () => {
  test('a new series shows 0 at its first scrape, then its counts: increase() counts them all', () => {
    const s = new SeriesStore(1, [false], LIMITS);
    s.add(['a'], [200], 200, 0);
    assert.deepEqual(byLabels(s.scrape(1)), { a: 0 });
    assert.deepEqual(byLabels(s.scrape(2)), { a: 200 });
    s.add(['a'], [5], 5, 3);
    assert.deepEqual(byLabels(s.scrape(4)), { a: 205 }, 'a known series shows its counts at once');
  });

  test('beyond --top, label sets are summed in other (keeping the kept labels); nothing is lost', () => {
    const s = new SeriesStore(1, [false, true], LIMITS);
    for (const [i, dev] of [[1, 'lo'], [2, 'lo'], [3, 'eth0']] as const) s.add([`p${i}`, dev], [100], 100, 0);
    s.add(['p4', 'lo'], [1], 1, 0); // weaker than every own series: to other
    s.add(['p5', 'eth0'], [2], 2, 0);
    s.add(['p6', 'wg0'], [4], 4, 0); // a third kept value: over maxOther, to the all-other series
    s.scrape(1);
    const shown = byLabels(s.scrape(2));
    assert.deepEqual(shown, { 'p1/lo': 100, 'p2/lo': 100, 'p3/eth0': 100, [`${OTHER}/lo`]: 1, [`${OTHER}/eth0`]: 2, [`${OTHER}/${OTHER}`]: 4 });
    assert.equal(s.stats.folded, 3);
  });

  test('a busier newcomer evicts the series with the least recent traffic; its unshown counts go to other', () => {
    const s = new SeriesStore(1, [false], LIMITS);
    s.add(['a'], [1000], 1000, 0);
    s.add(['b'], [1000], 1000, 0);
    s.add(['quiet'], [10], 10, 0);
    s.scrape(0);
    s.scrape(0); // all shown
    s.add(['quiet'], [3], 3, 1000); // not yet shown when evicted
    s.add(['busy'], [500], 500, 1000);
    s.scrape(1001);
    const shown = byLabels(s.scrape(1002));
    assert.deepEqual(shown, { a: 1000, b: 1000, busy: 500, [OTHER]: 3 });
    assert.equal(s.stats.evicted, 1);
  });

  test('equal newcomers do not take turns: only twice the quietest series\' decayed traffic takes its place', () => {
    const s = new SeriesStore(1, [false], LIMITS);
    for (const k of ['a', 'b', 'c']) s.add([k], [100], 100, 0);
    s.add(['d'], [150], 150, 0);
    assert.equal(s.stats.evicted, 0);
    s.add(['e'], [150], 150, 5_000); // one half-life later the quietest has 50: 150 > 2 × 50
    assert.equal(s.stats.evicted, 1);
    assert.equal(s.size.own, 3);
  });

  test('a series with no traffic for the ttl (an exited process) is removed; it comes back from 0', () => {
    const s = new SeriesStore(1, [false], LIMITS);
    s.add(['gone'], [7], 7, 0);
    s.scrape(1);
    assert.deepEqual(byLabels(s.scrape(2)), { gone: 7 });
    assert.deepEqual(byLabels(s.scrape(9_999)), { gone: 7 });
    assert.deepEqual(byLabels(s.scrape(10_001)), {});
    assert.equal(s.stats.expired, 1);
    s.add(['gone'], [1], 1, 10_002);
    assert.deepEqual(byLabels(s.scrape(10_003)), { gone: 0 });
  });

  test('under churn the series stay bounded and every count is shown or was shown before its series went', () => {
    const limits: SeriesLimits = { maxSeries: 20, maxOther: 4, ttlMs: 2_000, halfLifeMs: 1_000 };
    const s = new SeriesStore(1, [false, true], limits);
    let added = 0;
    let removedShown = 0;
    let last = new Map<string, number>();
    let seed = 1;
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    let maxSeries = 0;
    for (let t = 0; t < 60_000; t += 100) {
      for (let i = 0; i < 30; i++) {
        const v = 1 + Math.floor(rand() * 1000);
        s.add([`pid${Math.floor(t / 500) * 10 + Math.floor(rand() * 50)}`, `dev${Math.floor(rand() * 6)}`], [v], v, t);
        added += v;
      }
      if (t % 1000 === 0) {
        const shown = s.scrape(t);
        maxSeries = Math.max(maxSeries, shown.length);
        const now = new Map(shown.map((x) => [x.labels.join('/'), x.values[0]!]));
        for (const [k, v] of last) if (!now.has(k)) removedShown += v;
        for (const [k, v] of now) assert.ok(v >= (last.get(k) ?? 0), `${k} went down`);
        last = now;
      }
    }
    // Two scrapes with no traffic: everything pending is shown.
    for (const t of [70_000, 70_001]) {
      const shown = s.scrape(t);
      const now = new Map(shown.map((x) => [x.labels.join('/'), x.values[0]!]));
      for (const [k, v] of last) if (!now.has(k)) removedShown += v;
      last = now;
    }
    assert.ok(maxSeries <= limits.maxSeries + limits.maxOther + 1, `${maxSeries} series`);
    assert.equal(total([...last].map(([k, v]) => ({ labels: [k], values: [v] }))) + removedShown, added);
  });
});

describe('metric families from the probes\' columns', () => {
  test('every family resolves against its probe\'s real definition', () => {
    assert.deepEqual(EXPORTABLE, ['nettop', 'dropwatch', 'tcp-connections']);
    const nettop = resolveFamily(FAMILIES.nettop!);
    assert.deepEqual(nettop.labelNames, ['pid', 'comm', 'uid', 'device']);
    assert.deepEqual(nettop.labelKeys, ['pid', 'command', 'uid', 'dev']);
    assert.deepEqual(nettop.counters.map((c) => c.key), ['xmitBytes', 'recvBytes', 'xmitPk', 'recvPk']);
    const accepts = resolveFamily(FAMILIES['tcp-connections']!);
    assert.deepEqual(accepts.where, { key: 'direction', equals: 'accepted' });
  });

  test("a column a probe gains later feeds its label (dropwatch's COMMAND → comm); a missing required one is an error", () => {
    const columns = PROBES.dropwatch.columns as readonly Column<object>[];
    const hasComm = columns.some((c) => c.csv === 'COMMAND');
    assert.equal(resolveFamily(FAMILIES.dropwatch!).labelNames.includes('comm'), hasComm);
    const withComm = [...columns, { key: 'command', csv: 'COMMAND', title: 'Command', type: 'text', width: 100, description: 'x' } as Column<object>];
    assert.deepEqual(resolveFamily(FAMILIES.dropwatch!, withComm).labelNames, ['location', 'reason', 'protocol', 'comm']);
    assert.throws(() => resolveFamily(FAMILIES.dropwatch!, columns.filter((c) => c.csv !== 'REASON')), FamilyError);
  });

  test('rows become the exposition text: names, labels, values, accepted connections only', async () => {
    const exporter = new Exporter({
      probes: ['nettop', 'tcp-connections'],
      limits: LIMITS,
      version: '9.9.9',
      counters: (p) => (p === 'nettop' ? { kernelDrops: 3, frames: 10 } : null),
      now: () => 0,
    });
    exporter.rows('nettop', [{ time: 0, pid: 42, uid: 1000, dev: 'lo', xmitPk: 2, recvPk: 1, xmitKb: 0, recvKb: 0, command: 'cu"rl', xmitBytes: 2084, recvBytes: 1042 }]);
    exporter.rows('tcp-connections', [
      { time: 0, uid: 0, cmd: 'sshd', pid: 7, port: 22, ipSource: '10.0.0.1', remotePort: 5555, direction: 'accepted' },
      { time: 0, uid: 0, cmd: 'curl', pid: 8, port: 4444, ipSource: '10.0.0.1', remotePort: 80, direction: 'outbound' },
    ]);
    const first = await exporter.metrics();
    assert.match(first, /^netprobes_process_transmit_bytes_total\{pid="42",comm="cu\\"rl",uid="1000",device="lo"\} 0$/m);
    const text = await exporter.metrics();
    assert.match(text, /^# TYPE netprobes_process_transmit_bytes_total counter$/m);
    assert.match(text, /^netprobes_process_transmit_bytes_total\{pid="42",comm="cu\\"rl",uid="1000",device="lo"\} 2084$/m);
    assert.match(text, /^netprobes_process_receive_packets_total\{pid="42",comm="cu\\"rl",uid="1000",device="lo"\} 1$/m);
    assert.match(text, /^netprobes_tcp_accepts_total\{port="22",comm="sshd"\} 1$/m);
    assert.doesNotMatch(text, /port="4444"/);
    assert.match(text, /^netprobes_lost_total\{probe="nettop",cause="kernelDrops"\} 3$/m);
    assert.doesNotMatch(text, /cause="frames"/, 'only the loss counters');
    assert.match(text, /^netprobes_probe_up\{probe="nettop"\} 1$/m);
    assert.match(text, /^netprobes_probe_up\{probe="tcp-connections"\} 0$/m);
    assert.match(text, /^netprobes_build_info\{version="9.9.9",nodejs="[\d.]+"\} 1$/m);
    assert.match(text, /^process_cpu_seconds_total /m);
  });
});

describe('exporter arguments and exposure', () => {
  test('defaults, and the flags', () => {
    const d = parseExporterArgs([]);
    assert.deepEqual(d.listen, { host: '127.0.0.1', port: 9464 });
    assert.deepEqual(d.probes, ['nettop', 'dropwatch', 'tcp-connections']);
    const a = parseExporterArgs(['--listen', '[::1]:9100', '--probes=nettop', '--interval', '1', '--top', '5', '--series-ttl', '60', '--via', 'collector']);
    assert.deepEqual([a.listen, a.probes, a.interval, a.limits.maxSeries, a.limits.ttlMs, a.via], [{ host: '::1', port: 9100 }, ['nettop'], 1, 5, 60_000, 'collector']);
    for (const bad of [['--probes', 'tcpdump'], ['--listen', '9464'], ['--listen', '1.2.3.4:70000'], ['--interval', '0'], ['--nope', '1'], ['--top']]) {
      assert.throws(() => parseExporterArgs(bad), UsageError, bad.join(' '));
    }
  });

  test('loopback needs nothing; any other address a token, basic auth or TLS', () => {
    for (const h of ['127.0.0.1', '127.1.2.3', '::1', 'localhost', '::ffff:127.0.0.1']) assert.ok(isLoopback(h), h);
    for (const h of ['0.0.0.0', '::', '10.0.0.1', '192.168.1.2', 'example.org', '::ffff:10.0.0.1']) assert.ok(!isLoopback(h), h);
    const none = { tls: false, bearer: false, basicAuth: false };
    assert.equal(checkExposure(parseListen('127.0.0.1:9464'), none), null);
    assert.throws(() => checkExposure(parseListen('0.0.0.0:9464'), none), (e: unknown) => e instanceof AccessError && /refusing to listen on 0\.0\.0\.0:9464/.test(e.message));
    assert.match(checkExposure(parseListen('0.0.0.0:9464'), { ...none, bearer: true })!, /without TLS/);
    assert.equal(checkExposure(parseListen('[::]:9464'), { ...none, tls: true }), null);
  });

  test('the CLI refuses a non-loopback listen address without a token or TLS, with a clear message, before any probe starts', () => {
    for (const listen of ['0.0.0.0:0', '[::]:0']) {
      const r = spawnSync(process.execPath, [CLI, 'exporter', '--listen', listen, '--probes', 'nettop'], { encoding: 'utf8', timeout: 20_000 });
      assert.equal(r.status, 2, r.stderr);
      assert.match(r.stderr, /^netprobes: refusing to listen on (0\.0\.0\.0|::):0: it is not a loopback address.*--bearer-token-file FILE.*--web-config FILE with tls_server_config/m);
      assert.equal(r.stdout, '');
    }
    const loose = path.join(tmp, 'loose-token');
    writeFileSync(loose, 'abcdefghijklmnopqrstuvwxyz\n');
    chmodSync(loose, 0o644);
    const r = spawnSync(process.execPath, [CLI, 'exporter', '--listen', '0.0.0.0:0', '--bearer-token-file', loose], { encoding: 'utf8', timeout: 20_000 });
    assert.equal(r.status, 2);
    assert.match(r.stderr, /readable by every user: chmod o-r/);
  });
});

describe('the /metrics server', () => {
  const source = { contentType: 'text/plain; version=0.0.4; charset=utf-8', metrics: async () => 'netprobes_test 1\n' };
  const servers: MetricsServer[] = [];
  after(async () => {
    for (const s of servers) await s.close();
  });
  const start = async (cfg: { listen?: string; webConfig?: string; bearerTokenFile?: string }) => {
    const s = await startMetricsServer(
      { listen: parseListen(cfg.listen ?? '127.0.0.1:0'), webConfig: cfg.webConfig ?? null, bearerTokenFile: cfg.bearerTokenFile ?? null },
      source,
      () => {},
    );
    servers.push(s);
    return s;
  };

  test('GET only: other methods get 405 and no body is read; unknown paths 404', async () => {
    const s = await start({});
    assert.equal(await (await fetch(s.url)).text(), 'netprobes_test 1\n');
    for (const method of ['POST', 'PUT', 'DELETE', 'PATCH']) assert.equal((await fetch(s.url, { method, body: 'x' })).status, 405, method);
    assert.equal((await fetch(s.url.replace('/metrics', '/-/reload'))).status, 404);
  });

  test('a bearer token guards it, also beyond loopback', async () => {
    const file = path.join(tmp, 'token');
    writeFileSync(file, 'np18-secret-token-0123456789\n', { mode: 0o600 });
    const s = await start({ listen: '0.0.0.0:0', bearerTokenFile: file });
    const url = s.url.replace('0.0.0.0', '127.0.0.1');
    assert.equal((await fetch(url)).status, 401);
    assert.equal((await fetch(url, { headers: { authorization: 'Bearer wrong-token-0123456789ab' } })).status, 401);
    const ok = await fetch(url, { headers: { authorization: 'Bearer np18-secret-token-0123456789' } });
    assert.equal(ok.status, 200);
    assert.equal(await ok.text(), 'netprobes_test 1\n');
  });

  test("TLS and basic auth from a web.config.yml in Prometheus' format", async () => {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1',
      '-keyout', path.join(tmp, 'key.pem'), '-out', path.join(tmp, 'cert.pem')], { stdio: 'ignore' });
    const hash = bcrypt.hashSync('scrape-pass', 4);
    const web = path.join(tmp, 'web.yml');
    writeFileSync(web, `tls_server_config:\n  cert_file: cert.pem\n  key_file: key.pem\nbasic_auth_users:\n  prom: ${hash}\n`);
    const s = await start({ listen: '0.0.0.0:0', webConfig: web });
    assert.match(s.url, /^https:/);
    const get = (auth?: string) =>
      new Promise<number>((resolve, reject) => {
        const req = https.get(s.url.replace('0.0.0.0', '127.0.0.1'), { ca: readFileSync(path.join(tmp, 'cert.pem')), headers: auth ? { authorization: auth } : {} }, (res) => {
          res.resume();
          resolve(res.statusCode!);
        });
        req.on('error', reject);
      });
    assert.equal(await get(), 401);
    assert.equal(await get(`Basic ${Buffer.from('prom:wrong').toString('base64')}`), 401);
    assert.equal(await get(`Basic ${Buffer.from('prom:scrape-pass').toString('base64')}`), 200);
    assert.equal(await get(`Basic ${Buffer.from('prom:scrape-pass').toString('base64')}`), 200, 'cached');
    // Keys Prometheus' format has that NetProbes does not read are refused, not ignored.
    const other = path.join(tmp, 'web2.yml');
    writeFileSync(other, 'http_server_config:\n  http2: false\n');
    await assert.rejects(start({ webConfig: other }), (e: unknown) => e instanceof AccessError && /no such field/.test(e.message));
  });
});

describe('the Prometheus examples, checked by promtool', () => {
  const dir = path.join(ROOT, 'resources', 'prometheus');
  test('promtool check rules, and the rules\' own unit tests', () => {
    const check = spawnSync('promtool', ['check', 'rules', path.join(dir, 'alerts.yml')], { encoding: 'utf8' });
    assert.equal(check.status, 0, check.stdout + check.stderr);
    assert.match(check.stdout, /SUCCESS: 6 rules found/);
    const unit = spawnSync('promtool', ['test', 'rules', 'alerts.test.yml'], { cwd: dir, encoding: 'utf8' });
    assert.equal(unit.status, 0, unit.stdout + unit.stderr);
  });
  test('promtool check config on the scrape configuration', () => {
    const r = spawnSync('promtool', ['check', 'config', path.join(dir, 'prometheus.yml')], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stdout + r.stderr);
  });
  test("the systemd unit: systemd-analyze verify finds nothing, and its capabilities are the collector's", () => {
    const unit = path.join(ROOT, 'resources', 'netprobes-exporter.service');
    const r = spawnSync('systemd-analyze', ['verify', unit], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr.trim(), '', 'no warning');
    const caps = /^CapabilityBoundingSet=(.*)$/m.exec(readFileSync(unit, 'utf8'))![1]!.split(/\s+/).sort();
    assert.deepEqual(caps, Object.keys(COLLECTOR_CAPABILITIES).map((c) => `CAP_${c.toUpperCase()}`).sort());
  });
});
