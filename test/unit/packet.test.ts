// The frame decoder on real frames captured here (test/fixtures/make-fixtures.sh),
// on frames built byte by byte for what the kernel here cannot produce (IPv6
// extension headers), and on every truncation and random corruption of them.

import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, test } from 'node:test';
import { decodeFrame, ipv6, LinkType, type Decoded } from '../../electron/shared/packet.ts';
import { readPcap } from '../helpers/pcap-file.ts';

const FIX = path.join(import.meta.dirname, '..', 'fixtures');
const decodeAll = (file: string) => {
  const { linkType, frames } = readPcap(path.join(FIX, file));
  return { linkType, frames, decoded: frames.map((f) => decodeFrame(linkType, f.data, 0, f.data.length, f.wireLen)) };
};
const ok = (d: unknown): Decoded => {
  assert.equal(typeof d, 'object', `decoded, not ${String(d)}`);
  return d as Decoded;
};

describe('decodeFrame on captured frames', () => {
  test('Ethernet (lo): UDP over IPv4 and IPv6', () => {
    const { linkType, decoded } = decodeAll('lo-udp.pcap');
    assert.equal(linkType, LinkType.EN10MB);
    const [v4, v6] = decoded.map(ok);
    assert.deepEqual([v4!.family, v4!.src, v4!.dst, v4!.proto, v4!.dport, v4!.ipLen, v4!.linkLen], [4, '127.0.0.1', '127.0.0.1', 'UDP', 47001, 35, 14]);
    assert.deepEqual([v6!.family, v6!.src, v6!.dst, v6!.proto, v6!.dport, v6!.ipLen], [6, '::1', '::1', 'UDP', 47001, 55]);
  });

  test('Ethernet (lo): a TCP handshake with its flags', () => {
    const [syn, synAck, ack] = decodeAll('lo-tcp.pcap').decoded.map(ok);
    assert.equal(syn!.tcpFlags, 0x02);
    assert.equal(synAck!.tcpFlags, 0x12);
    assert.equal(ack!.tcpFlags, 0x10);
    assert.equal(syn!.dport, 47004);
    assert.equal(synAck!.sport, 47004);
  });

  test('Linux cooked v2 ("any"): interface index and packet type', () => {
    const { linkType, decoded } = decodeAll('any-sll2.pcap');
    assert.equal(linkType, LinkType.LINUX_SLL2);
    const d = ok(decoded[0]);
    assert.deepEqual([d.ifindex, d.pktType, d.linkLen, d.src, d.dport], [1, 0, 20, '127.0.0.1', 47002]);
  });

  test('Linux cooked v1: IPv6 UDP', () => {
    const { linkType, decoded } = decodeAll('any-sll.pcap');
    assert.equal(linkType, LinkType.LINUX_SLL);
    const d = ok(decoded[0]);
    assert.deepEqual([d.linkLen, d.family, d.src, d.dport, d.pktType], [16, 6, '::1', 47003, 0]);
  });

  test('802.1Q and QinQ (802.1ad + 802.1Q) tags', () => {
    const [q, qinq] = decodeAll('vlan.pcap').decoded.map(ok);
    assert.deepEqual([q!.linkLen, q!.src, q!.dst, q!.dport], [18, '10.232.100.1', '10.232.100.2', 47005]);
    assert.deepEqual([qinq!.linkLen, qinq!.src, qinq!.dport], [22, '10.232.200.1', 47006]);
  });
});

/** An IPv6 packet with the given extension headers (each [type, bytes]) and a UDP header. */
function ipv6WithExtensions(exts: [number, Uint8Array][], last = 17): Uint8Array {
  const udp = new Uint8Array([0x12, 0x34, 0x00, 0x35, 0, 8, 0, 0]);
  const body = [...exts.map(([, b]) => b), udp];
  const payloadLen = body.reduce((n, b) => n + b.length, 0);
  const hdr = new Uint8Array(40);
  hdr[0] = 0x60;
  hdr[4] = payloadLen >> 8;
  hdr[5] = payloadLen & 0xff;
  hdr[6] = exts[0]?.[0] ?? last;
  hdr[7] = 64;
  hdr.set([0x20, 0x01, 0x0d, 0xb8], 8); // 2001:db8::1
  hdr[23] = 1;
  hdr.set([0x20, 0x01, 0x0d, 0xb8], 24); // 2001:db8::2
  hdr[39] = 2;
  exts.forEach(([, b], i) => (b[0] = exts[i + 1]?.[0] ?? last));
  const out = new Uint8Array(40 + payloadLen);
  out.set(hdr);
  let o = 40;
  for (const b of body) {
    out.set(b, o);
    o += b.length;
  }
  return out;
}

