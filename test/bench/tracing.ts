// Tracing: dropwatch under a closed-port drop storm beside the kernel's own count (Udp NoPorts) and bpftrace;
// tcp-connections under a connect/accept storm; socket-trace under paced sendto() calls.

import { closeSync, openSync, readFileSync, unlinkSync } from 'node:fs';
import path from 'node:path';
import { CpuMeter, gen, kv, netprobes, port, probeSummary, sleep, start, udpNoPorts, WORK, type Proc } from './lib.ts';

async function startProbe(args: string[], file: string): Promise<Proc> {
  const fd = openSync(file, 'w');
  const pr = netprobes(args, { stdio: ['ignore', fd, 'pipe'] });
  closeSync(fd);
  const end = Date.now() + 20_000;
  while (readFileSync(file, 'utf8').length === 0) {
    if (pr.child.exitCode !== null || Date.now() > end) throw new Error(`${args[0]} did not start: ${pr.err().slice(-500)}`);
    await sleep(50);
  }
  return pr;
}

function rows(file: string): string[][] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .slice(1)
    .filter(Boolean)
    .map((l) => l.split(','));
}

function drop(file: string): void {
  try {
    unlinkSync(file);
  } catch {
    /* gone */
  }
}

/** enum skb_drop_reason value of NO_SOCKET, from the event's format (for bpftrace's per-reason count). */
function noSocketReason(): number {
  try {
    const f = readFileSync('/sys/kernel/tracing/events/skb/kfree_skb/format', 'utf8');
    return Number(/\{\s*(\d+),\s*"NO_SOCKET"\s*\}/.exec(f)?.[1] ?? 2);
  } catch {
    return 2;
  }
}

export interface DropRun {
  rate: number;
  sent: number;
  sentRate: number;
  kernelNoPorts: number;
  probeNoSocket: number;
  probeTotal: number;
  bpftraceNoSocket: number;
  bpftraceTotal: number;
  overruns: number;
  probeLost: number;
  probeCpu: number;
  bpftraceCpu: number;
}

export async function dropRun(rate: number, seconds: number, withBpftrace: boolean): Promise<DropRun> {
  const p = port(); // nothing listens: every datagram is a NO_SOCKET drop
  const file = path.join(WORK, `drop-${p}.csv`);
  const pr = await startProbe(['dropwatch', '--format', 'csv', '--interval', '1'], file);
  const reason = noSocketReason();
  let bt: Proc | null = null;
  try {
    if (withBpftrace) {
      bt = start('bpftrace', ['-e', `tracepoint:skb:kfree_skb { @all = count(); if (args->reason == ${reason}) { @nosock = count(); } }`]);
      await bt.waitFor(/Attaching \d+ probe/, 30_000);
      await sleep(500);
    }
    await sleep(300);
    const cpuP = new CpuMeter(pr.pid);
    const cpuB = bt ? new CpuMeter(bt.pid) : null;
    cpuP.begin();
    cpuB?.begin();
    const before = udpNoPorts();
    const g = gen(['udp', p, rate, seconds]);
    await g.done;
    const kernel = udpNoPorts() - before;
    await sleep(300);
    cpuP.end();
    cpuB?.end();
    await sleep(1200);
    await Promise.all([pr.stop(), bt?.stop()]);
    const s = probeSummary(pr.err());
    const all = rows(file); // TIME,COUNT,LOCATION,REASON,PROTOCOL
    const btOut = bt?.out() ?? '';
    return {
      rate,
      sent: kv(g.out()).sent ?? NaN,
      sentRate: kv(g.out()).rate ?? NaN,
      kernelNoPorts: kernel,
      probeNoSocket: all.filter((c) => c[3] === 'NO_SOCKET').reduce((n, c) => n + Number(c[1]), 0),
      probeTotal: all.reduce((n, c) => n + Number(c[1]), 0),
      bpftraceNoSocket: bt ? Number(/@nosock: (\d+)/.exec(btOut)?.[1] ?? 0) : NaN,
      bpftraceTotal: bt ? Number(/@all: (\d+)/.exec(btOut)?.[1] ?? 0) : NaN,
      overruns: s['ring overruns'] ?? NaN,
      probeLost: s.lost ?? NaN,
      probeCpu: cpuP.cores,
      bpftraceCpu: cpuB?.cores ?? NaN,
    };
  } finally {
    await Promise.all([pr.stop(), bt?.stop()]);
    drop(file);
  }
}

