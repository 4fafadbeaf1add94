// The pcapng writer and the frame ring behind the packet tab's export.
// (The end-to-end test reads an exported file back with tcpdump itself; the
// snap length of real captures is checked in test/integration/tcpdump.test.ts.)

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { CaptureFileParser, type FileRecord } from '../../core/capture-file.ts';
import { FrameRing } from '../../core/frame-ring.ts';
import { parseProcessComment, writePcapng } from '../../core/pcapng.ts';
import { DEFAULT_SNAPLEN } from '../../kernel/capture/pcap.node.ts';
import { EXPORT_FRAMES } from '../../probes/tcpdump/definition.ts';
import { MAX_ROWS } from '../../renderer/ui/store.dom.ts';

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

/** An Ethernet + IPv4 + UDP frame of 1000 bytes of payload (1042 on the wire), numbered n in its IP id and first payload bytes. */
function udpFrame(): { frame: Uint8Array; number: (n: number) => void } {
  const frame = new Uint8Array(14 + 20 + 8 + 1000);
  const dv = new DataView(frame.buffer);
  dv.setUint16(12, 0x0800); // IPv4
  frame.set([0x45, 0, 0x04, 0x04], 14); // version 4, IHL 5, total length 1028
  frame.set([64, 17], 14 + 8); // TTL, UDP
  frame.set([127, 0, 0, 1, 127, 0, 0, 1], 14 + 12);
  dv.setUint16(34, 40_000); // source port
  dv.setUint16(36, 9); // destination port
  dv.setUint16(38, 1008); // UDP length
  return {
    frame,
    number: (n) => {
      dv.setUint16(14 + 4, n & 0xffff);
      dv.setUint32(42, n);
    },
  };
}

test(`the pcapng export past its cap: exactly the newest ${EXPORT_FRAMES.toLocaleString('en')} frames (as many as the Packets tab keeps rows), each cut to ${DEFAULT_SNAPLEN} bytes, read back by tcpdump and tshark`, () => {
  // The README's numbers: the export holds the frames the tab keeps (its MAX_ROWS), the first 256 bytes of each.
  assert.equal(EXPORT_FRAMES, 100_000);
  assert.equal(EXPORT_FRAMES, MAX_ROWS, "the export's cap is the Packets tab's");
  assert.equal(DEFAULT_SNAPLEN, 256);
  // As the tcpdump source makes its ring (probes/tcpdump/source.node.ts) and the collector writes it (collector/runner.node.ts).
  const ring = new FrameRing(EXPORT_FRAMES, DEFAULT_SNAPLEN);
  const iface = ring.addInterface({ name: 'lo', linkType: 1, snaplen: DEFAULT_SNAPLEN });
  const BASE = 1_795_000_000_000_000; // µs; frame n is at BASE + n
  const made = EXPORT_FRAMES + 250;
  const { frame, number } = udpFrame();
  let first = -1;
  for (let n = 0; n < made; n++) {
    number(n);
    const f = ring.add(iface, BASE + n, frame, 0, frame.length, frame.length);
    if (n === 0) first = f;
    // Every 1000th frame's process is known (--process): it becomes the frame's comment.
    if (n % 1000 === 0) ring.setOwner(f, { pid: 100_000 + n, command: `np19-${n}`, uid: 1000, cgroup: 'np19.service' });
  }
  // The first frame's owner decided after it left the ring: nowhere (its slot holds frame EXPORT_FRAMES now).
  ring.setOwner(first, { pid: 1, command: 'stale', uid: 0 });
  const packets = ring.packets();
  assert.equal(packets.length, EXPORT_FRAMES);
  const bytes = writePcapng(ring.interfaces, packets);

  // Read back by the project's reader: every frame, in order.
  const records: { time: number; caplen: number; wireLen: number; n: number; comments: string[] }[] = [];
  new CaptureFileParser().parse(bytes, bytes.length, (r: FileRecord) => {
    const dv = new DataView(r.buf.buffer, r.buf.byteOffset + r.offset, r.caplen);
    records.push({ time: r.timeUs, caplen: r.caplen, wireLen: r.wireLen, n: dv.getUint32(42), comments: r.comments });
  });
  assert.equal(records.length, EXPORT_FRAMES, 'the file holds exactly the cap');
  for (let i = 0; i < records.length; i++) {
    const n = 250 + i; // the 250 oldest left out, the rest in capture order
    const r = records[i]!;
    if (r.time !== BASE + n || r.n !== n || r.caplen !== 256 || r.wireLen !== 1042) assert.fail(`record ${i}: ${JSON.stringify(r)}, not frame ${n}`);
    const want = n % 1000 === 0 ? [`pid=${100_000 + n}, comm=np19-${n}, uid=1000, cgroup=np19.service`] : [];
    if (r.comments.join() !== want.join()) assert.fail(`record ${i} (frame ${n}): comments ${JSON.stringify(r.comments)}, not ${JSON.stringify(want)}`);
  }
  assert.deepEqual(parseProcessComment(records.at(-1 - ((made - 1) % 1000))!.comments[0]!), { pid: 100_000 + 100_000, command: 'np19-100000', uid: 1000, cgroup: 'np19.service' });

  // And by the reference tools.
  const dir = mkdtempSync(path.join(tmpdir(), 'np19-pcapng-'));
  try {
    const file = path.join(dir, 'export.pcapng');
    writeFileSync(file, bytes);
    const lines = execFileSync('tcpdump', ['-r', file, '-nn', '-tt'], { encoding: 'utf8', maxBuffer: 64 << 20, stdio: ['ignore', 'pipe', 'pipe'] }).trimEnd().split('\n');
    assert.equal(lines.length, EXPORT_FRAMES, 'tcpdump -r counts the cap');
    assert.match(lines[0]!, /^1795000000\.000250 IP 127\.0\.0\.1\.40000 > 127\.0\.0\.1\.9: UDP, length 1000$/, 'the oldest kept is frame 250');
    assert.match(lines.at(-1)!, new RegExp(`^1795000000\\.${String(made - 1).padStart(6, '0')} IP `), 'the newest is the last made');
    const tshark = execFileSync('tshark', ['-r', file, '-c', '1001', '-T', 'fields', '-e', 'frame.len', '-e', 'frame.cap_len', '-e', 'ip.id', '-e', 'frame.comment'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
      .trimEnd()
      .split('\n');
    assert.equal(tshark.length, 1001);
    assert.deepEqual(tshark[0]!.split('\t'), ['1042', '256', '0x00fa', ''], 'frame 250: 1042 bytes on the wire, 256 captured');
    assert.deepEqual(tshark[750]!.split('\t'), ['1042', '256', '0x03e8', 'pid=101000, comm=np19-1000, uid=1000, cgroup=np19.service'], 'frame 1000, with its process');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
