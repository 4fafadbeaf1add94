// For the history tests: `netprobes serve` on a chosen database, driven over
// its WebSocket API as the renderer would, and a sender process with a known
// command that reports how many datagrams it has sent, and when.

import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import WebSocket from 'ws';
import { netprobes, waitForOutput } from './run.ts';

export async function serveOn(db: string, extra: string[] = []): Promise<{ url: string; server: ReturnType<typeof netprobes> }> {
  const server = netprobes(['serve', '--history-db', db, ...extra]);
  const url = await waitForOutput(server.child, /http:\/\/127\.0\.0\.1:\d+\/\?token=[0-9a-f]+/, 20_000);
  return { url, server };
}

/** One request over serve's WebSocket, as the renderer sends it. */
export async function wsRequest(url: string, request: object): Promise<unknown> {
  const u = new URL(url);
  const ws = new WebSocket(`ws://${u.host}/ws?token=${u.searchParams.get('token')}`);
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  try {
    return await new Promise((resolve, reject) => {
      ws.on('message', (data) => {
        const m = JSON.parse(String(data)) as { id?: number; ok?: boolean; value?: unknown; error?: string };
        if (m.id !== 1) return;
        if (m.ok) resolve(m.value);
        else reject(new Error(m.error));
      });
      ws.send(JSON.stringify({ id: 1, request }));
    });
  } finally {
    ws.close();
  }
}

const SENDER = `
process.title = process.argv[1];
const s = require('node:dgram').createSocket('udp4');
let sent = 0;
const port = Number(process.argv[2]);
const every = Number(process.argv[3]);
const size = Number(process.argv[4]);
const count = Number(process.argv[5]);
s.bind(0, '127.0.0.1', () => {
  const t = setInterval(() => {
    if (sent === count) return clearInterval(t), console.log(JSON.stringify({ sent, at: Date.now(), done: true }));
    s.send(Buffer.alloc(size), port, '127.0.0.1', () => { sent++; console.log(JSON.stringify({ sent, at: Date.now() })); });
  }, every);
});
process.stdin.resume();
process.stdin.on('end', () => process.exit(0));
`;

/** Sends `count` datagrams of `size` bytes to 127.0.0.1:port (the kernel drops them: no one listens, or the test's receiver), one every `everyMs`. */
export function sender(name: string, port: number, everyMs: number, size: number, count: number) {
  const child: ChildProcess = spawn(process.execPath, ['-e', SENDER, name, String(port), String(everyMs), String(size), String(count)], { stdio: ['pipe', 'pipe', 'inherit'] });
  const log: { sent: number; at: number; done?: boolean }[] = [];
  const done = new Promise<void>((resolve) =>
    createInterface({ input: child.stdout! }).on('line', (l) => {
      const m = JSON.parse(l) as { sent: number; at: number; done?: boolean };
      log.push(m);
      if (m.done) resolve();
    }),
  );
  return {
    pid: child.pid!,
    log,
    done,
    /** Datagrams sent by time `t` (ms). */
    sentBy: (t: number) => log.filter((m) => m.at <= t).reduce((n, m) => Math.max(n, m.sent), 0),
    stop: () => void child.stdin!.end(),
  };
}
