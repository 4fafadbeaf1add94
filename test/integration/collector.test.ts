// The collector as a process: it serves a host over the private socket, takes
// only valid commands, checks who owns the socket, and is gone within seconds
// of the host going away.

import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { Session } from '../../host/session.node.ts';
import type { HostEvent } from '../../ipc/api.ts';
import { encodeFrame, FrameDecoder } from '../../core/framing.ts';
import { need } from '../helpers/env.ts';
import { collect, ROOT, sleep } from '../helpers/run.ts';
import dgram from 'node:dgram';

const COLLECTOR = path.join(ROOT, 'dist', 'collector.js');
const alive = (pid: number) => existsSync(`/proc/${pid}`) && !/^State:\s+Z/m.test(procStatus(pid));
function procStatus(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return 'State: Z';
  }
}

async function until(cond: () => boolean, ms: number, what: string) {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await sleep(20);
  }
}

describe('collector process', () => {
  test('serves a session: rows from real traffic, counters, stop; exits when the host closes the socket', async (t) => {
    if (!need(t, 'root')) return;
    const session = new Session({ collectorScript: COLLECTOR, frontEnd: 'browser', elevatedLauncher: null, saveFile: null });
    const events: HostEvent[] = [];
    session.subscribe((e) => events.push(e));
    const port = 41000 + Math.floor(Math.random() * 1000);
    await session.handle({ type: 'start', probe: 'tcpdump', options: { ifaces: ['lo'], filter: `udp port ${port}`, bothDirections: false } });
    assert.equal(session.state.collector.status, 'running');
    assert.equal(session.state.collector.elevated, true);
    const pid = session.state.collector.pid!;
    await until(() => session.state.probes.tcpdump.source !== null, 5000, 'probe started');
    assert.match(session.state.probes.tcpdump.source!, /libpcap on lo \(EN10MB\)/);

    const sock = dgram.createSocket('udp4');
    for (let i = 0; i < 25; i++) await new Promise((r) => sock.send(Buffer.alloc(64), port, '127.0.0.1', r));
    sock.close();
    const rowsSeen = () => events.filter((e) => e.type === 'rows').reduce((n, e) => n + (e as { rows: object[] }).rows.length, 0);
    await until(() => rowsSeen() === 25, 5000, '25 rows');
    await until(() => events.some((e) => e.type === 'counters' && e.counters.rows === 25 && e.counters.shed === 0), 2000, 'counters');

    await session.handle({ type: 'stop', probe: 'tcpdump' });
    await until(() => !session.state.probes.tcpdump.running, 3000, 'stopped');
    assert.equal(session.state.probes.tcpdump.problem, null);

    session.shutdown();
    const t0 = Date.now();
    await until(() => !alive(pid), 2000, 'collector gone after the socket closed');
    assert.ok(Date.now() - t0 < 2000);
  });

  test('a burst beyond what one flush carries: rows shed, counted, and delivered + shed = made, exactly', { timeout: 60_000 }, async (t) => {
    if (!need(t, 'root')) return;
    const session = new Session({ collectorScript: COLLECTOR, frontEnd: 'browser', elevatedLauncher: null, saveFile: null });
    t.after(() => session.shutdown());
    const events: HostEvent[] = [];
    session.subscribe((e) => events.push(e));
    const port = 42000 + Math.floor(Math.random() * 1000);
    await session.handle({ type: 'start', probe: 'tcpdump', options: { ifaces: ['lo'], filter: `udp dst port ${port}`, bothDirections: false } });
    await until(() => session.state.probes.tcpdump.source !== null, 5000, 'probe started');
    // 30,000 datagrams as fast as Python sends them: far more than the 5,000 rows one 250 ms flush may carry.
    const N = 30_000;
    execFileSync('python3', ['-c', `import socket\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\nfor _ in range(${N}): s.sendto(b'x', ('127.0.0.1', ${port}))`]);
    const last = () => events.filter((e) => e.type === 'counters').at(-1) as { counters: Record<string, number> } | undefined;
    await until(() => last()?.counters.rows === N, 10_000, `the probe made ${N} rows`);
    await session.handle({ type: 'stop', probe: 'tcpdump' });
    await until(() => !session.state.probes.tcpdump.running, 5000, 'stopped');
    const delivered = events.filter((e) => e.type === 'rows').reduce((n, e) => n + (e as { rows: object[] }).rows.length, 0);
    const { rows, shed, kernelDrops } = last()!.counters;
    assert.equal(kernelDrops, 0, 'the capture kept up: every datagram became a row');
    assert.equal(rows, N);
    assert.ok(shed! > 0, `the burst was shed in part (delivered ${delivered})`);
    assert.equal(delivered + shed!, N, `delivered ${delivered} + shed ${shed}`);
  });

  test('a start that fails comes back as the probe\'s problem, and the collector keeps serving', async (t) => {
    if (!need(t, 'root')) return;
    const session = new Session({ collectorScript: COLLECTOR, frontEnd: 'browser', elevatedLauncher: null, saveFile: null });
    t.after(() => session.shutdown());
    await session.handle({ type: 'start', probe: 'tcpdump', options: { ifaces: ['lo'], filter: 'port banana', bothDirections: false } });
    await until(() => session.state.probes.tcpdump.problem !== null, 5000, 'problem reported');
    assert.equal(session.state.probes.tcpdump.problem!.kind, 'input');
    assert.match(session.state.probes.tcpdump.problem!.message, /bad filter expression/);
    assert.equal(session.state.collector.status, 'running');
    await assert.rejects(session.handle({ type: 'start', probe: 'tcpdump', options: { ifaces: 'lo' } }), /options/);
  });

  /** A hand-made host: a socket in a directory of the given mode, and the collector started against it. */
  async function rawHost(mode: number) {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'np-host-'));
    chmodSync(dir, mode);
    const socket = path.join(dir, 'c.sock');
    const server = net.createServer();
    await new Promise<void>((r) => server.listen(socket, r));
    const child = spawn(process.execPath, [COLLECTOR, '--socket', socket], { stdio: ['ignore', 'ignore', 'pipe'] });
    const done = collect(child);
    const cleanup = () => {
      server.close();
      rmSync(dir, { recursive: true, force: true });
    };
    return { server, child, done, cleanup };
  }

  test('an invalid command ends the connection and the collector', async (t) => {
    if (!need(t, 'root')) return;
    const h = await rawHost(0o700);
    t.after(h.cleanup);
    const conn = await new Promise<net.Socket>((r) => h.server.once('connection', r));
    const decoder = new FrameDecoder();
    const hello = await new Promise<unknown>((r) => conn.once('data', (d) => r(decoder.push(d)[0])));
    assert.equal((hello as { type: string }).type, 'hello');
    conn.write(encodeFrame({ type: 'exec', command: 'id' }));
    const r = await h.done;
    assert.equal(r.code, 2);
    assert.match(r.stderr, /rejected command: .*type/);
  });

  test('a socket directory others can enter is refused', async (t) => {
    if (!need(t, 'root')) return;
    const h = await rawHost(0o755);
    t.after(h.cleanup);
    const r = await h.done;
    assert.equal(r.code, 2);
    assert.match(r.stderr, /not a private \(0700\) directory/);
  });
});

describe('the libpcap binding', () => {
  test('captures opened, closed and garbage collected, 200 times, with async hooks on: no crash', async (t) => {
    if (!need(t, 'root')) return;
    const script = path.join(ROOT, 'test', 'helpers', 'capture-churn.mts');
    const r = await collect(spawn(process.execPath, ['--expose-gc', '--import', 'tsx', script], { stdio: ['ignore', 'pipe', 'pipe'] }));
    assert.equal(r.signal, null, `crashed with ${r.signal}: ${r.stderr.slice(-500)}`);
    assert.equal(r.code, 0, r.stderr.slice(-500));
    assert.equal(r.stdout.trim(), 'ok');
  });
});
