// dropwatch against real drops: UDP datagrams to a closed port on 127.0.0.1 are
// freed by __udp4_lib_rcv with reason NO_SOCKET, one per datagram.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { need } from '../helpers/env.ts';
import { globalTracingState, netprobesInstances, sleep, startSource, until } from '../helpers/tracefs.ts';
import { dropwatchSource } from '../../probes/dropwatch/source.node.ts';
import { printDropwatch } from '../../probes/dropwatch/print.ts';

async function closedUdpPort(): Promise<number> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
  const port = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

async function sendTo(port: number, n: number): Promise<void> {
  const s = dgram.createSocket('udp4');
  for (let i = 0; i < n; i++) await new Promise<void>((r, j) => s.send(Buffer.from('drop me'), port, '127.0.0.1', (e) => (e ? j(e) : r())));
  await new Promise<void>((r) => s.close(() => r()));
}

test('UDP to a closed port: exactly N drops at __udp4_lib_rcv, NO_SOCKET, IPv4', { timeout: 30_000 }, async (t) => {
  if (!need(t, 'root')) return;
  const before = globalTracingState();
  const N = 1000;
  const port = await closedUdpPort();
  const run = await startSource(dropwatchSource, { interval: 1 });
  assert.match(run.running.description, /skb:kfree_skb/);
  try {
    await sleep(200);
    await sendTo(port, N);
    const sum = () => run.rows().filter((r) => r.location === '__udp4_lib_rcv' && r.reason === 'NO_SOCKET' && r.protocol === 'IPv4').reduce((n, r) => n + r.count, 0);
    await until(() => sum() >= N, 5000, `${N} drops`);
    await sleep(1200); // one more table: nothing late, nothing twice
    assert.equal(sum(), N);
    // Every table is sorted, most first, and the times are interval ends.
    for (const table of run.batches) for (let i = 1; i < table.length; i++) assert.ok(table[i - 1]!.count >= table[i]!.count);
    const c = run.running.counters();
    assert.ok(c.drops! >= N, `drops counter ${c.drops}`);
    assert.equal(c.overruns, 0);
    assert.equal(c.corrupt, 0);
    const times = run.batches.flat().map((r) => r.time);
    for (const time of times) assert.ok(Math.abs(time - Date.now() * 1000) < 30e6);
    // The seed's line for it
    const lines = printDropwatch().rows(run.rows().filter((r) => r.location === '__udp4_lib_rcv'));
    assert.ok(lines.some((l) => /^\d+ packets dropped at __udp4_lib_rcv$/.test(l)));
    assert.deepEqual(run.errors, []);
  } finally {
    await run.running.stop();
  }
  assert.deepEqual(netprobesInstances(), []);
  assert.deepEqual(globalTracingState(), before);
});

test('a table every interval, even without drops', { timeout: 20_000 }, async (t) => {
  if (!need(t, 'root')) return;
  const run = await startSource(dropwatchSource, { interval: 1 });
  try {
    await until(() => run.batches.length >= 2, 5000, 'two tables');
  } finally {
    await run.running.stop();
  }
  assert.deepEqual(netprobesInstances(), []);
});
