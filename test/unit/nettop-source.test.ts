// nettop's source scheduling, without root: the real source code on fakes of its
// four OS inputs (clock, /proc scanner, capture, tracer). What is under test is
// when /proc is scanned (at start, on a miss, at most every MIN_SCAN_GAP_MS,
// again for held packets a scan could not decide, every REFRESH_MS while
// traffic flows), when the tracer is read, and how stop() drains the capture.
// The real inputs are covered by test/integration/nettop*.test.ts.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { CapturedPacket } from '../../kernel/capture/pcap.node.ts';
import { SocketIndex, type Owner } from '../../attribution/socket-index.ts';
import type { FlowTuple } from '../../attribution/flow.ts';
import type { NettopRow } from '../../probes/nettop/definition.ts';
import {
  createNettopSource,
  GRACE_MS,
  MIN_SCAN_GAP_MS,
  POLL_MS,
  QUIET_MS,
  REFRESH_MS,
  type NettopCapture,
  type NettopClock,
  type NettopInputs,
  type NettopTracer,
} from '../../probes/nettop/source.node.ts';
import { loUdpFrame, procSocket } from './nettop-fixtures.ts';

const T0_MS = 1_700_000_000_000;
const sender: Owner = { pid: 11, uid: 1000, command: 'sender' };
const receiver: Owner = { pid: 12, uid: 1000, command: 'receiver' };

/** Virtual time: timers run when advance() passes them, in order. */
class FakeClock implements NettopClock {
  private readonly timers = new Map<number, { at: number; run: () => void; every: number }>();
  private nextId = 1;
  constructor(public nowMs: number) {}
  now(): number {
    return this.nowMs;
  }
  setTimeout(run: () => void, ms: number): number {
    this.timers.set(this.nextId, { at: this.nowMs + ms, run, every: 0 });
    return this.nextId++;
  }
  clearTimeout(timer: unknown): void {
    this.timers.delete(timer as number);
  }
  setInterval(run: () => void, ms: number): number {
    this.timers.set(this.nextId, { at: this.nowMs + ms, run, every: ms });
    return this.nextId++;
  }
  clearInterval(timer: unknown): void {
    this.timers.delete(timer as number);
  }
  get pending(): number {
    return this.timers.size;
  }
  advance(ms: number): void {
    const end = this.nowMs + ms;
    for (;;) {
      let due: [number, { at: number; run: () => void; every: number }] | null = null;
      for (const entry of this.timers) if (entry[1].at <= end && (!due || entry[1].at < due[1].at)) due = entry;
      if (!due) break;
      const [id, timer] = due;
      this.nowMs = timer.at;
      if (timer.every) timer.at += timer.every;
      else this.timers.delete(id);
      timer.run();
    }
    this.nowMs = end;
  }
}

/** The lo sockets of a UDP exchange 127.0.0.1:45101 → :45102, once they exist. */
const bothSockets = () =>
  new SocketIndex(
    [procSocket('UDP', '127.0.0.1', 45101, '0.0.0.0', 0, 1), procSocket('UDP', '127.0.0.1', 45102, '0.0.0.0', 0, 2)],
    new Map([
      [1, sender],
      [2, receiver],
    ]),
  );
const noSockets = () => new SocketIndex([], new Map());

function harness(opts: { tracer?: (clock: FakeClock) => NettopTracer; linkType?: number; interval?: number } = {}) {
  const clock = new FakeClock(T0_MS);
  const scans: number[] = [];
  let index = noSockets();
  let scanFails = false;
  let onPacket: ((packet: CapturedPacket) => void) | null = null;
  const capture = { linkType: opts.linkType ?? 276, closed: false as boolean, kernelDrops: () => 0, close: () => void (capture.closed = true) } satisfies NettopCapture & { closed: boolean };
  const inputs: NettopInputs = {
    clock,
    scanner: {
      scan: () => {
        if (scanFails) throw new Error('EACCES');
        scans.push(clock.now() - T0_MS);
        return { index, startedMs: clock.now(), tookMs: 2 };
      },
    },
    openCapture: (_filter, deliver) => {
      onPacket = deliver;
      return capture;
    },
    startTracer: () => opts.tracer?.(clock) ?? { unavailable: 'faked away' },
    interfaceName: (ifindex) => (ifindex === 1 ? 'lo' : `if${ifindex}`),
  };
  const rows: NettopRow[][] = [];
  const failures: Error[] = [];
  const sink = { row: (r: NettopRow) => void rows.push([r]), rows: (r: NettopRow[]) => void rows.push(r), fail: (e: Error) => void failures.push(e) };
  const frame = loUdpFrame('127.0.0.1', 45101, '127.0.0.1', 45102, 100);
  /** libpcap delivering `count` datagrams 45101 → 45102 captured at atMs after the start. */
  const deliver = (atMs: number, count = 1) => {
    const data = Buffer.from(frame);
    for (let i = 0; i < count; i++) onPacket!({ data, offset: 0, caplen: data.length, wireLen: data.length, time: (T0_MS + atMs) * 1000, linkType: 276 });
  };
  const start = () => createNettopSource(inputs)({ interval: opts.interval ?? 1, ifaces: [] }, sink);
  return {
    clock,
    scans,
    rows,
    failures,
    capture,
    deliver,
    start,
    setSockets: (next: SocketIndex) => void (index = next),
    failScans: () => void (scanFails = true),
  };
}