describe('decodeFrame on built frames', () => {
  test('IPv6 extension headers: hop-by-hop, routing, destination options, first fragment, AH', () => {
    const hbh = new Uint8Array(8);
    const routing = new Uint8Array(24);
    routing[1] = 2; // (2+1)*8 bytes
    const dest = new Uint8Array(16);
    dest[1] = 1;
    const frag = new Uint8Array(8); // offset 0: first fragment
    const ah = new Uint8Array(16);
    ah[1] = 2; // (2+2)*4 bytes
    const pkt = ipv6WithExtensions([[0, hbh], [43, routing], [60, dest], [44, frag], [51, ah]]);
    const d = ok(decodeFrame(LinkType.RAW, pkt, 0, pkt.length, pkt.length));
    assert.deepEqual([d.family, d.src, d.dst, d.proto, d.sport, d.dport, d.ipLen], [6, '2001:db8::1', '2001:db8::2', 'UDP', 0x1234, 53, pkt.length]);
  });

  test('a later IPv6 fragment has no ports: other protocol, not a row', () => {
    const frag = new Uint8Array(8);
    frag[3] = 0x08; // offset 1
    const pkt = ipv6WithExtensions([[44, frag]]);
    assert.equal(decodeFrame(LinkType.RAW, pkt, 0, pkt.length, pkt.length), 'other-protocol');
  });

  test('an extension header longer than the payload is malformed', () => {
    const dest = new Uint8Array(8);
    const pkt = ipv6WithExtensions([[60, dest]]);
    pkt[41] = 200; // claims 1608 bytes
    assert.equal(decodeFrame(LinkType.RAW, pkt, 0, pkt.length, pkt.length), 'malformed');
  });

  test('raw IP and BSD loopback (NULL) link types', () => {
    const pkt = ipv6WithExtensions([]);
    assert.equal(ok(decodeFrame(LinkType.RAW, pkt, 0, pkt.length, pkt.length)).family, 6);
    const withNull = new Uint8Array(4 + pkt.length);
    withNull.set([30, 0, 0, 0]); // AF_INET6 on macOS, little-endian
    withNull.set(pkt, 4);
    assert.equal(ok(decodeFrame(LinkType.NULL, withNull, 0, withNull.length, withNull.length)).linkLen, 4);
  });

  test('non-IP frames, other IP protocols and unknown link types are told apart', () => {
    const { frames } = readPcap(path.join(FIX, 'lo-udp.pcap'));
    const arp = new Uint8Array(frames[0]!.data);
    arp[12] = 0x08;
    arp[13] = 0x06;
    assert.equal(decodeFrame(LinkType.EN10MB, arp, 0, arp.length, arp.length), 'not-ip');
    const icmp = new Uint8Array(frames[0]!.data);
    icmp[14 + 9] = 1;
    assert.equal(decodeFrame(LinkType.EN10MB, icmp, 0, icmp.length, icmp.length), 'other-protocol');
    assert.equal(decodeFrame(147, icmp, 0, icmp.length, icmp.length), 'unsupported-link');
  });

  test('a frame inside a larger buffer is read at its offset and no further', () => {
    const { frames } = readPcap(path.join(FIX, 'lo-tcp.pcap'));
    const f = frames[0]!.data;
    const buf = new Uint8Array(100 + f.length + 100).fill(0xee);
    buf.set(f, 100);
    assert.equal(ok(decodeFrame(LinkType.EN10MB, buf, 100, f.length, f.length)).dport, 47004);
    // Only 40 bytes captured of a 74-byte frame: the TCP header is past the end.
    assert.equal(decodeFrame(LinkType.EN10MB, buf, 100, 40, f.length), 'truncated');
  });
});

describe('decodeFrame never reads past the captured length and never throws', () => {
  const files = ['lo-udp.pcap', 'lo-tcp.pcap', 'any-sll.pcap', 'any-sll2.pcap', 'vlan.pcap'];

  test('every truncation of every fixture frame', () => {
    for (const file of files) {
      const { linkType, frames } = readPcap(path.join(FIX, file));
      for (const f of frames) {
        for (let len = 0; len < f.data.length; len++) {
          // A copy of exactly `len` bytes: any read past it would see undefined and fail the checks below.
          const cut = f.data.slice(0, len);
          const snapped = decodeFrame(linkType, cut, 0, len, f.wireLen);
          assert.ok(typeof snapped === 'object' || snapped === 'truncated', `${file} cut to ${len} (snaplen): ${String(snapped)}`);
          const short = decodeFrame(linkType, cut, 0, len, len);
          assert.ok(typeof short === 'object' || short === 'malformed', `${file} of ${len} bytes on the wire: ${String(short)}`);
        }
      }
    }
  });

  test('random corruption of fixture frames (20,000 variants, seeded)', () => {
    let seed = 42;
    const rand = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
    let decoded = 0;
    for (let i = 0; i < 20_000; i++) {
      const { linkType, frames } = readPcap(path.join(FIX, files[i % files.length]!));
      const f = new Uint8Array(frames[i % frames.length]!.data);
      for (let k = 0, n = 1 + Math.floor(rand() * 4); k < n; k++) f[Math.floor(rand() * f.length)] = Math.floor(rand() * 256);
      const len = Math.floor(rand() * (f.length + 1));
      const r = decodeFrame(linkType, f.subarray(0, len), 0, len, f.length);
      if (typeof r === 'object') {
        decoded++;
        assert.ok(r.sport >= 0 && r.sport < 65536 && r.dport >= 0 && r.dport < 65536);
        assert.ok(r.linkLen + (r.family === 4 ? 20 : 40) <= len, 'decoded headers lie within the captured bytes');
      }
    }
    assert.ok(decoded > 1000, 'many variants still decode');
  });
});

describe('ipv6 text form (RFC 5952)', () => {
  const v6 = (hex: string) => ipv6(Uint8Array.from(hex.match(/../g)!.map((h) => parseInt(h, 16))), 0);
  test('compresses the longest zero run, lower case, no leading zeros', () => {
    assert.equal(v6('00000000000000000000000000000001'), '::1');
    assert.equal(v6('20010db8000000000001000000000001'), '2001:db8::1:0:0:1');
    assert.equal(v6('20010db8000100000000000000000000'), '2001:db8:1::');
    assert.equal(v6('20010db8000000010001000100010001'), '2001:db8:0:1:1:1:1:1');
    assert.equal(v6('00000000000000000000ffff7f000001'), '::ffff:127.0.0.1');
    assert.equal(v6('fe800000000000000000000000000000'), 'fe80::');
  });
});
