// tracefs infrastructure on data captured on kernel 6.18: format files, raw
// ring-buffer pages of skb:kfree_skb and sock:sock_send_length events (one
// flagged with lost events), kallsyms resolution.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseEventFormat, parseHeaderPage, parseSymbolic, readInt, field } from '../../core/tracefs/format.ts';
import { walkPage, parseCpuStats, type PageLayout } from '../../core/tracefs/page.ts';
import { KernelSymbols } from '../../core/tracefs/ksyms.ts';
import { OrderedCollector } from '../../kernel/tracefs/ordered-collector.ts';

const fx = (name: string) => readFileSync(join(__dirname, '..', 'fixtures', 'tracefs', name));
const kfree = parseEventFormat(fx('kfree_skb.format').toString());
const hp = parseHeaderPage(fx('header_page').toString());
const layout: PageLayout = { timestampOffset: hp.timestamp.offset, commitOffset: hp.commit.offset, commitSize: hp.commit.size, dataOffset: hp.data.offset };

test('format: kfree_skb fields and id', () => {
  assert.equal(kfree.name, 'kfree_skb');
  assert.equal(kfree.id, 2310);
  assert.deepEqual(field(kfree, 'location'), { name: 'location', type: 'void *', offset: 16, size: 8, signed: false, arrayLength: 0 });
  assert.equal(field(kfree, 'reason').offset, 36);
  assert.equal(field(kfree, 'common_pid').signed, true);
  assert.throws(() => field(kfree, 'nope'), /kfree_skb has no field "nope"/);
});

test('format: arrays and symbolic values', () => {
  const st = parseEventFormat(fx('inet_sock_set_state.format').toString());
  assert.deepEqual(field(st, 'saddr_v6'), { name: 'saddr_v6', type: '__u8', offset: 40, size: 16, signed: false, arrayLength: 16 });
  const states = parseSymbolic(st.printFmt, 'newstate');
  assert.equal(states.get(1), 'TCP_ESTABLISHED');
  assert.equal(states.get(12), 'TCP_NEW_SYN_RECV');
  const reasons = parseSymbolic(kfree.printFmt, 'reason');
  assert.equal(reasons.get(3), 'NO_SOCKET');
  assert.equal(reasons.get(2), 'NOT_SPECIFIED');
  assert.equal(parseSymbolic(kfree.printFmt, 'absent').size, 0);
  assert.throws(() => parseEventFormat('hello'), /not a tracefs event format/);
});

test('format: header_page layout', () => {
  assert.deepEqual([hp.timestamp.offset, hp.commit.offset, hp.commit.size, hp.data.offset], [0, 8, 8, 16]);
});

test('raw page: five kfree_skb drops of UDP to a closed port', () => {
  const page = fx('kfree_skb-cpu1.page');
  const seen: { ts: number; loc: bigint; reason: number; proto: number; pid: number }[] = [];
  const stats = walkPage(page, 0, page.length, layout, (buf, off, len, ts) => {
    assert.equal(len, 40);
    assert.equal(readInt(buf, off, field(kfree, 'common_type')), kfree.id);
    seen.push({
      ts,
      loc: buf.readBigUInt64LE(off + 16),
      reason: readInt(buf, off, field(kfree, 'reason')),
      proto: readInt(buf, off, field(kfree, 'protocol')),
      pid: readInt(buf, off, field(kfree, 'common_pid')),
    });
  });
  assert.deepEqual(stats, { events: 5, missed: false, missedEvents: 0, length: 220, corrupt: false });
  assert.equal(seen.length, 5);
  for (const e of seen) {
    assert.equal(e.loc, 0xffffffff820a7f2cn);
    assert.equal(e.reason, 3);
    assert.equal(e.proto, 0x0800);
  }
  for (let i = 1; i < seen.length; i++) assert.ok(seen[i]!.ts >= seen[i - 1]!.ts);
  assert.equal(seen[0]!.ts, 0xaaf0cfde81 + (0x0a >> 5) + 0); // page timestamp + first delta
});

// Captured with an 8 KiB ring and the reader asleep while a process made 703 sendto() calls: the kernel overwrote
// 452 events (stats "overrun: 452") and flagged the next page it handed over, storing the count after the data.
const sendLen = parseEventFormat(fx('sock_send_length.format').toString());

