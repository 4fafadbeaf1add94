// `netprobes tcp-connections --lifetimes --format csv` against the kernel's own
// counts: a connection reset by its peer shows RESETS_RECEIVED 1 on the
// process that accepted it (and RESETS_SENT 1 on the one that reset it); a
// transfer whose peer loses its address mid-way (its packets then arrive and
// are dropped: forced loss without netem or a firewall, neither of which this
// kernel has) shows RETRANS equal to the kernel's total_retrans for that socket
// (ss -ti), with the bytes each way as sent.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { spawn, type ChildProcess } from 'node:child_process';
import { need } from '../helpers/env.ts';
import { netprobes, sh, waitForOutput } from '../helpers/run.ts';
import { sleep } from '../helpers/tracefs.ts';
import { createTestHost, type TestHost } from '../helpers/netns.ts';
import { parseCsv } from '../helpers/csv.ts';

let host: TestHost | null = null;
const children: ChildProcess[] = [];
after(async () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  await host?.remove();
});

const HEADER = 'TIME,UID,CMD,PID,PORT,IP_SOURCE,REMOTE_PORT,DIRECTION,DURATION_MS,TX_BYTES,RX_BYTES,RETRANS,RESETS_SENT,RESETS_RECEIVED,SRTT_US';
type Row = Record<string, string>;
const rowsOf = (csv: string): Row[] => {
  const [head, ...rest] = parseCsv(csv);
  assert.equal(head?.join(','), HEADER);
  return rest.map((r) => Object.fromEntries(head!.map((h, i) => [h, r[i]!])));
};

/** A Python program, its first output line (e.g. a port) resolved. */
function python(code: string, args: string[] = [], ns?: string): Promise<{ child: ChildProcess; line: string }> {
  const argv = ns ? ['ip', ['netns', 'exec', ns, '/usr/bin/python3', '-c', code, ...args]] : ['/usr/bin/python3', ['-c', code, ...args]];
  const child = spawn(argv[0] as string, argv[1] as string[], { stdio: ['pipe', 'pipe', 'inherit'] });
  children.push(child);
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      const nl = out.indexOf('\n');
      if (nl >= 0 && out.length) resolve({ child, line: out.slice(0, nl) });
    });
    child.on('exit', (code) => reject(new Error(`python exited with ${code}`)));
  });
}

// Accepts one connection and then neither reads nor closes it: the peer's reset is what ends it.
const HOLDER = `
import socket, time
s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen(1)
print(s.getsockname()[1], flush=True)
c, a = s.accept()
time.sleep(60)
`;

test('--lifetimes: a connection reset by its peer shows RESETS_RECEIVED 1 on the process that accepted it', { timeout: 60_000 }, async (t) => {
  if (!need(t, 'root')) return;
  const run = netprobes(['tcp-connections', '--lifetimes', '--outbound', '--format', 'csv', '--duration', '4']);
  await waitForOutput(run.child, /^TIME,UID,CMD/m);
  const server = await python(HOLDER);
  const port = Number(server.line);
  const localPort = await new Promise<number>((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port }, () => {
      s.write('hello', () => setTimeout(() => {
        const p = s.localPort!;
        s.resetAndDestroy(); // SO_LINGER 0 and close: a reset to the server
        resolve(p);
      }, 100));
    });
    s.on('error', reject);
  });
  const out = await run.done;
  assert.equal(out.code, 0, out.stderr);
  const rows = rowsOf(out.stdout);
  const accepted = rows.filter((r) => r.DIRECTION === 'accepted' && r.PORT === String(port));
  assert.equal(accepted.length, 1, out.stdout);
  t.diagnostic(`rows: ${JSON.stringify(rows.filter((r) => r.PORT === String(port) || r.PORT === String(localPort)))}`);
  assert.equal(accepted[0]!.PID, String(server.child.pid));
  assert.equal(accepted[0]!.CMD, 'python3');
  assert.equal(accepted[0]!.REMOTE_PORT, String(localPort));
  assert.equal(accepted[0]!.RESETS_RECEIVED, '1');
  assert.equal(accepted[0]!.RESETS_SENT, '0');
  assert.equal(accepted[0]!.RX_BYTES, '0', 'the server never read');
  const opened = rows.filter((r) => r.DIRECTION === 'outbound' && r.PORT === String(localPort));
  assert.equal(opened.length, 1, out.stdout);
  assert.equal(opened[0]!.PID, String(process.pid));
  assert.equal(opened[0]!.RESETS_SENT, '1');
  assert.equal(opened[0]!.RESETS_RECEIVED, '0');
  assert.equal(opened[0]!.TX_BYTES, '5');
  assert.ok(Number(opened[0]!.DURATION_MS) >= 100, opened[0]!.DURATION_MS);
});

