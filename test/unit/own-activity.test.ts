// NetProbes' own processes from the real /proc: this test's own child is a
// descendant of this process; a TCP connection's client end is found to be held
// by the process that holds it (here, this one), through /proc/net/tcp and the
// fd links, as serve finds the browser showing it.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import net from 'node:net';
import { test } from 'node:test';
import { clientProcesses, descendants, OwnActivityTracker, parentTable, sameExeRoot } from '../../host/own-activity.node.ts';

test('a child process is among our descendants; the table says who its parent is', async () => {
  const child = spawn('sleep', ['5']);
  try {
    await new Promise((r) => child.once('spawn', r));
    const parents = parentTable();
    assert.equal(parents.get(child.pid!), process.pid);
    assert.ok(descendants(parents, [process.pid]).has(child.pid!));
    assert.ok(!descendants(parents, [child.pid!]).has(process.pid));
    assert.equal(sameExeRoot(parents, child.pid!), child.pid, 'sleep is not node: its own root');
  } finally {
    child.kill();
  }
});

test("the process holding a connection's client end is found from the two ports", async () => {
  const server = net.createServer(() => {});
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  const client = net.connect(port, '127.0.0.1');
  await new Promise((r) => client.once('connect', r));
  try {
    assert.deepEqual(clientProcesses(port, [client.localPort!]), [process.pid]);
    assert.deepEqual(clientProcesses(port, [1]), [], 'no such connection');
    const seen: number[][] = [];
    const tracker = new OwnActivityTracker((own) => seen.push(own.ports), 60_000);
    tracker.setClients({ serverPort: port, clientPorts: [client.localPort!] });
    assert.ok(tracker.own.pids.includes(process.pid));
    assert.deepEqual(tracker.own.ports, [port]);
    assert.deepEqual(seen, [[port]]);
  } finally {
    client.destroy();
    server.close();
  }
});
