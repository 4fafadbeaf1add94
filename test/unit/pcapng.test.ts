// The pcapng writer and the frame ring behind the packet tab's export.
// (The end-to-end test reads an exported file back with tcpdump itself.)

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FrameRing } from '../../core/frame-ring.ts';
import { writePcapng } from '../../core/pcapng.ts';

/** Walks the blocks: [type, total length, body] — each block's trailing length must repeat its leading one. */
function blocks(bytes: Uint8Array): { type: number; body: DataView }[] {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = [];
  for (let o = 0; o < bytes.length; ) {
    const type = dv.getUint32(o, true);
    const len = dv.getUint32(o + 4, true);
    assert.equal(len % 4, 0, 'blocks are 32-bit aligned');
    assert.equal(dv.getUint32(o + len - 4, true), len, 'trailing length repeats');
    out.push({ type, body: new DataView(bytes.buffer, bytes.byteOffset + o + 8, len - 12) });
    o += len;
  }
  return out;
}

test('pcapng: section header, one interface per capture, one packet block per frame with its times and lengths', () => {
  const frame = Uint8Array.from({ length: 42 }, (_, i) => i);
  const bytes = writePcapng(
    [
      { name: 'lo', linkType: 1, snaplen: 256 },
      { name: 'any', linkType: 276, snaplen: 256 },
    ],
    [{ iface: 1, time: 1_795_595_516_866_889, wireLen: 1042, data: frame, comment: 'pid 42 (curl)' }],
  );
  const b = blocks(bytes);
  assert.deepEqual(b.map((x) => x.type), [0x0a0d0d0a, 1, 1, 6]);
  assert.equal(b[0]!.body.getUint32(0, true), 0x1a2b3c4d, 'byte-order magic');
  assert.equal(b[2]!.body.getUint16(0, true), 276, 'second interface is LINUX_SLL2');
  const epb = b[3]!.body;
  assert.equal(epb.getUint32(0, true), 1, 'interface id');
  const ts = (BigInt(epb.getUint32(4, true)) << 32n) | BigInt(epb.getUint32(8, true));
  assert.equal(ts, 1_795_595_516_866_889n, 'microsecond timestamp');
  assert.equal(epb.getUint32(12, true), 42, 'captured length');
  assert.equal(epb.getUint32(16, true), 1042, 'length on the wire');
  assert.deepEqual(new Uint8Array(epb.buffer, epb.byteOffset + 20, 42), frame);
});

test('frame ring: keeps the newest frames, oldest first, cut to the slot size', () => {
  const ring = new FrameRing(3, 8);
  const iface = ring.addInterface({ name: 'lo', linkType: 1, snaplen: 8 });
  const src = Uint8Array.from({ length: 100 }, (_, i) => i);
  for (let k = 0; k < 5; k++) ring.add(iface, 1000 + k, src, k * 10, 12, 60 + k);
  const p = ring.packets();
  assert.deepEqual(p.map((x) => x.time), [1002, 1003, 1004]);
  assert.deepEqual(p.map((x) => x.wireLen), [62, 63, 64]);
  assert.deepEqual([...p[0]!.data], [20, 21, 22, 23, 24, 25, 26, 27]);
});
