// The tcpdump probe against real traffic: the CLI's rows must be the packets
// that were sent (exact counts, ports, flags), and the same packets, ports and
// flags that tcpdump itself captures on the same conversation.

import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import dgram from 'node:dgram';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { need } from '../helpers/env.ts';
import { createTestHost, type TestHost } from '../helpers/netns.ts';
import { until } from '../helpers/tracefs.ts';
import { PcapCapture } from '../../kernel/capture/pcap.node.ts';
import { writePcapng } from '../../core/pcapng.ts';
import type { PacketRow } from '../../probes/tcpdump/definition.ts';
import { tcpdumpSource } from '../../probes/tcpdump/source.node.ts';
import { collect, netprobes, ROOT, sh, sleep, waitForOutput } from '../helpers/run.ts';

const PEER = path.join(ROOT, 'test', 'helpers', 'peer.mjs');
const HEADER = 'TIME,DEV,SOURCE_IP,DEST_IP,SPORT,DPORT,PROTO,U,A,P,R,S,F,LENGTH';

interface CsvRow {
  TIME: string;
  DEV: string;
  SOURCE_IP: string;
  DEST_IP: string;
  SPORT: string;
  DPORT: string;
  PROTO: string;
  flags: string;
  LENGTH: string;
}

function parseCsv(text: string): CsvRow[] {
  const [header, ...lines] = text.trim().split('\n');
  assert.equal(header, HEADER);
  return lines.map((l) => {
    const c = l.split(',');
    assert.equal(c.length, 14, `row has 14 fields: ${l}`);
    return { TIME: c[0]!, DEV: c[1]!, SOURCE_IP: c[2]!, DEST_IP: c[3]!, SPORT: c[4]!, DPORT: c[5]!, PROTO: c[6]!, flags: c.slice(7, 13).join(''), LENGTH: c[13]! };
  });
}

