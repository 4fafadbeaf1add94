import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DropAggregator, MAX_KEYS, protocolName } from '../../probes/dropwatch/aggregate.ts';
import { dropwatch } from '../../probes/dropwatch/definition.ts';
import { KernelSymbols } from '../../core/tracefs/ksyms.ts';
import { csvHeader } from '../../core/format.ts';
import { printDropwatch, seedLines } from '../../probes/dropwatch/print.ts';

const syms = new KernelSymbols('ffffffff820a7a70 T __udp4_lib_rcv\nffffffff820a85a0 t udp_queue_rcv_skb\nffffffff81e00000 t unix_stream_recvmsg\nffffffff81e01000 t tun_do_read\n');
const names = new Map([[3, 'NO_SOCKET'], [6, 'SOCKET_RCVBUFF']]);
const resolve = (a: bigint) => syms.resolve(a);
const reason = (r: number) => names.get(r) ?? String(r);

test('aggregate: counts per function, reason and protocol, most first, then resets', () => {
  const agg = new DropAggregator();
  for (let i = 0; i < 7; i++) agg.add(0xffffffff, 0x820a7f2c, 3, 0x0800);
  agg.add(0xffffffff, 0x820a7f40, 3, 0x0800, 2); // same function, other offset: merged
  agg.add(0xffffffff, 0x820a85b0, 6, 0x86dd, 4);
  agg.add(0xffffffff, 0x820a7f2c, 3, 0x86dd);
  const rows = agg.snapshot(1_000_000, resolve, reason);
  assert.deepEqual(rows, [
    // Each exact site is kept, with its count, for the details view.
    { time: 1_000_000, count: 9, location: '__udp4_lib_rcv', reason: 'NO_SOCKET', protocol: 'IPv4', sites: '__udp4_lib_rcv+0x4bc/0xb30 ×7, __udp4_lib_rcv+0x4d0/0xb30 ×2' },
    { time: 1_000_000, count: 4, location: 'udp_queue_rcv_skb', reason: 'SOCKET_RCVBUFF', protocol: 'IPv6', sites: 'udp_queue_rcv_skb+0x10/0x0 ×4' },
    { time: 1_000_000, count: 1, location: '__udp4_lib_rcv', reason: 'NO_SOCKET', protocol: 'IPv6', sites: '__udp4_lib_rcv+0x4bc/0xb30 ×1' },
  ]);
  assert.equal(agg.total, 14);
  assert.deepEqual(agg.snapshot(2_000_000, resolve, reason), []);
});

test('aggregate: no reason field (kernels before 5.17) and bounded keys', () => {
  const agg = new DropAggregator();
  agg.add(0xffffffff, 0x820a7f2c, -1, 0);
  assert.deepEqual(agg.snapshot(1, resolve, reason), [{ time: 1, count: 1, location: '__udp4_lib_rcv', reason: '', protocol: '', sites: '__udp4_lib_rcv+0x4bc/0xb30 ×1' }]);
  for (let i = 0; i < MAX_KEYS + 10; i++) agg.add(0xffffffff, 0x81000000 + i * 8, 3, 0x0800);
  assert.equal(agg.shedKeys, 10);
  const kept = agg.snapshot(1, resolve, reason);
  // The first MAX_KEYS sites are kept, one drop each; the 10 beyond are shed and counted, not merged into a kept row.
  assert.equal(kept.length, MAX_KEYS);
  assert.equal(kept.reduce((n, r) => n + r.count, 0), MAX_KEYS);
  assert.equal(agg.total, 1 + MAX_KEYS + 10);
  assert.equal(protocolName(0x0806), 'ARP');
  assert.equal(protocolName(0x1234), '0x1234');
});

test('seed printer: dropwatch.stp lines, summed per function', () => {
  const p = printDropwatch();
  assert.deepEqual(p.begin(), ['Monitoring for dropped packets']);
  assert.deepEqual(
    p.rows([
      { time: 1, count: 1762, location: 'unix_stream_recvmsg', reason: 'NOT_SPECIFIED', protocol: '', sites: '' },
      { time: 1, count: 2, location: 'tun_do_read', reason: 'A', protocol: 'IPv4', sites: '' },
      { time: 1, count: 2, location: 'tun_do_read', reason: 'B', protocol: 'IPv4', sites: '' },
      { time: 1, count: 2, location: 'nf_hook_slow', reason: 'C', protocol: 'IPv4', sites: '' },
    ]),
    ['', '1762 packets dropped at unix_stream_recvmsg', '4 packets dropped at tun_do_read', '2 packets dropped at nf_hook_slow'],
  );
  assert.deepEqual(p.rows([]), ['']);
  assert.deepEqual(p.end(), ['Stopping dropped packet monitor']);
  assert.deepEqual(seedLines([]), []);
});

test('definition: CSV columns and options as issue 4 states', () => {
  assert.equal(csvHeader(dropwatch.columns), 'TIME,COUNT,LOCATION,REASON,PROTOCOL');
  assert.deepEqual(dropwatch.options.parse({ interval: 5 }), { interval: 5 });
  assert.throws(() => dropwatch.options.parse({ interval: 0 }));
  assert.ok(dropwatch.counters.some((c) => c.key === 'overruns' && c.loss));
});
