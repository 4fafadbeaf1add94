// The root collector under hostile or careless hosts, checked on the real
// process: bursts of start/stop requests never leave a second capture or a
// tracefs instance behind; it holds only the capabilities its probes need, with
// no_new_privs; a SIGKILL leaves no instance or enabled event; and garbage,
// truncated, oversized or wrong-schema frames end the connection with exit code
// 2, run nothing from their input and leak nothing.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import dgram from 'node:dgram';
import { existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { COLLECTOR_CAPABILITIES } from '../../collector/confine.node.ts';
import { Session } from '../../host/session.node.ts';
import type { HostEvent } from '../../ipc/api.ts';
import { encodeFrame, FrameDecoder } from '../../core/framing.ts';
import { need } from '../helpers/env.ts';
import { collect, ROOT } from '../helpers/run.ts';
import { netprobesInstances, until } from '../helpers/tracefs.ts';

const COLLECTOR = path.join(ROOT, 'dist', 'collector.js');
const TCPDUMP_LO = { ifaces: ['lo'], filter: 'udp port 9', bothDirections: false };

/** Capability numbers (linux/capability.h) of the ones the collector keeps. */
const CAP_NUMBERS: Record<keyof typeof COLLECTOR_CAPABILITIES, number> = { dac_read_search: 2, net_raw: 13, sys_ptrace: 19, syslog: 34 };
const EXPECTED_CAPS = Object.values(CAP_NUMBERS).reduce((mask, n) => mask | (1n << BigInt(n)), 0n);

function status(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return '';
  }
}
const alive = (pid: number) => status(pid) !== '' && !/^State:\s+Z/m.test(status(pid));
const capField = (pid: number, field: string) => BigInt(`0x${new RegExp(`^${field}:\\s*([0-9a-f]+)$`, 'm').exec(status(pid))![1]}`);
const rssKiB = (pid: number) => Number(/^VmRSS:\s*(\d+)/m.exec(status(pid))?.[1] ?? 0);