/** Runs a peer process (in a namespace when `ns` is given) to completion. */
async function peer(args: string[], ns?: string): Promise<void> {
  const [cmd, argv] = ns ? ['ip', ['netns', 'exec', ns, process.execPath, PEER, ...args]] : [process.execPath, [PEER, ...args]];
  const r = await collect(spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'] }));
  assert.equal(r.code, 0, `peer ${args.join(' ')}: ${r.stderr}`);
}

/** Starts a server peer and waits until it listens. */
async function server(args: string[], ns?: string) {
  const [cmd, argv] = ns ? ['ip', ['netns', 'exec', ns, process.execPath, PEER, ...args]] : [process.execPath, [PEER, ...args]];
  const child = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
  const done = collect(child);
  await waitForOutput(child, /ready/);
  return { child, done };
}

type Capture = ReturnType<typeof netprobes> & { printed: () => CsvRow[] };

/** Starts the CLI and waits until capture is on (the CSV header is printed after the source starts). */
async function capture(args: string[]): Promise<Capture> {
  const run = netprobes(['tcpdump', '--format', 'csv', ...args]);
  let out = '';
  run.child.stdout!.on('data', (d: Buffer | string) => (out += String(d)));
  await waitForOutput(run.child, /TIME,DEV/);
  // The whole lines printed so far, as rows.
  return { ...run, printed: () => parseCsv(out.slice(0, out.lastIndexOf('\n') + 1)) };
}

/** Polls `ok` until it holds, or fails after `ms`. */
async function waitUntil(ok: () => boolean | Promise<boolean>, ms: number, what: () => string): Promise<void> {
  for (const end = Date.now() + ms; !(await ok()); await sleep(50)) if (Date.now() > end) assert.fail(`timed out after ${ms} ms waiting for ${what()}`);
}

/** Stops the CLI once the rows it printed satisfy `done` (the packets the test made are all shown), by SIGINT. */
async function stop(run: Capture, done: (rows: CsvRow[]) => boolean | Promise<boolean>) {
  await waitUntil(() => done(run.printed()), 10_000, () => `the rows; printed: ${run.printed().length}`);
  run.child.kill('SIGINT');
  const r = await run.done;
  assert.equal(r.code, 0, `netprobes exited cleanly: ${r.stderr}`);
  return r;
}

let port = 20000 + Math.floor(Math.random() * 20000);
const nextPort = () => port++;

describe('tcpdump probe on loopback', () => {
  test('a TCP conversation: the same packets, ports and flags as tcpdump itself captures', async (t) => {
    if (!need(t, 'root')) return;
    const P = nextPort();
    const dir = mkdtempSync(path.join(os.tmpdir(), 'np-test-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const pcap = path.join(dir, 'ref.pcap');
    // Immediate mode, packet-buffered (-U): the file holds each packet as it comes; a short snap length and a large
    // buffer so that its ring on lo does not overflow (tcpdump's 256 KiB default leaves it a few dozen slots).
    const ref = spawn('tcpdump', ['-i', 'lo', '-nn', '--immediate-mode', '-U', '-s', '128', '-B', '16384', '-Z', 'root', '-w', pcap, `tcp port ${P}`], { stdio: ['ignore', 'pipe', 'pipe'] });
    const refDone = collect(ref);
    await waitForOutput(ref, /listening on/);
    const ours = await capture(['--iface', 'lo', '--filter', `tcp port ${P}`]);

    const srv = await server(['tcp-server', '127.0.0.1', String(P)]);
    await peer(['tcp-client', '127.0.0.1', String(P), '3', '100']);
    await srv.done;

    // Both see the same packets: stop once ours has shown as many as the reference has written (the conversation is over).
    const written = async () => (await sh('tcpdump', ['-r', pcap, '-nn']).catch(() => '')).split('\n').filter(Boolean).length;
    const r = await stop(ours, async (rows) => rows.length >= 10 && rows.length === (await written()));
    ref.kill('SIGINT');
    const refEnd = await refDone;
    assert.match(refEnd.stderr, /\b0 packets dropped by kernel/, refEnd.stderr);
    const text = await sh('tcpdump', ['-r', pcap, '-nn', '-tt']);
    const expected = text
      .trim()
      .split('\n')
      .map((line) => {
        const m = /IP6? (\S+)\.(\d+) > (\S+)\.(\d+): Flags \[([^\]]*)\]/.exec(line);
        assert.ok(m, `tcpdump line: ${line}`);
        const f = m[5]!;
        const flags = ['U', '.', 'P', 'R', 'S', 'F'].map((c) => (f.includes(c) ? '1' : '0')).join('');
        return `${m[1]} ${m[3]} ${m[2]} ${m[4]} ${flags}`;
      });
    const rows = parseCsv(r.stdout);
    const got = rows.map((x) => `${x.SOURCE_IP} ${x.DEST_IP} ${x.SPORT} ${x.DPORT} ${x.flags}`);
    // 3 handshake + 3 requests + 3 echoes (+ acks) + 4 teardown: at least 10 packets.
    assert.ok(expected.length >= 10, `tcpdump saw the conversation (${expected.length} packets)`);
    assert.deepEqual(got, expected);
    assert.ok(rows.every((x) => x.DEV === 'lo' && x.PROTO === 'TCP'));
    assert.equal(rows[0]!.flags, '000010', 'first packet is the SYN');
    assert.equal(rows[1]!.flags, '010010', 'then SYN+ACK');
    assert.match(r.stderr, new RegExp(`seen ${rows.length} frames, shown ${rows.length} rows, lost 0`));
  });

  test('UDP over IPv4 and IPv6: exact counts, ports and lengths', async (t) => {
    if (!need(t, 'root')) return;
    const P4 = nextPort();
    const P6 = nextPort();
    // ICMP is let in too: nothing listens on either port, so the kernel answers with port-unreachable messages,
    // which must be counted as other IP, not shown as UDP rows.
    const ours = await capture(['--iface', 'lo', '--filter', `(udp and (port ${P4} or port ${P6})) or icmp or icmp6`]);
    await peer(['udp-send', '127.0.0.1', String(P4), '57', '1000']);
    await peer(['udp-send', '::1', String(P6), '23', '100']);
    const r = await stop(ours, (rows) => rows.filter((x) => x.DPORT === String(P4)).length >= 57 && rows.filter((x) => x.DPORT === String(P6)).length >= 23);
    const rows = parseCsv(r.stdout);
    const v4 = rows.filter((x) => x.DPORT === String(P4));
    const v6 = rows.filter((x) => x.DPORT === String(P6));
    assert.equal(v4.length, 57);
    assert.equal(v6.length, 23);
    assert.ok(v4.every((x) => x.SOURCE_IP === '127.0.0.1' && x.DEST_IP === '127.0.0.1' && x.PROTO === 'UDP' && x.LENGTH === '1028' && x.flags === '000000'));
    assert.ok(v6.every((x) => x.SOURCE_IP === '::1' && x.DEST_IP === '::1' && x.LENGTH === '148'));
    assert.equal(rows.length, 80, 'ICMP port-unreachable replies are not UDP rows');
    const icmp = Number(/other IP (\d+)/.exec(r.stderr)?.[1]);
    assert.ok(icmp > 0, `the kernel's port-unreachable replies reached the capture: ${r.stderr}`);
    assert.match(r.stderr, new RegExp(`seen ${80 + icmp} frames, shown 80 rows, lost 0`));
  });

  test('every interface (the "any" device) names the interface of each packet', async (t) => {
    if (!need(t, 'root')) return;
    const P = nextPort();
    const ours = await capture(['--filter', `udp port ${P}`]);
    await peer(['udp-send', '127.0.0.1', String(P), '5', '10']);
    const rows = parseCsv((await stop(ours, (rows) => rows.length >= 5)).stdout);
    assert.equal(rows.length, 5, 'each loopback packet once, as tcpdump shows it');
    assert.ok(rows.every((x) => x.DEV === 'lo'));
    assert.ok(rows.every((x) => /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/.test(x.TIME)), 'ISO 8601 with microseconds');
  });

  test("the pcapng export holds the first 256 bytes of each frame (the capture's snap length) and its length on the wire, as tshark and tcpdump -r read it", async (t) => {
    if (!need(t, 'root')) return;
    const P = nextPort();
    // UDP payloads around the snap length: 14 + 20 + 8 + 214 = 256 bytes exactly; the rest shorter or longer, up to a
    // datagram larger than any Ethernet frame (lo's MTU is 64 KiB).
    const sizes = [1, 100, 213, 214, 215, 1000, 1472, 8000];
    const rows: PacketRow[] = [];
    const running = await tcpdumpSource({ ifaces: ['lo'], filter: `udp dst port ${P}`, bothDirections: false }, { row: (r) => void rows.push(r), rows: (r) => void rows.push(...r), fail: (e) => assert.fail(e) });
    try {
      const sock = dgram.createSocket('udp4');
      for (const size of sizes) await new Promise<void>((r, j) => sock.send(Buffer.alloc(size, 0x61), P, '127.0.0.1', (e) => (e ? j(e) : r())));
      sock.close();
      await until(() => rows.length >= sizes.length, 10_000, 'a row per datagram');
    } finally {
      await running.stop();
    }
    assert.deepEqual(rows.map((r) => r.length), sizes.map((s) => 28 + s), "the rows' IP lengths are the datagrams'");
    // What the collector writes for the Packets tab's export (collector/runner.node.ts), from the probe's kept frames.
    const frames = running.capturedFrames!();
    assert.deepEqual(frames.interfaces, [{ name: 'lo', linkType: 1, snaplen: 256 }]);
    const dir = mkdtempSync(path.join(os.tmpdir(), 'np19-snap-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const file = path.join(dir, 'export.pcapng');
    writeFileSync(file, writePcapng(frames.interfaces, frames.packets));
    const fields = (await sh('tshark', ['-r', file, '-T', 'fields', '-e', 'frame.len', '-e', 'frame.cap_len', '-e', 'udp.dstport', '-e', 'ip.len']))
      .trimEnd()
      .split('\n')
      .map((l) => l.split('\t'));
    assert.deepEqual(
      fields,
      sizes.map((s) => [String(42 + s), String(Math.min(256, 42 + s)), String(P), String(28 + s)]),
      'each frame: its length on the wire, at most 256 bytes captured',
    );
    // tcpdump -r: the same frames, UDP lengths from the headers kept.
    const lines = (await sh('tcpdump', ['-r', file, '-nn'])).trimEnd().split('\n');
    assert.deepEqual(lines.map((l) => /UDP, length (\d+)/.exec(l)?.[1]), sizes.map(String));
  });

  test('table format prints tcpdumplike.stp\'s header block and rows', async (t) => {
    if (!need(t, 'root')) return;
    const P = nextPort();
    const run = netprobes(['tcpdump', '--iface', 'lo', '--filter', `udp port ${P}`, '--duration', '2']);
    await waitForOutput(run.child, /Source IP/);
    await peer(['udp-send', '127.0.0.1', String(P), '2', '10']);
    const r = await run.done;
    assert.equal(r.code, 0);
    const lines = r.stdout.split('\n');
    assert.equal(lines[0], '-----------------------------------------------------------------');
    assert.equal(lines[1], '       Source IP         Dest IP  SPort  DPort  U  A  P  R  S  F ');
    const rows = lines.filter((l) => l.endsWith('UDP'));
    assert.equal(rows.length, 2);
    assert.match(rows[0]!, new RegExp(`^       127\\.0\\.0\\.1       127\\.0\\.0\\.1  \\s*\\d+  ${P}  UDP$`));
    assert.ok(lines.filter((l) => l.includes('Source IP')).length >= 2, 'header repeated every second');
    assert.match(r.stderr, /seen 2 frames, shown 2 rows, lost 0/);
  });
});

describe('tcpdump probe across a veth into a test namespace', () => {
  let host: TestHost;
  before(async () => {
    if (process.getuid?.() === 0) host = await createTestHost(41);
  });
  after(async () => host?.remove());

  test('TCP and UDP from the namespace, v4 and v6; received only by default, both with --both', async (t) => {
    if (!need(t, 'root')) return;
    const P = nextPort();
    const U = nextPort();
    const received = await capture(['--iface', host.hostIf, '--filter', `port ${P} or port ${U}`]);
    const both = await capture(['--iface', host.hostIf, '--filter', `port ${P} or port ${U}`, '--both']);

    const srv = await server(['tcp-server', host.hostV4, String(P)]);
    await peer(['tcp-client', host.hostV4, String(P), '2', '500'], host.ns);
    await srv.done;
    const usrv = await server(['udp-recv', host.hostV6, String(U), '9']);
    await peer(['udp-send', host.hostV6, String(U), '9', '300'], host.ns);
    await usrv.done;

    // The datagrams came last: once all 9 are shown, the TCP exchange before them is too (rows leave in capture order).
    const nineDatagrams = (rows: CsvRow[]) => rows.filter((x) => x.DPORT === String(U)).length >= 9;
    const inRows = parseCsv((await stop(received, nineDatagrams)).stdout);
    const allRows = parseCsv((await stop(both, nineDatagrams)).stdout);
    const fromNs = (x: CsvRow) => x.SOURCE_IP === host.nsV4 || x.SOURCE_IP === host.nsV6;
    assert.ok(inRows.length > 0 && inRows.every(fromNs), 'default: only packets received by this host');
    assert.ok(inRows.every((x) => x.DEV === host.hostIf));
    assert.equal(inRows.filter((x) => x.PROTO === 'UDP').length, 9);
    assert.ok(inRows.filter((x) => x.PROTO === 'UDP').every((x) => x.DEST_IP === host.hostV6 && x.DPORT === String(U) && x.LENGTH === '348'));
    const tcpIn = inRows.filter((x) => x.PROTO === 'TCP');
    assert.equal(tcpIn[0]!.flags, '000010', 'the SYN from the namespace');
    assert.ok(tcpIn.some((x) => x.flags.endsWith('1')), 'its FIN');
    assert.equal(allRows.filter(fromNs).length, inRows.length, '--both shows the same received packets');
    const sent = allRows.filter((x) => !fromNs(x));
    assert.ok(sent.some((x) => x.SOURCE_IP === host.hostV4 && x.flags === '010010'), '--both also shows the SYN+ACK we sent');
  });

  test('kernel capture drops: a small ring and a blocked reader lose packets, and every lost one is counted', async (t) => {
    if (!need(t, 'root')) return;
    const U = nextPort();
    const N = 20_000;
    let received = 0;
    const capture = await PcapCapture.open({ device: host.hostIf, filter: `udp dst port ${U}`, direction: 'in', bufferBytes: 256 << 10 }, () => received++);
    try {
      // The namespace sends N datagrams, paced so the veth's own backlog never overflows, while this process's
      // event loop — and so the capture's reader — is blocked: the 256 KiB ring holds a few thousand and the
      // kernel must drop the rest.
      const send = `
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(${N}):
    s.sendto(b'x' * 18, ('${host.hostV4}', ${U}))
    if i % 200 == 199: time.sleep(0.005)
`;
      execFileSync('ip', ['netns', 'exec', host.ns, 'python3', '-c', send], { timeout: 60_000 });
      // Then the reader drains what the ring kept.
      let last = -1;
      await until(() => {
        const settled = received === last;
        last = received;
        return settled;
      }, 10_000, 'the capture drained', 300);
      const drops = capture.kernelDrops();
      assert.ok(drops > 0, `the ring overflowed (received ${received})`);
      assert.equal(received + drops, N, `received ${received} + kernel drops ${drops}`);
    } finally {
      capture.close();
    }
  });

  test('malformed and truncated frames are counted and skipped, never a crash', async (t) => {
    if (!need(t, 'root')) return;
    const run = await capture(['--iface', host.hostIf, '--filter', 'ether src 02:02:02:02:02:02']);
    // Raw frames from inside the namespace: a bad IHL, a TCP header cut short, a bad IPv6 version, one good UDP packet.
    const script = `
import socket, struct
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind(('${host.nsIf}', 0))
eth = b'\\xff'*6 + b'\\x02'*6
def ip4(proto, payload, ihl=5):
    return bytes([0x40 | ihl, 0]) + struct.pack('!HHHBBH', 20 + len(payload), 0, 0, 64, proto, 0) + socket.inet_aton('${host.nsV4}') + socket.inet_aton('${host.hostV4}') + payload
s.send(eth + b'\\x08\\x00' + ip4(17, b'\\x00'*8, ihl=3))
s.send(eth + b'\\x08\\x00' + ip4(6, b'\\x00'*10))
s.send(eth + b'\\x86\\xdd' + b'\\x45' + b'\\x00'*47)
s.send(eth + b'\\x08\\x00' + ip4(17, struct.pack('!HHHH', 1111, 2222, 8, 0)))
`;
    await sh('ip', ['netns', 'exec', host.ns, 'python3', '-c', script]);
    const r = await stop(run, (rows) => rows.some((x) => x.SPORT === '1111')); // the good one was sent last
    const rows = parseCsv(r.stdout);
    assert.equal(rows.length, 1);
    assert.equal(rows[0]!.SPORT, '1111');
    assert.equal(rows[0]!.DPORT, '2222');
    assert.match(r.stderr, /seen 4 frames, shown 1 rows, lost 3 .*malformed 3/);
  });

  test('IP headers claiming 65535 bytes on 60-byte packets: LENGTH 60, counted as IP truncated; padding is not counted', async (t) => {
    if (!need(t, 'root')) return;
    const run = await capture(['--iface', host.hostIf, '--filter', 'ether src 02:02:02:02:02:02']);
    // Raw frames from inside the namespace: IPv4 and IPv6 UDP whose length fields say 65535 with 60 bytes
    // of IP sent, then an honest 28-byte IPv4 UDP packet padded to a 60-byte frame.
    const script = `
import socket, struct
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind(('${host.nsIf}', 0))
eth = b'\\xff'*6 + b'\\x02'*6
udp = lambda payload: struct.pack('!HHHH', 1111, 2222, 8 + len(payload), 0) + payload
def ip4(total, payload):
    return struct.pack('!BBHHHBBH', 0x45, 0, total, 0, 0, 64, 17, 0) + socket.inet_aton('${host.nsV4}') + socket.inet_aton('${host.hostV4}') + payload
def ip6(payload_len, payload):
    return struct.pack('!IHBB', 0x60000000, payload_len, 17, 64) + socket.inet_pton(socket.AF_INET6, '${host.nsV6}') + socket.inet_pton(socket.AF_INET6, '${host.hostV6}') + payload
s.send(eth + b'\\x08\\x00' + ip4(65535, udp(b'\\x00'*32)))
s.send(eth + b'\\x86\\xdd' + ip6(65535, udp(b'\\x00'*12)))
s.send(eth + b'\\x08\\x00' + ip4(28, udp(b'')) + b'\\x00'*18)
`;
    await sh('ip', ['netns', 'exec', host.ns, 'python3', '-c', script]);
    const r = await stop(run, (rows) => rows.length >= 3);
    const rows = parseCsv(r.stdout);
    assert.deepEqual(rows.map((x) => [x.SOURCE_IP, x.DPORT, x.LENGTH]), [
      [host.nsV4, '2222', '60'],
      [host.nsV6, '2222', '60'],
      [host.nsV4, '2222', '28'],
    ]);
    assert.match(r.stderr, /seen 3 frames, shown 3 rows, lost 0 .*IP truncated 2/);
  });
});

describe('the CLI without privileges and on bad input', () => {
  test('as an unprivileged user it exits non-zero with one clear line', async (t) => {
    if (!need(t, 'root')) return; // root is needed to become another user
    const r = await netprobes(['tcpdump', '--duration', '1'], { uid: 65534, gid: 65534 }).done;
    assert.notEqual(r.code, 0);
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0]!, /needs root or CAP_NET_RAW.*sudo/);
  });

  test('a filter that does not compile is named', async (t) => {
    if (!need(t, 'root')) return;
    const r = await netprobes(['tcpdump', '--iface', 'lo', '--filter', 'tcp port banana', '--duration', '1']).done;
    assert.equal(r.code, 2);
    assert.match(r.stderr, /bad filter expression 'tcp port banana'/);
  });

  test('an unknown interface is named', async (t) => {
    if (!need(t, 'root')) return;
    const r = await netprobes(['tcpdump', '--iface', 'nosuch0', '--duration', '1']).done;
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /no interface named nosuch0/);
  });
});