test('raw page with lost events: RB_MISSED_EVENTS | RB_MISSED_STORED and the count after the data', () => {
  const page = fx('sock_send_length-missed.page');
  assert.equal(page.readUInt32LE(layout.commitOffset), 0xc000_0fe4); // both flags, 4068 bytes of events
  let rets = 0;
  const stats = walkPage(page, 0, page.length, layout, (buf, off, len, ts) => {
    assert.equal(readInt(buf, off, field(sendLen, 'common_type')), sendLen.id);
    assert.equal(readInt(buf, off, field(sendLen, 'family')), 2);
    rets += readInt(buf, off, field(sendLen, 'ret'));
    assert.ok(ts > 0);
  });
  assert.deepEqual(stats, { events: 113, missed: true, missedEvents: 452, length: 4068, corrupt: false });
  assert.equal(rets, 113 * 64, 'every event is a 64-byte datagram: the flags were not read as length');
  // The page after it: no flags.
  const next = fx('sock_send_length-cpu1.page');
  assert.deepEqual(walkPage(next, 0, next.length, layout, () => {}), { events: 113, missed: false, missedEvents: 0, length: 4068, corrupt: false });
  // Flagged but no room to store the count: lost, number unknown (the per-CPU stats have it).
  const noRoom = Buffer.from(page);
  noRoom.writeUInt32LE(0x8000_0fe4, layout.commitOffset);
  const s2 = walkPage(noRoom, 0, noRoom.length, layout, () => {});
  assert.equal(s2.missed, true);
  assert.equal(s2.missedEvents, 0);
  assert.equal(s2.events, 113);
});

test('raw page: time extend, padding, type_len 0 and truncation', () => {
  const page = Buffer.alloc(64);
  page.writeBigUInt64LE(1000n, 0);
  let o = 16;
  page.writeUInt32LE(30 | (5 << 5), o); // time extend: delta = (1 << 27) + 5
  page.writeUInt32LE(1, o + 4);
  o += 8;
  page.writeUInt32LE(2 | (7 << 5), o); // 8-byte event
  page.writeUInt32LE(0xaaaa, o + 4);
  page.writeUInt32LE(0xbbbb, o + 8);
  o += 12;
  page.writeUInt32LE(29 | (1 << 5), o); // discarded event, 4 bytes follow
  page.writeUInt32LE(4, o + 4);
  o += 8;
  page.writeUInt32LE(0 | (2 << 5), o); // type_len 0: length 8 (4 + 4 data)
  page.writeUInt32LE(8, o + 4);
  page.writeUInt32LE(0xcccc, o + 8);
  o += 12;
  page.writeUInt32LE(o - 16, 8);
  const got: [number, number, number][] = [];
  const stats = walkPage(page, 0, 64, layout, (buf, off, len, ts) => got.push([buf.readUInt32LE(off), len, ts]));
  assert.deepEqual(got, [
    [0xaaaa, 8, 1000 + 2 ** 27 + 5 + 7],
    [0xcccc, 4, 1000 + 2 ** 27 + 5 + 7 + 1 + 2],
  ]);
  assert.equal(stats.corrupt, false);
  page.writeUInt32LE(o - 16 - 4, 8); // commit cuts the last event
  assert.equal(walkPage(page, 0, 64, layout, () => {}).corrupt, true);
  page.writeUInt32LE(o - 16 + 0x80000000, 8);
  assert.equal(walkPage(page, 0, 64, layout, () => {}).missed, true);
});

test('cpu stats', () => {
  const s = parseCpuStats('entries: 0\noverrun: 12\ncommit overrun: 0\nbytes: 0\noldest event ts:     0.000000\nnow ts:   584.236328\ndropped events: 3\nread events: 7\n');
  assert.equal(s['overrun'], 12);
  assert.equal(s['dropped events'], 3);
  assert.equal(s['read events'], 7);
});

test('kallsyms: address to function+offset/size', () => {
  const syms = new KernelSymbols(
    'ffffffff820a7a70 T __udp4_lib_rcv\nffffffff820a85a0 t udp_queue_rcv_skb\nffffffff820a6000 D some_data\nffffffffc0001000 t mod_fn\t[veth]\n0000000000000000 T zero\n',
  );
  assert.equal(syms.size, 3);
  assert.deepEqual(syms.resolve(0xffffffff820a7f2cn), { name: '__udp4_lib_rcv', full: '__udp4_lib_rcv+0x4bc/0xb30' });
  assert.deepEqual(syms.resolve(0xffffffffc0001010n), { name: 'mod_fn', full: 'mod_fn+0x10/0x0 [veth]' });
  assert.equal(syms.resolve(0x1000n).name, '0x1000');
  assert.equal(new KernelSymbols('').resolve(0xffffffff820a7f2cn).name, '0xffffffff820a7f2c');
});

test('ordered collector: across CPUs in time order up to the horizon, the later held (bounded, counted), all at drain', () => {
  const collector = new OrderedCollector<{ tsNs: number; cpu: number }>(2);
  for (const [tsNs, cpu] of [[30, 0], [10, 0], [20, 1], [50, 1], [40, 0], [60, 1]]) collector.add({ tsNs: tsNs!, cpu: cpu! });
  assert.deepEqual(collector.take(35).map((e) => e.tsNs), [10, 20, 30]);
  assert.equal(collector.shed, 1, 'three later than the horizon, two held');
  collector.add({ tsNs: 45, cpu: 1 });
  assert.deepEqual(collector.take(45).map((e) => e.tsNs), [40, 45]);
  assert.deepEqual(collector.drain().map((e) => e.tsNs), [50]);
  assert.deepEqual(collector.drain(), []);
});
