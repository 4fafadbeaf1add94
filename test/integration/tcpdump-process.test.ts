// tcpdump --process against real processes: each packet's PID and command are
// the sender's (checked against the PIDs of the processes the test started and
// their /proc/PID/comm), the pcapng export of the Packets tab (through the
// host session and the collector) carries the same PID on every packet as
// tshark reads it, and --read on capture files made by tcpdump, by tshark and
// by our own export gives the rows the live probe gave.

import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { Session } from '../../host/session.node.ts';
import type { HostEvent } from '../../ipc/api.ts';
import { need } from '../helpers/env.ts';
import { collect, netprobes, ROOT, sh, sleep, waitForOutput } from '../helpers/run.ts';

const PEER = path.join(ROOT, 'test', 'helpers', 'peer.mjs');
const COLLECTOR = path.join(ROOT, 'dist', 'collector.js');
const HEADER = 'TIME,DEV,SOURCE_IP,DEST_IP,SPORT,DPORT,PROTO,U,A,P,R,S,F,LENGTH';
const COUNT = 100; // requests, each answered: 200 datagrams

const csvRows = (text: string, header: string) => {
  const [first, ...lines] = text.trim().split('\n');
  assert.equal(first, header);
  return lines.map((l) => l.split(','));
};

async function until(cond: () => boolean, ms: number, what: string) {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await sleep(20);
  }
}

