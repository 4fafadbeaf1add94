// Capture: the tcpdump and nettop probes (CLI, rows to a file) beside `tcpdump -i lo -w /dev/null -B 4096`
// on the same 64-byte UDP flood, in the same run, at rising rates. And nettop's attribution under churn.

import { closeSync, openSync, readFileSync, statSync, unlinkSync } from 'node:fs';
import path from 'node:path';
import { CpuMeter, gen, kv, netprobes, port, probeSummary, sleep, start, WORK, type Proc } from './lib.ts';

export interface CaptureRun {
  probe: 'tcpdump' | 'nettop';
  load: string;
  /** Requested rate (0 = the generator's ceiling). */
  rate: number;
  sent: number;
  sentRate: number;
  received: number;
  probeSeen: number;
  probeLost: number;
  probeKernelDrops: number;
  probeCpu: number;
  refCaptured: number;
  refDropped: number;
  refCpu: number;
}

async function waitFile(file: string, proc: Proc, timeoutMs = 20_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (statSync(file).size > 0) return;
    } catch {
      /* not yet */
    }
    if (proc.child.exitCode !== null || Date.now() > end) throw new Error(`probe did not start: ${proc.err().slice(-500)}`);
    await sleep(50);
  }
}

function startRef(filter: string): Proc {
  return start('tcpdump', ['-i', 'lo', '-w', '/dev/null', '-B', '4096', '-n', filter]);
}

function refCounts(stderr: string): { captured: number; dropped: number } {
  return {
    captured: Number(/(\d+) packets? captured/.exec(stderr)?.[1] ?? NaN),
    dropped: Number(/(\d+) packets? dropped by kernel/.exec(stderr)?.[1] ?? NaN),
  };
}

function csvRows(file: string): string[][] {
  const text = readFileSync(file, 'utf8');
  return text
    .split('\n')
    .slice(1)
    .filter(Boolean)
    .map((l) => l.split(','));
}

/** One flood (UDP at `rate`, or TCP bulk when rate < 0) with the probe and tcpdump attached. */
export async function captureRun(probe: 'tcpdump' | 'nettop', rate: number, seconds: number): Promise<CaptureRun> {
  const p = port();
  const bulk = rate < 0;
  const filter = bulk ? `tcp dst port ${p}` : `udp dst port ${p}`;
  const sink = bulk ? gen(['accept', p, seconds + 20, 'drain']) : gen(['recv', p, seconds + 20]);
  await sink.waitFor(/ready/);
  const ref = startRef(filter);
  await ref.waitFor(/listening on/);
  const file = path.join(WORK, `${probe}-${p}.csv`);
  const fd = openSync(file, 'w');
  const args =
    probe === 'tcpdump'
      ? ['tcpdump', '--format', 'csv', '--iface', 'lo', '--filter', filter]
      : ['nettop', '--format', 'csv', '--interval', '1', '--iface', 'lo'];
  const pr = netprobes(args, { stdio: ['ignore', fd, 'pipe'] });
  closeSync(fd);
  try {
    await waitFile(file, pr);
    await sleep(300);
    const cpuP = new CpuMeter(pr.pid);
    const cpuR = new CpuMeter(ref.pid);
    cpuP.begin();
    cpuR.begin();
    const g = gen(bulk ? ['bulk', p, seconds] : ['udp', p, rate, seconds]);
    await g.done;
    await sleep(200); // packets still in flight reach the readers (libpcap timeout 20 ms)
    cpuP.end();
    cpuR.end();
    const out = kv(g.out());
    await sleep(1300); // nettop: the last interval is closed
    await Promise.all([pr.stop(), ref.stop(), sink.stop('SIGTERM')]);
    const s = probeSummary(pr.err());
    const r = refCounts(ref.err());
    const recv = kv(sink.out());
    let seen: number;
    let sent = out.sent ?? NaN;
    if (probe === 'tcpdump') {
      seen = csvRows(file).length;
    } else {
      // Packets the generator sent, as nettop credits them to its PID (XMIT_PK), plus those it gave PID 0/-1.
      const rows = csvRows(file);
      seen = rows.filter((c) => Number(c[1]) === g.pid).reduce((n, c) => n + Number(c[4]), 0);
    }
    if (bulk) sent = r.captured; // TCP segments: the reference's count is the yardstick
    return {
      probe,
      load: bulk ? 'tcp-bulk' : 'udp64',
      rate,
      sent,
      sentRate: bulk ? (out.MBps ?? 0) : (out.rate ?? 0),
      received: bulk ? (recv.bytes ?? NaN) : (recv.received ?? NaN),
      probeSeen: seen,
      probeLost: s.lost ?? NaN,
      probeKernelDrops: s['kernel drops'] ?? NaN,
      probeCpu: cpuP.cores,
      refCaptured: r.captured,
      refDropped: r.dropped,
      refCpu: cpuR.cores,
    };
  } finally {
    await Promise.all([pr.stop(), ref.stop(), sink.stop('SIGTERM')]);
    try {
      unlinkSync(file);
    } catch {
      /* gone */
    }
  }
}

