// Charts that never mislead, without a browser: a burst followed by quiet
// seconds is a burst followed by zeros (not a line drawn on), nothing measured
// is null (not zero), an interval table without rows is zero; human units.
// Also the find bar's fields and NetProbes' own-row test on real column lists.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CHART_SECONDS, everySecond, humanBytes, humanCount, perTable, ago } from '../../renderer/ui/series.ts';
import { fieldsOf, rowMatcher, unusedFields } from '../../renderer/ui/find.ts';
import { ownMatcher } from '../../renderer/ui/own.ts';
import { PROBES } from '../../probes/registry.ts';
import type { Column } from '../../core/probe.ts';

test('5 connections in one second, then 10 quiet seconds: 10 zeros after the 5', () => {
  const now = 1000;
  const p = everySecond([989], [[5]], now, 980, now);
  assert.equal(p.x.length, CHART_SECONDS);
  assert.equal(p.x.at(-1), now);
  const y = p.ys[0]!;
  const at = (sec: number) => y[p.x.indexOf(sec)];
  assert.equal(at(989), 5);
  for (let s = 990; s <= 1000; s++) assert.equal(at(s), 0, `second ${s}`);
  assert.equal(at(979), null, 'before the probe was heard from: no data, not zero');
  const stopped = everySecond([989], [[5]], now, 980, 995);
  assert.equal(stopped.ys[0]![stopped.x.indexOf(996)], null, 'after it stopped: no data');
});

test('an interval table without rows is a zero for every series', () => {
  const rows = [
    { time: 10e6, s: 'a', v: 3 },
    { time: 12e6, s: 'b', v: 1 },
  ];
  const p = perTable([10e6, 11e6, 12e6], rows, ['a', 'b'], (r) => r.time, (r) => [r.s, r.v], 12);
  assert.deepEqual(p.x, [10, 11, 12]);
  assert.deepEqual(p.ys, [
    [3, 0, 0],
    [0, 0, 1],
  ]);
});

test('human units', () => {
  assert.equal(humanBytes(4532318), '4.5 MB');
  assert.equal(humanBytes(999), '999 B');
  assert.equal(humanBytes(1500), '1.5 KB');
  assert.equal(humanCount(1234), '1.2k');
  assert.equal(humanCount(45000), '45k');
  assert.equal(humanCount(7), '7');
  assert.equal(ago(0, 180_000), '3 min ago');
});

const cols = (id: keyof typeof PROBES) => PROBES[id].columns as unknown as readonly Column<object>[];

test('find fields search the columns each probe has, the same way in every tab', () => {
  // Inclusion, not equality: probes gain columns (a PID, a COMMAND), and their fields with them.
  for (const f of ['port', 'host', 'dev']) assert.ok(fieldsOf(cols('tcpdump')).includes(f), f);
  assert.ok(fieldsOf(cols('dropwatch')).includes('reason'));
  assert.ok(!fieldsOf(cols('dropwatch')).includes('port'));
  const packet = { time: 0, dev: 'lo', src: '127.0.0.1', dst: '10.0.0.2', sport: 443, dport: 5000, proto: 'TCP', urg: false, ack: true, psh: false, rst: false, syn: false, fin: false, length: 60 };
  const m = (text: string) => rowMatcher(cols('tcpdump'), text)!(packet);
  assert.equal(m('port:443'), true);
  assert.equal(m('port:44'), false, 'ports match exactly');
  assert.equal(m('host:10.0'), true);
  assert.equal(m('dev:lo port:5000'), true);
  assert.equal(m('dev:eth0'), false);
  assert.equal(m('SPORT=443'), true);
  assert.equal(m('tcp'), true, 'a plain word matches any cell');
  assert.equal(rowMatcher(cols('dropwatch'), 'port:443'), null, 'a field the tab has no column for is left out');
  assert.deepEqual(unusedFields(cols('dropwatch'), 'port:443 reason:NO'), ['port']);
  const conn = { time: 0, uid: 0, cmd: 'nginx', pid: 42, port: 80, ipSource: '::1', remotePort: 5555, direction: 'accepted' };
  assert.equal(rowMatcher(cols('tcp-connections'), 'process:ngi pid:42')!(conn), true);
  assert.equal(rowMatcher(cols('tcp-connections'), 'pid:4')!(conn), false);
});

test("NetProbes' own rows: by PID where a probe has one, by port where it has ports", () => {
  const own = { pids: [42], ports: [8080] };
  const conn = ownMatcher(cols('tcp-connections'), own)!;
  assert.equal(conn({ pid: 42, port: 1, remotePort: 2 }), true);
  assert.equal(conn({ pid: 7, port: 1, remotePort: 8080 }), true);
  assert.equal(conn({ pid: 7, port: 1, remotePort: 2 }), false);
  const packet = ownMatcher(cols('tcpdump'), own)!;
  assert.equal(packet({ sport: 8080, dport: 5 }), true);
  assert.equal(packet({ sport: 5, dport: 6 }), false);
  const noIds = [{ key: 'location', csv: 'LOCATION', title: 'Location', type: 'text', width: 1, description: '' }] as unknown as readonly Column<object>[];
  assert.equal(ownMatcher(noIds, own), null, 'no PID or port column: nothing to recognise');
  assert.equal(ownMatcher(cols('nettop'), { pids: [], ports: [] }), null);
});
