// An independent reference capture for the nettop tests: tcpdump itself writes
// the packets to a file, read back with `tcpdump -r`, for TCP exchanges whose
// segment count is not known in advance.

import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface Frame {
  sport: number;
  dport: number;
  /** Frame length, link-layer header included. */
  len: number;
}

/** tcpdump on `iface` (inside `netns` if given) with `filter`; `onCleanup` receives what kills it if a test ends early. */
export async function referenceCapture(
  iface: string,
  filter: string,
  opts: { netns?: string; onCleanup: (kill: () => void) => void },
): Promise<{ stop(): Promise<Frame[]> }> {
  const dir = mkdtempSync(join(tmpdir(), 'nettop-truth-'));
  const file = join(dir, 'truth.pcap');
  // Immediate mode (so nothing waits in a ring block at stop), a short snap length and a large buffer
  // (many ring slots: with the default 256 KiB snap length on lo a 2 MiB ring holds a few dozen packets).
  const argv = ['-i', iface, '-nn', '-U', '--immediate-mode', '-s', '128', '-B', '16384', '-Z', 'root', '-w', file, filter];
  const [cmd, args] = opts.netns ? ['ip', ['netns', 'exec', opts.netns, 'tcpdump', ...argv]] : ['tcpdump', argv];
  const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  opts.onCleanup(() => {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`tcpdump did not start: ${err}`)), 10_000);
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
      if (err.includes('listening on')) {
        clearTimeout(t);
        resolve();
      }
    });
  });
  return {
    stop: async () => {
      // tcpdump leaves at SIGINT without reading what its ring still holds, and says nothing of it; in immediate
      // mode it reads each packet within a millisecond or so, so this is a margin, not a guess at when it is done.
      // The kernel-drop check below and the callers' exact counts fail if a packet was still missing.
      await sleep(200);
      child.kill('SIGINT');
      await exited;
      assert.match(err, /\b0 packets dropped by kernel/, `the reference capture lost packets: ${err}`);
      const { stdout } = await run('tcpdump', ['-r', file, '-nn', '-e'], { maxBuffer: 64 << 20 });
      return stdout
        .split('\n')
        .filter(Boolean)
        .map((line) => {
          const len = /length (\d+):/.exec(line);
          const ports = /(\S+)\.(\d+) > (\S+)\.(\d+):/.exec(line);
          assert.ok(len && ports, `cannot read tcpdump line: ${line}`);
          return { len: Number(len[1]), sport: Number(ports[2]), dport: Number(ports[4]) };
        });
    },
  };
}

/** What the socket on local `port` sent and received, as tcpdump saw it: nettop's XMIT/RECV for its process. */
export function sides(frames: Frame[], port: number) {
  const from = frames.filter((f) => f.sport === port);
  const to = frames.filter((f) => f.dport === port);
  const sum = (fs: Frame[]) => fs.reduce((n, f) => n + f.len, 0);
  return { xmitPk: from.length, recvPk: to.length, xmitBytes: sum(from), recvBytes: sum(to) };
}