export interface ChurnRun {
  proto: 'tcp' | 'udp';
  processes: number;
  connections: number;
  connPerSec: number;
  packetsInRows: number;
  rightPid: number;
  /** Of rightPid: packets credited to the short-lived children (the rest went to the long-lived server). */
  toChildren: number;
  kernel: number;
  unknown: number;
  otherPid: number;
  share: number;
  probeCpu: number;
  kernelDrops: number;
}

/** nettop under a churn of short-lived processes, each making short connections; share credited to the right PID. */
export async function churnRun(proto: 'tcp' | 'udp', procsPerSec: number, connsPerProc: number, seconds: number): Promise<ChurnRun> {
  const p = port();
  const server = gen(['echo', proto, p, seconds + 20]);
  await server.waitFor(/ready/);
  const file = path.join(WORK, `churn-${p}.csv`);
  const fd = openSync(file, 'w');
  const pr = netprobes(['nettop', '--format', 'csv', '--interval', '1', '--iface', 'lo'], { stdio: ['ignore', fd, 'pipe'] });
  closeSync(fd);
  try {
    await waitFile(file, pr);
    await sleep(300);
    const cpu = new CpuMeter(pr.pid);
    cpu.begin();
    const g = gen(['churn', proto, p, procsPerSec, connsPerProc, seconds]);
    await g.done;
    await sleep(500);
    cpu.end();
    await sleep(1300);
    await Promise.all([pr.stop(), server.stop('SIGTERM')]);
    const ours = new Set([server.pid, g.pid, ...[...g.out().matchAll(/^child=(\d+)$/gm)].map((m) => Number(m[1]))]);
    const out = kv(g.out());
    const s = probeSummary(pr.err());
    const children = new Set([...g.out().matchAll(/^child=(\d+)$/gm)].map((m) => Number(m[1])));
    let right = 0;
    let toChildren = 0;
    let kernel = 0;
    let unknown = 0;
    let other = 0;
    for (const c of csvRows(file)) {
      const pid = Number(c[1]);
      const pk = Number(c[4]) + Number(c[5]);
      if (children.has(pid)) toChildren += pk;
      if (ours.has(pid)) right += pk;
      else if (pid === 0) kernel += pk;
      else if (pid === -1) unknown += pk;
      else other += pk;
    }
    const total = right + kernel + unknown + other;
    return {
      proto,
      processes: out.processes ?? 0,
      connections: out.connections ?? 0,
      connPerSec: (out.connections ?? 0) / (out.seconds ?? seconds),
      packetsInRows: total,
      rightPid: right,
      toChildren,
      kernel,
      unknown,
      otherPid: other,
      share: total ? right / total : NaN,
      probeCpu: cpu.cores,
      kernelDrops: s['kernel drops'] ?? NaN,
    };
  } finally {
    await Promise.all([pr.stop(), server.stop('SIGTERM')]);
    try {
      unlinkSync(file);
    } catch {
      /* gone */
    }
  }
}