export interface AcceptRun {
  rate: number;
  connected: number;
  connRate: number;
  accepted: number;
  reported: number;
  probeLost: number;
  overruns: number;
  probeCpu: number;
}

export async function acceptRun(rate: number, seconds: number): Promise<AcceptRun> {
  const p = port();
  const file = path.join(WORK, `accept-${p}.csv`);
  const server = gen(['accept', p, seconds + 20]);
  await server.waitFor(/ready/);
  const pr = await startProbe(['tcp-connections', '--format', 'csv'], file);
  try {
    await sleep(300);
    const cpu = new CpuMeter(pr.pid);
    cpu.begin();
    const g = gen(['connect', p, rate, seconds]);
    await g.done;
    await sleep(500);
    cpu.end();
    await server.stop('SIGTERM');
    await sleep(700);
    await pr.stop();
    const s = probeSummary(pr.err());
    const out = kv(g.out());
    // TIME,UID,CMD,PID,PORT,IP_SOURCE,REMOTE_PORT,DIRECTION
    const reported = rows(file).filter((c) => Number(c[4]) === p && Number(c[3]) === server.pid && c[7] === 'accepted').length;
    return {
      rate,
      connected: out.connected ?? NaN,
      connRate: out.rate ?? NaN,
      accepted: kv(server.out()).accepted ?? NaN,
      reported,
      probeLost: s.lost ?? NaN,
      overruns: s['ring overruns'] ?? NaN,
      probeCpu: cpu.cores,
    };
  } finally {
    await Promise.all([pr.stop(), server.stop('SIGTERM')]);
    drop(file);
  }
}

export interface CallsRun {
  rate: number;
  made: number;
  callRate: number;
  reported: number;
  probeLost: number;
  overruns: number;
  probeCpu: number;
  /** Seconds from SIGINT to the probe's exit: it reads what the ring still holds before it says what was lost. */
  stopS: number;
}

/** An overloaded socket-trace reads a full ring at its stop; it gets this long before the bench gives up on it. */
const CALLS_STOP_GRACE_MS = 60_000;

export async function callsRun(rate: number, seconds: number): Promise<CallsRun> {
  const p = port();
  const file = path.join(WORK, `calls-${p}.csv`);
  const sink = gen(['recv', p, seconds + 20]);
  await sink.waitFor(/ready/);
  const pr = await startProbe(['socket-trace', '--format', 'csv', '--comm', 'npgen', '--rate', '1000000'], file);
  try {
    await sleep(300);
    const cpu = new CpuMeter(pr.pid);
    cpu.begin();
    const g = gen(['sendto', p, rate, seconds]);
    await g.done;
    await sleep(500);
    cpu.end();
    await sleep(700);
    const stopping = Date.now();
    await pr.stop('SIGINT', CALLS_STOP_GRACE_MS);
    const stopS = (Date.now() - stopping) / 1000;
    const s = probeSummary(pr.err());
    const out = kv(g.out());
    // TIME,REL_US,COMM,PID,TID,DEPTH,DIRECTION,FUNCTION
    const reported = rows(file).filter((c) => Number(c[3]) === g.pid && c[6] === 'call' && c[7] === 'sys_sendto').length;
    return {
      rate,
      made: out.sent ?? NaN,
      callRate: out.rate ?? NaN,
      reported,
      probeLost: s.lost ?? NaN,
      overruns: s['ring overruns'] ?? NaN,
      probeCpu: cpu.cores,
      stopS,
    };
  } finally {
    await Promise.all([pr.stop(), sink.stop('SIGTERM')]);
    drop(file);
  }
}
