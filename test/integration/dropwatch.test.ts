// dropwatch against real drops: UDP datagrams to a closed port on 127.0.0.1 are
// freed by __udp4_lib_rcv with reason NO_SOCKET, one per datagram.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { need } from '../helpers/env.ts';
import { globalTracingState, netprobesInstances, startSource, until } from '../helpers/tracefs.ts';
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
    await sendTo(port, N); // the tracepoint is on once the source has started
    const sum = () => run.rows().filter((r) => r.location === '__udp4_lib_rcv' && r.reason === 'NO_SOCKET' && r.protocol === 'IPv4').reduce((n, r) => n + r.count, 0);
    await until(() => sum() >= N, 5000, `${N} drops`);
    // One more table: nothing late, nothing twice.
    const tables = run.batches.length;
    await until(() => run.batches.length > tables, 5000, 'the next table');
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

test('a table every interval, even without drops', { timeout: 30_000 }, async (t) => {
  if (!need(t, 'root')) return;
  for (const interval of [1, 2]) {
    const arrivals: number[] = [];
    const running = await dropwatchSource({ interval }, { row: () => assert.fail('an interval probe sends tables'), rows: () => arrivals.push(performance.now()), fail: (e) => assert.fail(e) });
    try {
      await until(() => arrivals.length >= 4, 4 * interval * 1000 + 5000, 'four tables');
    } finally {
      await running.stop();
    }
    // Three gaps between the first four tables: on average the interval (not twice it, not half), within what a
    // loaded machine's timers allow.
    const meanGap = (arrivals[3]! - arrivals[0]!) / 3 / 1000;
    assert.ok(Math.abs(meanGap - interval) < 0.3 * interval, `--interval ${interval}: a table every ${meanGap.toFixed(2)} s`);
  }
  assert.deepEqual(netprobesInstances(), []);
});
