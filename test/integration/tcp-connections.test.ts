// tcp-connections against a real server: a Python server in a network
// namespace we create, running as uid 65534, accepts connections from here (v4)
// and from its own loopback (v6); each must appear with the server's PID,
// command, UID, port and the peer's address and port.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { need } from '../helpers/env.ts';
import { globalTracingState, netprobesInstances, sleep, startSource, until } from '../helpers/tracefs.ts';
import { createTestHost, type TestHost } from '../helpers/netns.ts';
import { tcpConnectionsSource } from '../../probes/tcp-connections/source.node.ts';
import { tcpConnections } from '../../probes/tcp-connections/definition.ts';
import { printTcpConnections } from '../../probes/tcp-connections/print.ts';

let host: TestHost | null = null;
const children: ChildProcess[] = [];
after(async () => {
  for (const c of children) c.kill('SIGKILL');
  await host?.remove();
});

// Listens on [::]:PORT (v4 and v6), accepts N connections, closing each at once; prints "listening".
const SERVER = `
import socket, sys
n = int(sys.argv[1]); port = int(sys.argv[2])
s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('::', port)); s.listen(16)
print('listening', flush=True)
for i in range(n):
    c, a = s.accept()
    c.close()
`;

function startServer(ns: string, n: number, port: number): Promise<ChildProcess> {
  const p = spawn('ip', ['netns', 'exec', ns, 'setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', '/usr/bin/python3', '-c', SERVER, String(n), String(port)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(p);
  return new Promise((resolve, reject) => {
    p.stdout!.on('data', (d) => String(d).includes('listening') && resolve(p));
    p.on('exit', (code) => reject(new Error(`server exited with ${code}`)));
  });
}

function connect(host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host, port }, () => {
      const local = s.localPort!;
      s.end();
      resolve(local);
    });
    s.on('error', reject);
    s.setTimeout(5000, () => reject(new Error('connect timed out')));
  });
}

test('accepted connections carry the accepting server\'s PID, command, UID, port and peer', { timeout: 60_000 }, async (t) => {
  if (!need(t, 'root')) return;
  const before = globalTracingState();
  host = await createTestHost(42);
  const PORT = 8080;
  const run = await startSource(tcpConnectionsSource, { outbound: true });
  assert.match(run.running.description, /inet_sock_set_state/);
  try {
    await sleep(100);
    const server = await startServer(host.ns, 4, PORT);
    const serverPid = server.pid!; // ip netns exec and setpriv exec: python3 keeps this pid
    const v4Ports: number[] = [];
    for (let i = 0; i < 3; i++) v4Ports.push(await connect(host.nsV4, PORT));
    // v6, inside the namespace: a client on its loopback
    const v6 = execFileSync('ip', ['netns', 'exec', host.ns, '/usr/bin/python3', '-c', `import socket; c = socket.create_connection(('::1', ${PORT})); print(c.getsockname()[1]); c.close()`], { timeout: 10_000 });
    const v6Port = Number(String(v6).trim());

    const accepted = () => run.rows().filter((r) => r.direction === 'accepted' && r.port === PORT && r.pid === serverPid);
    await until(() => accepted().length >= 4, 10_000, '4 accepted rows');
    await sleep(300);
    const rows = accepted();
    assert.equal(rows.length, 4, JSON.stringify(run.rows()));
    for (const r of rows) {
      assert.equal(r.cmd, 'python3');
      assert.equal(r.uid, 65534);
    }
    assert.deepEqual(
      rows.slice(0, 3).map((r) => [r.ipSource, r.remotePort]),
      v4Ports.map((p) => [host!.hostV4, p]),
    );
    assert.deepEqual([rows[3]!.ipSource, rows[3]!.remotePort], ['::1', v6Port]);

    // Our own connects, outbound, under our pid.
    const out = run.rows().filter((r) => r.direction === 'outbound' && r.pid === process.pid && r.remotePort === PORT);
    assert.deepEqual(out.map((r) => [r.port, r.ipSource]), v4Ports.map((p) => [p, host!.nsV4]));
    // Nobody else accepted anything on that port, and no accept was left unmatched for it.
    assert.equal(run.rows().filter((r) => r.direction === 'accepted' && r.port === PORT).length, 4);
    const c = run.running.counters();
    assert.equal(c.overruns, 0);
    assert.ok(c.accepted! >= 4);
    // The seed's line
    const line = printTcpConnections().rows([rows[0]!])[0]!;
    assert.equal(line, `${' '.repeat(1)}65534 ${'python3'.padStart(16)} ${String(serverPid).padStart(6)}   8080 ${host.hostV4.padStart(16)}`);
  } finally {
    await run.running.stop();
  }
  assert.deepEqual(netprobesInstances(), []);
  assert.deepEqual(globalTracingState(), before);
});

test('default view: accepted only, no outbound rows', { timeout: 30_000 }, async (t) => {
  if (!need(t, 'root')) return;
  const srv = net.createServer((s) => s.destroy());
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as net.AddressInfo).port;
  const run = await startSource(tcpConnectionsSource, tcpConnections.defaults);
  try {
    await sleep(100);
    const local = await connect('127.0.0.1', port);
    await until(() => run.rows().some((r) => r.port === port), 10_000, 'the accepted row');
    await sleep(200);
    const mine = run.rows().filter((r) => r.port === port || r.remotePort === port);
    assert.deepEqual(mine.map((r) => [r.direction, r.pid, r.ipSource, r.remotePort]), [['accepted', process.pid, '127.0.0.1', local]]);
    assert.equal(run.rows().filter((r) => r.direction === 'outbound').length, 0);
  } finally {
    await run.running.stop();
    srv.close();
  }
});