/** The packet (AF_PACKET) sockets process `pid` holds: what a libpcap capture opens. */
function packetSockets(pid: number): number {
  const packetInodes = new Set(
    readFileSync('/proc/net/packet', 'utf8')
      .trim()
      .split('\n')
      .slice(1)
      .map((line) => line.trim().split(/\s+/).pop()!),
  );
  let n = 0;
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const inode = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`))?.[1];
      if (inode && packetInodes.has(inode)) n++;
    } catch {
      /* fd closed meanwhile */
    }
  }
  return n;
}

function newSession(): { session: Session; events: HostEvent[] } {
  const session = new Session({ collectorScript: COLLECTOR, frontEnd: 'browser', elevatedLauncher: null, saveFile: null });
  const events: HostEvent[] = [];
  session.subscribe((e) => events.push(e));
  return { session, events };
}

const rowsOf = (events: HostEvent[], probe: string) =>
  events.filter((e) => e.type === 'rows' && e.probe === probe).reduce((n, e) => n + (e as { rows: object[] }).rows.length, 0);

/** Waits until the collector has settled: the probe reported stopped and nothing of it remains open. */
async function settledStopped(session: Session, pid: number, probe: 'tcpdump' | 'dropwatch'): Promise<void> {
  await until(() => !session.state.probes[probe].running, 10_000, `${probe} reported stopped`);
  await until(() => packetSockets(pid) === 0 && netprobesInstances(pid).filter((n) => !n.endsWith('-tasks')).length === 0, 10_000, 'nothing left open');
}

describe('collector lifecycle under bursts of requests', () => {
  test('20 start/stop pairs sent without waiting leave the probe stopped, no packet socket and no tracefs instance', async (t) => {
    if (!need(t, 'root')) return;
    const { session } = newSession();
    t.after(() => session.shutdown());
    await session.ensureCollector();
    const pid = session.state.collector.pid!;
    const requests: Promise<unknown>[] = [];
    for (let i = 0; i < 20; i++) {
      requests.push(session.handle({ type: 'start', probe: 'tcpdump', options: TCPDUMP_LO }));
      requests.push(session.handle({ type: 'stop', probe: 'tcpdump' }));
      requests.push(session.handle({ type: 'start', probe: 'dropwatch', options: { interval: 1 } }));
      requests.push(session.handle({ type: 'stop', probe: 'dropwatch' }));
    }
    await Promise.all(requests);
    await settledStopped(session, pid, 'tcpdump');
    await settledStopped(session, pid, 'dropwatch');
    assert.equal(session.state.probes.tcpdump.running, false);
    assert.equal(session.state.probes.dropwatch.running, false);
    assert.equal(packetSockets(pid), 0);
    assert.deepEqual(netprobesInstances(pid).filter((n) => !n.endsWith('-tasks')), []);

    // The collector still serves: a last start runs, and exactly one capture exists.
    await session.handle({ type: 'start', probe: 'tcpdump', options: TCPDUMP_LO });
    await until(() => session.state.probes.tcpdump.source !== null && packetSockets(pid) > 0, 10_000, 'started again');
    assert.equal(packetSockets(pid), 1);
  });

  test('10,000 start/stop pairs leave the collector within 2x of its idle memory', async (t) => {
    if (!need(t, 'root')) return;
    const { session } = newSession();
    t.after(() => session.shutdown());
    await session.ensureCollector();
    const pid = session.state.collector.pid!;
    await until(() => rssKiB(pid) > 0, 2000, 'rss');
    const idle = rssKiB(pid);
    const requests: Promise<unknown>[] = [];
    for (let i = 0; i < 10_000; i++) {
      requests.push(session.handle({ type: 'start', probe: 'tcpdump', options: TCPDUMP_LO }));
      requests.push(session.handle({ type: 'stop', probe: 'tcpdump' }));
    }
    await Promise.all(requests);
    let peak = idle;
    const sampler = setInterval(() => (peak = Math.max(peak, rssKiB(pid))), 20);
    try {
      await settledStopped(session, pid, 'tcpdump');
    } finally {
      clearInterval(sampler);
    }
    const after = rssKiB(pid);
    assert.ok(alive(pid), 'collector alive');
    assert.ok(after < 2 * idle, `RSS ${after} KiB after the burst, idle ${idle} KiB`);
    t.diagnostic(`collector RSS: idle ${idle} KiB, peak ${peak} KiB (one capture open at most), after ${after} KiB`);
  });
});

describe('collector privileges', () => {
  test('while tcpdump and dropwatch produce rows: only the four capabilities it needs, NoNewPrivs 1', async (t) => {
    if (!need(t, 'root')) return;
    const { session, events } = newSession();
    t.after(() => session.shutdown());
    await session.handle({ type: 'start', probe: 'tcpdump', options: TCPDUMP_LO });
    await session.handle({ type: 'start', probe: 'dropwatch', options: { interval: 1 } });
    const pid = session.state.collector.pid!;
    await until(() => session.state.probes.tcpdump.source !== null && session.state.probes.dropwatch.source !== null, 10_000, 'both started');
    // UDP to the discard port, where nothing listens: tcpdump rows, and NO_SOCKET drops for dropwatch.
    const sock = dgram.createSocket('udp4');
    const deadline = Date.now() + 10_000;
    while ((rowsOf(events, 'tcpdump') === 0 || rowsOf(events, 'dropwatch') === 0) && Date.now() < deadline) {
      await new Promise((r) => sock.send(Buffer.alloc(32), 9, '127.0.0.1', r));
      await new Promise((r) => setTimeout(r, 50));
    }
    sock.close();
    assert.ok(rowsOf(events, 'tcpdump') > 0 && rowsOf(events, 'dropwatch') > 0, 'rows from both probes');

    assert.equal(capField(pid, 'CapEff'), EXPECTED_CAPS, 'effective set');
    assert.equal(capField(pid, 'CapPrm'), EXPECTED_CAPS, 'permitted set');
    assert.equal(capField(pid, 'CapBnd'), EXPECTED_CAPS, 'bounding set');
    assert.match(status(pid), /^NoNewPrivs:\s+1$/m);
    // SIGUSR1 must not open Node's inspector (any local user could then run code in the collector).
    process.kill(pid, 'SIGUSR1');
    await new Promise((r) => setTimeout(r, 300)); // time is the condition: an inspector would be listening by then
    assert.doesNotMatch(readFileSync('/proc/net/tcp', 'utf8'), /^\s*\d+: 0100007F:240D /m, 'nothing listens on 127.0.0.1:9229');
    assert.ok(alive(pid), 'the collector carries on');
    assert.notEqual(capField(1, 'CapEff'), EXPECTED_CAPS, 'a full root process holds more');
  });

  test('SIGKILL of the collector: within 3 s no instance of it remains, and the events it enabled are off', async (t) => {
    if (!need(t, 'root')) return;
    const { session } = newSession();
    t.after(() => session.shutdown());
    await session.handle({ type: 'start', probe: 'dropwatch', options: { interval: 1 } });
    await session.handle({ type: 'start', probe: 'tcp-connections', options: { outbound: false } });
    await until(() => session.state.probes.dropwatch.source !== null && session.state.probes['tcp-connections'].source !== null, 10_000, 'started');
    const pid = session.state.collector.pid!;
    const instances = netprobesInstances(pid);
    assert.ok(instances.length >= 2, `instances of ${pid}: ${instances.join(' ')}`);
    const enabled = instances.flatMap((name) => [`/sys/kernel/tracing/instances/${name}/events/skb/kfree_skb/enable`]).filter(existsSync);
    assert.ok(enabled.some((f) => readFileSync(f, 'utf8').trim() === '1'), 'kfree_skb enabled in its instance');

    process.kill(pid, 'SIGKILL');
    const killedAt = Date.now();
    await until(() => netprobesInstances(pid).length === 0, 3000, 'instances removed within 3 s of SIGKILL');
    assert.ok(Date.now() - killedAt < 3000);
    for (const f of enabled) assert.equal(existsSync(f), false, `${f} gone`);
    await until(() => session.state.collector.status === 'crashed', 3000, 'the host saw the collector die');
    assert.match(session.state.collector.problem ?? '', /SIGKILL/);
  });
});

describe('the CLI killed with SIGKILL', () => {
  test('its tracefs instances are gone within 3 s, without a new start (the reaper)', async (t) => {
    if (!need(t, 'root')) return;
    const child = spawn(process.execPath, [path.join(ROOT, 'bin', 'netprobes.js'), 'tcp-connections'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const done = collect(child);
    await until(() => netprobesInstances(child.pid!).length >= 2, 10_000, 'the probe and its task instance');
    child.kill('SIGKILL');
    await done;
    const killedAt = Date.now();
    await until(() => netprobesInstances(child.pid!).length === 0, 3000, 'instances removed within 3 s of SIGKILL');
    t.diagnostic(`instances gone ${Date.now() - killedAt} ms after SIGKILL`);
  });
});

describe('collector IPC fuzz: a host that breaks the protocol', () => {
  /** A hand-made host: a private socket, the real collector started against it, the hello read. */
  async function rawHost() {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'np-fuzz-'));
    const socket = path.join(dir, 'c.sock');
    const server = net.createServer();
    await new Promise<void>((r) => server.listen(socket, r));
    const child = spawn(process.execPath, [COLLECTOR, '--socket', socket], { stdio: ['ignore', 'ignore', 'pipe'] });
    const done = collect(child);
    const conn = await new Promise<net.Socket>((r) => server.once('connection', r));
    const decoder = new FrameDecoder();
    const messages: unknown[] = [];
    conn.on('data', (d) => messages.push(...decoder.push(d)));
    conn.on('error', () => {});
    await until(() => messages.length > 0, 5000, 'hello');
    const hello = messages[0] as { type: string; pid: number };
    assert.equal(hello.type, 'hello');
    return {
      conn,
      done,
      messages,
      pid: hello.pid,
      cleanup: () => {
        conn.destroy();
        server.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  }

  const frame = (len: number, body: Buffer) => {
    const head = Buffer.alloc(4);
    head.writeUInt32BE(len);
    return Buffer.concat([head, body]);
  };
  const marker = path.join(os.tmpdir(), `netprobes-fuzz-ran-${process.pid}`);
  const cases: [string, Buffer][] = [
    ['an oversized length prefix', frame(0xffffffff, Buffer.alloc(16))],
    ['a frame over the 1 MiB command limit', frame((1 << 20) + 1, Buffer.alloc(64))],
    ['bytes that are not JSON', frame(9, Buffer.from('{"type":\x00'))],
    ['invalid UTF-8', frame(4, Buffer.from([0x22, 0xff, 0xfe, 0x22]))],
    ['an unknown command', Buffer.from(encodeFrame({ type: 'exec', command: `touch ${marker}` }))],
    ['a start with options of the wrong shape', Buffer.from(encodeFrame({ type: 'start', probe: 'tcpdump', options: { ifaces: 'lo; touch ' + marker } }))],
    ['a probe that does not exist', Buffer.from(encodeFrame({ type: 'start', probe: `../../bin/sh`, options: {} }))],
    ['a deeply nested value', frame(10_000, Buffer.from('['.repeat(5000) + ']'.repeat(5000)))],
    ['a query with a huge id', Buffer.from(encodeFrame({ type: 'query', id: 1e300, query: { type: 'ports', pid: 1 } }))],
  ];
  for (const [what, bytes] of cases) {
    test(`${what}: the connection ends, exit code 2, nothing run, nothing left`, async (t) => {
      if (!need(t, 'root')) return;
      const h = await rawHost();
      t.after(h.cleanup);
      h.conn.write(bytes);
      const r = await h.done;
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /broken stream from host|rejected command/);
      assert.equal(existsSync(marker), false, 'nothing from the input ran');
      assert.deepEqual(netprobesInstances(h.pid), []);
    });
  }

  test('a frame cut short, then the host gone: the collector exits cleanly at once', async (t) => {
    if (!need(t, 'root')) return;
    const h = await rawHost();
    t.after(h.cleanup);
    h.conn.end(frame(100, Buffer.from('{"type":"st')));
    const r = await h.done;
    assert.equal(r.code, 0, r.stderr);
  });

  test('5,000 start/stop pairs in one write: one capture at most, then none', async (t) => {
    if (!need(t, 'root')) return;
    const h = await rawHost();
    t.after(h.cleanup);
    const options = { ifaces: ['lo'], filter: 'udp port 9', bothDirections: false };
    const burst: Uint8Array[] = [];
    for (let i = 0; i < 5000; i++) burst.push(encodeFrame({ type: 'start', probe: 'tcpdump', options }), encodeFrame({ type: 'stop', probe: 'tcpdump' }));
    h.conn.write(Buffer.concat(burst));
    let most = 0;
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline) {
      most = Math.max(most, packetSockets(h.pid));
      const last = h.messages.at(-1) as { type: string } | undefined;
      if (last?.type === 'stopped' && packetSockets(h.pid) === 0) break;
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.ok(most <= 1, `at most one capture at a time (saw ${most})`);
    assert.equal(packetSockets(h.pid), 0);
    const kinds = h.messages.map((m) => (m as { type: string }).type);
    assert.equal(kinds.at(-1), 'stopped');
    assert.ok(kinds.filter((k) => k === 'started').length <= 2, `a burst collapses: ${kinds.filter((k) => k === 'started').length} starts`);
    assert.ok(alive(h.pid));
  });
});
