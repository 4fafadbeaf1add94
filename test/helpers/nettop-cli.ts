// `netprobes nettop --format csv` as its own process (optionally inside a test
// namespace), for the nettop integration tests: started once capture has begun
// (the CSV header), stopped with SIGINT, its rows parsed back.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import type { NettopRow } from '../../probes/nettop/definition.ts';
import { ROOT } from './run.ts';

const CLI = path.join(ROOT, 'cli', 'cli.node.ts');

export interface NettopCli {
  pid: number;
  stop(): Promise<{ rows: NettopRow[]; header: string; stderr: string }>;
}

/** `onCleanup` receives what kills the process if a test ends before stop(). */
export async function nettopCli(
  args: string[],
  opts: { netns?: string; env?: Record<string, string>; onCleanup: (kill: () => void) => void },
): Promise<NettopCli> {
  const argv = ['--import', 'tsx', CLI, 'nettop', ...args, '--format', 'csv'];
  const [cmd, cmdArgs] = opts.netns ? ['ip', ['netns', 'exec', opts.netns, process.execPath, ...argv]] : [process.execPath, argv];
  const child = spawn(cmd, cmdArgs, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...opts.env } });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const lines: string[] = [];
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  opts.onCleanup(() => void child.kill('SIGKILL'));
  // The CSV header is printed once capture has begun.
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`nettop CLI did not start: ${stderr}`)), 20_000);
    createInterface({ input: child.stdout }).on('line', (line) => {
      lines.push(line);
      if (lines.length === 1) {
        clearTimeout(t);
        resolve();
      }
    });
    void exited.then((code) => reject(new Error(`nettop CLI exited with ${code}: ${stderr}`)));
  });
  return {
    pid: child.pid!,
    stop: async () => {
      child.kill('SIGINT');
      assert.equal(await exited, 0, stderr);
      const [header, ...data] = lines;
      const rows = data.map((l): NettopRow => {
        const [time, pid, uid, dev, xmitPk, recvPk, xmitKb, recvKb, command, xmitBytes, recvBytes] = l.split(',');
        assert.match(time!, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
        return {
          time: Date.parse(time!) * 1000,
          pid: Number(pid), uid: Number(uid), dev: dev!, xmitPk: Number(xmitPk), recvPk: Number(recvPk),
          xmitKb: Number(xmitKb), recvKb: Number(recvKb), command: command!, xmitBytes: Number(xmitBytes), recvBytes: Number(recvBytes), cgroup: '',
        };
      });
      return { rows, header: header!, stderr };
    },
  };
}