// In the test namespace: accepts one connection, reads it to the end, prints what it read, closes.
const READER = `
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('0.0.0.0', int(sys.argv[1]))); s.listen(1)
print('listening', flush=True)
c, a = s.accept(); n = 0
while True:
    b = c.recv(65536)
    if not b: break
    n += len(b)
print(n, flush=True); c.close()
`;

// Sends 100-byte writes (TCP_NODELAY) every 50 ms; each segment stays under one MSS, so each retransmission is one
// segment and the kernel's total_retrans counts what tcp_retransmit_skb shows. Prints its port, "sent" at the end,
// then waits for a line on stdin before closing (so the test can read ss -ti of the live socket).
const SENDER = `
import socket, sys, time
c = socket.create_connection((sys.argv[1], int(sys.argv[2])))
c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
print(c.getsockname()[1], flush=True)
for i in range(int(sys.argv[3])):
    c.sendall(b'x' * 100); time.sleep(0.05)
print('sent', flush=True)
sys.stdin.readline()
c.close()
`;

test('--lifetimes: a transfer with a forced loss mid-way shows RETRANS equal to the kernel\'s total_retrans (ss -ti)', { timeout: 90_000 }, async (t) => {
  if (!need(t, 'root')) return;
  host = await createTestHost(16);
  const PORT = 8016;
  const WRITES = 40;
  const run = netprobes(['tcp-connections', '--lifetimes', '--outbound', '--format', 'csv', '--duration', '12']);
  await waitForOutput(run.child, /^TIME,UID,CMD/m);
  const reader = await python(READER, [String(PORT)], host.ns);
  assert.equal(reader.line, 'listening');
  const sender = await python(SENDER, [host.nsV4, String(PORT), String(WRITES)]);
  const senderPort = Number(sender.line);
  // Mid-transfer, the peer loses its address for 0.6 s: what reaches it meanwhile is dropped (a link taken down
  // would not do: the sender then sees the carrier gone and holds its data, nothing is retransmitted).
  await sleep(500);
  await sh('ip', ['-n', host.ns, 'addr', 'del', `${host.nsV4}/24`, 'dev', host.nsIf]);
  await sleep(600);
  await sh('ip', ['-n', host.ns, 'addr', 'add', `${host.nsV4}/24`, 'dev', host.nsIf]);
  await waitForOutput(sender.child, /^sent$/m, 30_000);
  // Wait until everything is acknowledged, then read the kernel's own count for that socket.
  let total = -1;
  for (let i = 0; i < 100 && total < 0; i++) {
    const ss = await sh('ss', ['-tinH', 'sport', '=', `:${senderPort}`]);
    if (/unacked:/.test(ss) || !ss.trim()) {
      await sleep(100);
      continue;
    }
    total = Number(/retrans:\d+\/(\d+)/.exec(ss)?.[1] ?? 0);
  }
  assert.ok(total > 0, `the kernel retransmitted (total_retrans ${total})`);
  sender.child.stdin!.write('close\n');
  const read = await new Promise<string>((resolve) => reader.child.stdout!.on('data', (d) => resolve(String(d).trim())));
  assert.equal(read, String(WRITES * 100), 'the peer got every byte');
  const out = await run.done;
  assert.equal(out.code, 0, out.stderr);
  const rows = rowsOf(out.stdout);
  const mine = rows.filter((r) => r.DIRECTION === 'outbound' && r.PORT === String(senderPort));
  assert.equal(mine.length, 1, out.stdout);
  const r = mine[0]!;
  t.diagnostic(`kernel total_retrans ${total}; row ${JSON.stringify(r)}`);
  assert.equal(r.PID, String(sender.child.pid));
  assert.equal(r.CMD, 'python3');
  assert.equal(r.IP_SOURCE, host.nsV4);
  assert.equal(r.REMOTE_PORT, String(PORT));
  assert.equal(r.RETRANS, String(total), 'RETRANS equals the kernel\'s total_retrans for the socket');
  assert.equal(r.TX_BYTES, String(WRITES * 100));
  assert.equal(r.RESETS_SENT, '0');
  assert.equal(r.RESETS_RECEIVED, '0');
  assert.ok(Number(r.SRTT_US) > 0, `SRTT ${r.SRTT_US}`);
  assert.ok(Number(r.DURATION_MS) >= WRITES * 50, r.DURATION_MS);
  // The accepting side, in the namespace, read every byte.
  const acc = rows.filter((x) => x.DIRECTION === 'accepted' && x.REMOTE_PORT === String(senderPort));
  assert.equal(acc.length, 1, out.stdout);
  assert.equal(acc[0]!.PID, String(reader.child.pid));
  assert.equal(acc[0]!.RX_BYTES, String(WRITES * 100));
});