/** stop(), with virtual time passing while it drains the (quiet) capture. */
async function stopQuiet(clock: FakeClock, running: { stop(): Promise<void> }): Promise<void> {
  let done = false;
  const stopped = running.stop().then(() => void (done = true));
  while (!done) {
    clock.advance(QUIET_MS);
    await new Promise((resolve) => setImmediate(resolve));
  }
  await stopped;
}

const pick = (rows: NettopRow[]) => rows.map((r) => [r.pid, r.dev, r.xmitPk, r.recvPk]);

test('source: a miss asks one rescan for the whole burst, no sooner than MIN_SCAN_GAP_MS after the last, and the held packets are counted after it', async () => {
  const h = harness();
  const running = await h.start();
  assert.deepEqual(h.scans, [0], 'scanned at start');
  h.clock.advance(10);
  h.deliver(10, 50); // sockets newer than the start's scan
  h.setSockets(bothSockets());
  assert.equal(running.counters().held, 100, 'both sides held');
  h.clock.advance(MIN_SCAN_GAP_MS - 11);
  assert.deepEqual(h.scans, [0], 'rate-limited');
  h.clock.advance(1);
  assert.deepEqual(h.scans, [0, MIN_SCAN_GAP_MS], 'one rescan for the burst');
  h.clock.advance(1000 + GRACE_MS - MIN_SCAN_GAP_MS);
  assert.deepEqual(pick(h.rows[0]!), [
    [11, 'lo', 50, 0],
    [12, 'lo', 0, 50],
  ]);
  assert.equal(running.counters().attributed, 100);
  await stopQuiet(h.clock, running);
});

test('source: held packets that a scan begun before them cannot decide are retried at the next scan, then given their verdict', async () => {
  const h = harness();
  const running = await h.start();
  h.clock.advance(50);
  h.deliver(MIN_SCAN_GAP_MS + 20); // captured after the rescan it asks for will begin
  h.clock.advance(MIN_SCAN_GAP_MS);
  assert.deepEqual(h.scans, [0, MIN_SCAN_GAP_MS], 'the first rescan');
  assert.equal(running.counters().held, 2);
  h.clock.advance(MIN_SCAN_GAP_MS);
  assert.deepEqual(h.scans, [0, MIN_SCAN_GAP_MS, 2 * MIN_SCAN_GAP_MS], 'asked again for what it left undecided');
  h.clock.advance(1000);
  // No socket, final: a datagram to a closed port is the kernel's; its sender is unknown.
  assert.deepEqual(pick(h.rows[0]!), [
    [-1, 'lo', 1, 0],
    [0, 'lo', 0, 1],
  ]);
  await stopQuiet(h.clock, running);
});

test('source: /proc is refreshed every REFRESH_MS while packets flow, not while idle', async () => {
  const h = harness({ interval: 60 });
  h.setSockets(bothSockets());
  const running = await h.start();
  h.clock.advance(REFRESH_MS);
  assert.deepEqual(h.scans, [0], 'idle: no refresh');
  h.deliver(REFRESH_MS + 1);
  h.clock.advance(REFRESH_MS);
  assert.deepEqual(h.scans, [0, 2 * REFRESH_MS]);
  h.clock.advance(REFRESH_MS);
  assert.equal(h.scans.length, 2, 'idle again');
  assert.equal(running.counters().scans, 2);
  await stopQuiet(h.clock, running);
});