function startPeer(args: string[]): { child: ChildProcess; done: ReturnType<typeof collect>; comm: string } {
  const child = spawn(process.execPath, [PEER, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const done = collect(child);
  // spawn returns once exec succeeded: the command is the peer's own from here on.
  const comm = readFileSync(`/proc/${child.pid}/comm`, 'utf8').trim();
  return { child, done, comm };
}

const timeUs = (iso: string) => Date.parse(iso) * 1000 + Number(iso.slice(23, 26));
/** Equal column for column, TIME within 100 µs (see assertSameRows). */
const sameRow = (a: string[], b: string[]) => a.slice(1).join(',') === b.slice(1).join(',') && Math.abs(timeUs(a[0]!) - timeUs(b[0]!)) <= 100;

/**
 * Rows equal column for column, TIME within 100 µs: two captures of one packet on lo (ours live, tcpdump's, the
 * collector's) are each stamped by the kernel as it hands the packet to their socket (no timestamp was taken
 * earlier on lo), a microsecond or so apart; a row from a file carries the file's own stamp exactly.
 */
function assertSameRows(got: string[][], want: string[][], what: string) {
  assert.equal(got.length, want.length, `${what}: row count`);
  for (let i = 0; i < want.length; i++) assert.ok(sameRow(got[i]!, want[i]!), `${what}: row ${i}: ${got[i]!.join(',')} vs ${want[i]!.join(',')}`);
}

/** Lines the child has printed on stdout so far (attach at spawn: nothing earlier is missed). */
function stdoutLines(child: ChildProcess): () => number {
  let n = 0;
  child.stdout!.on('data', (d: Buffer | string) => {
    for (const c of String(d)) if (c === '\n') n++;
  });
  return () => n;
}

/** Stops the CLI once it has printed `rows` rows after its header: a row leaves once its packet's process is known. */
async function stopCli(run: ReturnType<typeof netprobes>, printed: () => number, rows: number) {
  await until(() => printed() >= 1 + rows, 10_000, `${rows} rows from the CLI (printed ${printed() - 1})`);
  run.child.kill('SIGINT');
  const r = await run.done;
  assert.equal(r.code, 0, `netprobes exited cleanly: ${r.stderr}`);
  return r;
}

describe('tcpdump --process', () => {
  test('200 datagrams on lo: every row has its sender\'s PID and command, the pcapng export the same PID, --read the same rows', async (t) => {
    if (!need(t, 'root')) return;
    const P = 30000 + Math.floor(Math.random() * 20000);
    const dir = mkdtempSync(path.join(os.tmpdir(), 'np17-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const filter = `udp port ${P}`;

    // The reference: tcpdump itself writes what it captured.
    const refPcap = path.join(dir, 'ref.pcap');
    // A short snap length and a large buffer: in immediate mode with tcpdump's default 256 KiB snap length, its 2 MiB
    // ring on lo has room for only a few dozen frames, and a burst overflowed it (177-199 of 200 were kept).
    const ref = spawn('tcpdump', ['-i', 'lo', '-nn', '--immediate-mode', '-U', '-s', '128', '-B', '16384', '-Z', 'root', '-w', refPcap, filter], { stdio: ['ignore', 'pipe', 'pipe'] });
    const refDone = collect(ref);
    await waitForOutput(ref, /listening on/);

    // The CLI, and the Packets tab's path: the host session and the collector.
    const live = netprobes(['tcpdump', '--iface', 'lo', '--process', '--format', 'csv', '--filter', filter]);
    const livePrinted = stdoutLines(live.child);
    await waitForOutput(live.child, /TIME,DEV/);
    const session = new Session({ collectorScript: COLLECTOR, frontEnd: 'browser', elevatedLauncher: null, saveFile: null });
    t.after(() => session.shutdown());
    const events: HostEvent[] = [];
    session.subscribe((e) => events.push(e));
    await session.handle({ type: 'start', probe: 'tcpdump', options: { ifaces: ['lo'], filter, bothDirections: false, process: true } });
    await until(() => session.state.probes.tcpdump.source !== null, 5000, 'the collector captures');
    assert.match(session.state.probes.tcpdump.source!, /processes: socket owners from \/proc/);

    const echo = startPeer(['udp-echo', '127.0.0.1', String(P), String(COUNT)]);
    await waitForOutput(echo.child, /ready/);
    const ping = startPeer(['udp-ping', '127.0.0.1', String(P), String(COUNT), '64', '300']);
    assert.equal((await ping.done).code, 0);
    assert.equal((await echo.done).code, 0);
    const expected = (sport: string) => (sport === String(P) ? { pid: echo.child.pid!, comm: echo.comm } : { pid: ping.child.pid!, comm: ping.comm });

    // (1) the CLI: 200 rows, each with the sender's PID, command and uid.
    const r = await stopCli(live, livePrinted, 2 * COUNT);
    const rows = csvRows(r.stdout, `${HEADER},PID,COMMAND,UID`);
    assert.equal(rows.length, 2 * COUNT, r.stderr);
    for (const row of rows) {
      const want = expected(row[4]!);
      assert.deepEqual(row.slice(14), [String(want.pid), want.comm, '0'], `row ${row.join(',')}`);
    }
    assert.equal(rows.filter((x) => x[5] === String(P)).length, COUNT, 'requests');
    assert.match(r.stderr, new RegExp(`attributed ${2 * COUNT}, kernel 0, unknown 0`));

    // (2) the pcapng export, read back by tshark: the same PID on every packet.
    const rowsSeen = () => events.filter((e) => e.type === 'rows').reduce((n, e) => n + (e as { rows: object[] }).rows.length, 0);
    await until(() => rowsSeen() === 2 * COUNT, 5000, '200 rows in the session');
    const exported = (await session.handle({ type: 'exportPcapng' })) as { base64: string; packets: number };
    assert.equal(exported.packets, 2 * COUNT);
    const ours = path.join(dir, 'ours.pcapng');
    writeFileSync(ours, Buffer.from(exported.base64, 'base64'));
    const fields = (await sh('tshark', ['-r', ours, '-T', 'fields', '-e', 'udp.srcport', '-e', 'frame.comment'])).trim().split('\n');
    assert.equal(fields.length, 2 * COUNT);
    for (const line of fields) {
      const [sport, comment] = line.split('\t');
      const want = expected(sport!);
      assert.equal(comment, `pid=${want.pid}, comm=${want.comm}, uid=0, cgroup=${comment!.split('cgroup=')[1] ?? ''}`, line);
    }

    // (3) --read: tcpdump's file gives the live rows (without the process: the file has none).
    // tcpdump writes each packet as it reads it (-U): wait until its file holds all 200 (on a loaded machine its last
    // ring block can come late, and what it has not read when it is stopped is lost), at most 10 s.
    const refCount = async () => (await sh('tcpdump', ['-r', refPcap, '-nn'])).trim().split('\n').filter(Boolean).length;
    for (const end = Date.now() + 10_000; (await refCount().catch(() => 0)) < 2 * COUNT && Date.now() < end; ) await sleep(100);
    ref.kill('SIGINT');
    const refEnd = await refDone;
    assert.match(refEnd.stderr, /\b0 packets dropped by kernel/, `the reference capture lost packets: ${refEnd.stderr}`);
    const read = async (file: string, ...more: string[]) => {
      const run = await collect(spawn(process.execPath, [path.join(ROOT, 'bin', 'netprobes.js'), 'tcpdump', '--read', file, '--format', 'csv', ...more], { stdio: ['ignore', 'pipe', 'pipe'] }));
      assert.equal(run.code, 0, run.stderr);
      return run;
    };
    const liveRows = rows.map((x) => x.slice(0, 14));
    // The reference missed a few datagrams (177 to 199 of 200) while its ring on lo had room for a few dozen frames;
    // with a short snap length and a large buffer it keeps all 200, and --read gives exactly the live rows.
    const captured = await refCount();
    assert.equal(captured, 2 * COUNT, 'the reference tcpdump wrote every datagram');
    const fromPcap = await read(refPcap, '--iface', 'lo');
    assertSameRows(csvRows(fromPcap.stdout, HEADER), liveRows, "tcpdump's pcap");
    assert.match(fromPcap.stderr, new RegExp(`seen ${captured} frames, shown ${captured} rows, lost 0`));
    // The same packets as pcapng, written by tshark (no interface name: it had none to copy).
    const ngByTshark = path.join(dir, 'ref.pcapng');
    await sh('tshark', ['-r', refPcap, '-F', 'pcapng', '-w', ngByTshark]);
    const fromTshark = await read(ngByTshark, '--iface', 'lo');
    assert.deepEqual(csvRows(fromTshark.stdout, HEADER), csvRows(fromPcap.stdout, HEADER), "tshark's pcapng of the same packets: the same rows exactly");
    // Our own export with --process: the process columns from its comments.
    const fromOurs = await read(ours, '--process');
    assertSameRows(csvRows(fromOurs.stdout, `${HEADER},PID,COMMAND,UID`), rows, 'our export, with its comments');
  });

  test('--pid and --comm keep one process\'s packets in the collector, the others counted', async (t) => {
    if (!need(t, 'root')) return;
    const P = 30000 + Math.floor(Math.random() * 20000);
    const filter = `udp port ${P}`;
    const echo = startPeer(['udp-echo', '127.0.0.1', String(P), String(COUNT)]);
    await waitForOutput(echo.child, /ready/);
    // The echo's replies only (its own sends, the sender's PID as --process finds it), and a command no one has.
    const byPid = netprobes(['tcpdump', '--iface', 'lo', '--pid', String(echo.child.pid), '--process', '--format', 'csv', '--filter', filter]);
    const printed = stdoutLines(byPid.child);
    const byComm = netprobes(['tcpdump', '--iface', 'lo', '--comm', 'np-nobody', '--format', 'csv', '--filter', filter]);
    t.after(() => [echo, byPid, byComm].forEach((p) => p.child.exitCode === null && p.child.kill('SIGKILL')));
    await Promise.all([waitForOutput(byPid.child, /TIME,DEV/), waitForOutput(byComm.child, /TIME,DEV/)]);
    const session = new Session({ collectorScript: COLLECTOR, frontEnd: 'browser', elevatedLauncher: null, saveFile: null });
    t.after(() => session.shutdown());
    const events: HostEvent[] = [];
    session.subscribe((e) => events.push(e));
    await session.handle({ type: 'start', probe: 'tcpdump', options: { ifaces: ['lo'], filter, bothDirections: false, pid: echo.child.pid! } });
    await until(() => session.state.probes.tcpdump.source !== null, 5000, 'the collector captures');
    assert.match(session.state.probes.tcpdump.source!, new RegExp(`only PID ${echo.child.pid}$`));

    const ping = startPeer(['udp-ping', '127.0.0.1', String(P), String(COUNT), '64', '300']);
    assert.equal((await ping.done).code, 0);
    assert.equal((await echo.done).code, 0);

    const r = await stopCli(byPid, printed, COUNT);
    const rows = csvRows(r.stdout, `${HEADER},PID,COMMAND,UID`);
    assert.equal(rows.length, COUNT, r.stderr);
    assert.ok(rows.every((x) => x[4] === String(P) && x[14] === String(echo.child.pid)), 'every row is a reply the echo sent');
    assert.match(r.stderr, new RegExp(`seen ${2 * COUNT} frames, shown ${COUNT} rows, lost 0 .*other processes ${COUNT}`));
    byComm.child.kill('SIGINT');
    const c = await byComm.done;
    assert.equal(c.stdout.trim(), HEADER, 'no row of a command no one has');
    assert.match(c.stderr, new RegExp(`seen ${2 * COUNT} frames, shown 0 rows, lost 0 .*other processes ${2 * COUNT}`));

    // Through the collector, as the Packets tab asks: only the echo's rows cross to the host.
    const rowsSeen = () => events.filter((e) => e.type === 'rows' && e.probe === 'tcpdump').reduce((n, e) => n + (e as { rows: object[] }).rows.length, 0);
    await until(() => rowsSeen() === COUNT, 5000, `${COUNT} rows in the session (${rowsSeen()})`);
    await session.handle({ type: 'stop', probe: 'tcpdump' });
    await until(() => !session.state.probes.tcpdump.running, 5000, 'the probe stopped');
    assert.equal(rowsSeen(), COUNT);
  });

  test('--read refuses what it cannot do, and the collector never opens a file', async (t) => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'np17-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const junk = path.join(dir, 'junk.pcap');
    writeFileSync(junk, Buffer.alloc(64, 7));
    const bad = await collect(spawn(process.execPath, [path.join(ROOT, 'bin', 'netprobes.js'), 'tcpdump', '--read', junk, '--format', 'csv'], { stdio: ['ignore', 'pipe', 'pipe'] }));
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /not a pcap or pcapng file/);
    const session = new Session({ collectorScript: COLLECTOR, frontEnd: 'browser', elevatedLauncher: null, saveFile: null });
    await assert.rejects(session.handle({ type: 'start', probe: 'tcpdump', options: { ifaces: [], filter: '', bothDirections: false, read: '/etc/shadow' } }), /--read is the command line's only/);
    session.shutdown();
  });
});
