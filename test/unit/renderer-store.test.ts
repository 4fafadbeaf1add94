// The renderer's per-probe store (renderer/ui/store.dom.ts) past its bound:
// more rows than it keeps, decoded from the tuples the collector sends (each
// probe's own columns, in messages of MAX_ROWS_PER_MESSAGE), must leave
// exactly the newest MAX_ROWS in arrival order and count every other one as
// "not kept": held + not kept = made, for a stream probe's ring and an
// interval probe's history alike. The truth is the rows this test made.
// The store only uses requestAnimationFrame to coalesce notifications; Node
// has none, so a shim runs the frame on the next turn of the event loop.

import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { rowEncoder, type RowTuple } from '../../core/probe.ts';
import { MAX_ROWS_PER_MESSAGE } from '../../ipc/protocol.ts';
import { dropwatch, type DropRow } from '../../probes/dropwatch/definition.ts';
import { tcpdump, type PacketRow } from '../../probes/tcpdump/definition.ts';
import { MAX_ROWS, ProbeStore } from '../../renderer/ui/store.dom.ts';

before(() => {
  if (typeof globalThis.requestAnimationFrame !== 'function') {
    Object.assign(globalThis, { requestAnimationFrame: (cb: FrameRequestCallback) => setImmediate(() => cb(performance.now())) });
  }
});

const frame = () => new Promise<void>((r) => setImmediate(r));

/** Packet n: told apart by its time and ports (n spread over both). */
function packet(n: number): PacketRow {
  return {
    time: 1_795_000_000_000_000 + n, dev: 'lo', src: '127.0.0.1', dst: '127.0.0.1', sport: 1024 + (n % 60_000), dport: 1 + Math.floor(n / 60_000),
    proto: n % 3 ? 'UDP' : 'TCP', urg: false, ack: n % 2 === 0, psh: false, rst: false, syn: false, fin: false, length: 28 + (n % 1000),
    pid: n % 7, command: `p${n % 7}`, uid: 0, cgroup: '',
  };
}

/** The wire form, in messages as the host delivers them. */
function messages<Row>(encode: (row: Row) => RowTuple, rows: Row[]): RowTuple[][] {
  const out: RowTuple[][] = [];
  for (let i = 0; i < rows.length; i += MAX_ROWS_PER_MESSAGE) out.push(rows.slice(i, i + MAX_ROWS_PER_MESSAGE).map(encode));
  return out;
}

test(`a stream probe's ring past ${MAX_ROWS.toLocaleString('en')} rows: the newest kept in order, every other one counted not kept, exactly`, async () => {
  assert.equal(tcpdump.kind, 'stream');
  const store = new ProbeStore<PacketRow>(tcpdump);
  let notified = 0;
  store.subscribe(() => notified++);
  // NetProbes' own rows (here every 5th packet) stay counted among those held while the oldest leave.
  store.setOwn((r) => (r as PacketRow).time % 5 === 0);
  await frame();
  notified = 0;

  const made = MAX_ROWS + 250;
  const rows = Array.from({ length: made }, (_, n) => packet(n));
  const batches = messages(rowEncoder(tcpdump.columns), rows);
  for (const [i, batch] of batches.entries()) {
    store.addRows(batch);
    // Nothing is dropped while there is room.
    const sent = Math.min(made, (i + 1) * MAX_ROWS_PER_MESSAGE);
    assert.equal(store.notKept, Math.max(0, sent - MAX_ROWS), `after ${sent} rows`);
  }
  assert.equal(store.received, made);
  assert.equal(store.stream.length, MAX_ROWS);
  assert.equal(store.notKept, 250);
  assert.equal(store.stream.length + store.notKept, made, 'held + not kept = made');
  // The 250 oldest are gone; the rest, in arrival order, are exactly the rows made, every cell decoded.
  assert.deepEqual(store.stream.at(0), rows[250]);
  assert.deepEqual(store.stream.at(-1), rows[made - 1]);
  const held = store.stream.toArray();
  for (let i = 0; i < held.length; i++) if (held[i]!.time !== rows[250 + i]!.time) assert.fail(`row ${i} held is packet ${held[i]!.time - rows[0]!.time}, not ${250 + i}`);
  assert.deepEqual([store.stream.start, store.stream.end], [250, made], 'sequence numbers: views see the 250 as gone');
  assert.equal(store.ownHeld, held.filter((r) => r.time % 5 === 0).length, 'own rows among those held, recounted as the oldest left');
  // One notification for all those messages, in the next frame.
  assert.equal(notified, 0);
  await frame();
  assert.equal(notified, 1);

  // A clear forgets the rows and the count; the count starts again from there.
  store.clear();
  assert.deepEqual([store.stream.length, store.notKept, store.received], [0, 0, 0]);
  for (const batch of batches) store.addRows(batch);
  assert.equal(store.notKept, 250);
});

test(`an interval probe's history past ${MAX_ROWS.toLocaleString('en')} rows: every table's rows kept newest first out, the rest counted not kept`, () => {
  assert.equal(dropwatch.kind, 'interval');
  const store = new ProbeStore<DropRow>(dropwatch);
  const encode = rowEncoder(dropwatch.columns);
  const PER_TABLE = 997; // not a divisor of MAX_ROWS: the oldest table leaves the history part by part
  const TABLES = 101;
  const made = PER_TABLE * TABLES;
  const all: DropRow[] = [];
  for (let t = 0; t < TABLES; t++) {
    const table = Array.from({ length: PER_TABLE }, (_, i): DropRow => ({
      time: 1_795_000_000_000_000 + t * 1_000_000, count: t * PER_TABLE + i + 1, location: `site_${i}`, reason: 'NO_SOCKET', protocol: 'IPv4', pid: '', command: '',
      explanation: 'nothing listens on the port', sites: `site_${i}+0x10/0x80 1`,
    }));
    all.push(...table);
    store.addRows(table.map(encode));
    assert.deepEqual(store.table, table, 'the latest table, whole');
  }
  assert.equal(store.tablesReceived, TABLES);
  assert.equal(store.received, made);
  assert.equal(store.history.length, MAX_ROWS);
  assert.equal(store.notKept, made - MAX_ROWS);
  assert.equal(store.history.length + store.notKept, made, 'held + not kept = made');
  const held = store.history.toArray();
  assert.equal(held[0]!.count, made - MAX_ROWS + 1, 'the oldest held is the first not dropped');
  assert.equal(held.at(-1)!.count, made, 'the newest held is the last made');
  for (let i = 0; i < held.length; i++) if (held[i]!.count !== made - MAX_ROWS + 1 + i) assert.fail(`history row ${i} is drop row ${held[i]!.count}`);
  assert.deepEqual(held.at(-1), all.at(-1));
});