/** A tracer that names `owner` for the flows it is asked about, complete up to when it was last polled. */
function fakeTracer(clock: FakeClock, owner: Owner) {
  const calls = { polls: 0, last: 0, closed: 0, fail: false };
  let completeUs = 0;
  const tracer: NettopTracer = {
    table: {
      counts: { evicted: 0, lossy: 0 },
      ready: (timeUs) => timeUs <= completeUs,
      completeUntilUs: () => completeUs,
      lookup: (flow: FlowTuple) => (flow.localPort === 45101 ? owner : null),
    },
    tracepoints: ['sock:fake'],
    counts: { unresolved: 0 },
    poll: (last = false) => {
      if (calls.fail) throw new Error('ring gone');
      calls.polls++;
      if (last) calls.last++;
      completeUs = clock.now() * 1000;
      return true;
    },
    overruns: () => 0,
    close: () => void calls.closed++,
  };
  return { tracer, calls };
}

test('source: the tracer is read every POLL_MS; a sent packet waits for it rather than for /proc and is named by it', async () => {
  let faked!: ReturnType<typeof fakeTracer>;
  const h = harness({ tracer: (clock) => (faked = fakeTracer(clock, sender)).tracer });
  const running = await h.start();
  const calls = faked.calls;
  assert.match(running.description, /tracepoints sock:fake/);
  h.clock.advance(5);
  h.deliver(5); // the sender's socket already gone: only the trace knows it
  assert.equal(running.counters().held, 2);
  const pollsBefore = calls.polls;
  h.clock.advance(POLL_MS);
  assert.equal(calls.polls, pollsBefore + 1);
  assert.equal(running.counters().traced, 1, 'the sent side named by the trace');
  h.clock.advance(1000 + GRACE_MS);
  const rows = h.rows[0]!;
  assert.deepEqual(pick(rows), [
    [0, 'lo', 0, 1], // received on a port no socket holds (the scan the receiving side asked for confirmed it)
    [11, 'lo', 1, 0],
  ]);
  await stopQuiet(h.clock, running);
  assert.equal(calls.last, 1, 'read once more, to the end, at stop');
  assert.equal(calls.closed, 1);
});

test('source: a failing tracer is closed and counted; /proc alone decides from then on', async () => {
  let faked!: ReturnType<typeof fakeTracer>;
  const h = harness({ tracer: (clock) => (faked = fakeTracer(clock, sender)).tracer });
  const running = await h.start();
  const calls = faked.calls;
  calls.fail = true;
  h.clock.advance(POLL_MS);
  assert.equal(running.counters().traceFailed, 1);
  assert.equal(calls.closed, 1);
  h.clock.advance(5);
  h.deliver(POLL_MS + 5);
  h.clock.advance(2 * MIN_SCAN_GAP_MS);
  h.clock.advance(1000);
  assert.deepEqual(pick(h.rows[0]!), [
    [-1, 'lo', 1, 0],
    [0, 'lo', 0, 1],
  ]);
  await stopQuiet(h.clock, running);
  assert.equal(calls.closed, 1, 'not closed twice');
});

test('source: stop drains the capture until it is quiet, then gives the interval in progress with the stop as its time', async () => {
  const h = harness({ interval: 60 });
  h.setSockets(bothSockets());
  const running = await h.start();
  h.clock.advance(10);
  h.deliver(10);
  const stopped = running.stop();
  // libpcap's last blocks: one more frame in each of the first two quiet windows.
  for (let i = 0; i < 2; i++) {
    h.deliver(h.clock.now() - T0_MS);
    h.clock.advance(QUIET_MS);
    await new Promise((resolve) => setImmediate(resolve));
  }
  assert.equal(h.capture.closed, false, 'still draining: frames kept coming');
  h.clock.advance(QUIET_MS);
  await stopped;
  assert.equal(h.capture.closed, true);
  assert.equal(h.rows.length, 1);
  assert.deepEqual(pick(h.rows[0]!), [
    [11, 'lo', 3, 0],
    [12, 'lo', 0, 3],
  ]);
  assert.equal(h.rows[0]![0]!.time, h.clock.now() * 1000, 'the TIME of the last table is the stop');
  assert.equal(h.clock.pending, 0, 'every timer cleared');
});

test('source: /proc unreadable fails the source; a capture not in LINUX_SLL2 is refused and closed', async () => {
  const h = harness();
  const running = await h.start();
  h.failScans();
  h.clock.advance(10);
  h.deliver(10);
  h.clock.advance(MIN_SCAN_GAP_MS);
  assert.equal(h.failures.length, 1);
  assert.match(h.failures[0]!.message, /cannot read \/proc for socket owners: EACCES/);
  await stopQuiet(h.clock, running);
  assert.equal(h.clock.pending, 0);

  const ethernet = harness({ linkType: 1 });
  await assert.rejects(ethernet.start(), /not LINUX_SLL2/);
  assert.equal(ethernet.capture.closed, true);
  assert.equal(ethernet.clock.pending, 0, 'no timer left behind');
});
