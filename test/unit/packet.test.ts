// The frame decoder on real frames captured here (test/fixtures/make-fixtures.sh),
// on frames built byte by byte for what the kernel here cannot produce (IPv6
// extension headers), and on every truncation and random corruption of them.

import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, test } from 'node:test';
import { decodeFrame, ipv6, LinkType, type Decoded } from '../../core/packet.ts';
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

/** An Ethernet frame (to 02:..:02 from 02:..:01) around an IP packet. */
function ethernet(etherType: number, ip: Uint8Array, padTo = 0): Uint8Array {
  const f = new Uint8Array(Math.max(14 + ip.length, padTo));
  f.fill(0x02, 0, 6);
  f.fill(0x01, 6, 12);
  f[12] = etherType >> 8;
  f[13] = etherType & 0xff;
  f.set(ip, 14);
  return f;
}

/** An IPv4 UDP packet 10.0.0.1:1111 → 10.0.0.2:2222 of `bytes` bytes whose header states `totalLen`. */
function ipv4Udp(bytes: number, totalLen = bytes): Uint8Array {
  const p = new Uint8Array(bytes);
  p.set([0x45, 0, totalLen >> 8, totalLen & 0xff, 0, 0, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2]);
  p.set([0x04, 0x57, 0x08, 0xae, (bytes - 20) >> 8, (bytes - 20) & 0xff, 0, 0], 20);
  return p;
}

/** An IPv6 UDP packet 2001:db8::1:1111 → 2001:db8::2:2222 of `bytes` bytes whose header states a payload of `payloadLen`. */
function ipv6Udp(bytes: number, payloadLen = bytes - 40): Uint8Array {
  const p = new Uint8Array(bytes);
  p.set([0x60, 0, 0, 0, payloadLen >> 8, payloadLen & 0xff, 17, 64]);
  p.set([0x20, 0x01, 0x0d, 0xb8], 8);
  p[23] = 1;
  p.set([0x20, 0x01, 0x0d, 0xb8], 24);
  p[39] = 2;
  p.set([0x04, 0x57, 0x08, 0xae, (bytes - 40) >> 8, (bytes - 40) & 0xff, 0, 0], 40);
  return p;
}

describe('LENGTH: never more than the wire carried', () => {
  const decodeEth = (f: Uint8Array, caplen = f.length, wireLen = f.length) => ok(decodeFrame(LinkType.EN10MB, f, 0, caplen, wireLen));

  test('an IPv4 header claiming 65535 bytes on a packet of 60: length 60, counted as IP truncated', () => {
    const f = ethernet(0x0800, ipv4Udp(60, 65535));
    assert.equal(f.length, 74);
    const d = decodeEth(f);
    assert.deepEqual([d.src, d.dst, d.proto, d.sport, d.dport, d.ipLen, d.ipTruncated], ['10.0.0.1', '10.0.0.2', 'UDP', 1111, 2222, 60, true]);
  });

  test('an IPv6 header claiming a 65535-byte payload on a packet of 60: length 60, counted as IP truncated', () => {
    const d = decodeEth(ethernet(0x86dd, ipv6Udp(60, 65535)));
    assert.deepEqual([d.src, d.dst, d.proto, d.dport, d.ipLen, d.ipTruncated], ['2001:db8::1', '2001:db8::2', 'UDP', 2222, 60, true]);
  });

  test('a packet whose header states its length exactly: unchanged, not truncated', () => {
    const v4 = decodeEth(ethernet(0x0800, ipv4Udp(60)));
    assert.deepEqual([v4.ipLen, v4.ipTruncated], [60, false]);
    const v6 = decodeEth(ethernet(0x86dd, ipv6Udp(60)));
    assert.deepEqual([v6.ipLen, v6.ipTruncated], [60, false]);
  });

  test('an Ethernet frame padded to 60 bytes: the IP length (28), not the padded 46', () => {
    const f = ethernet(0x0800, ipv4Udp(28), 60);
    assert.equal(f.length, 60);
    const d = decodeEth(f);
    assert.deepEqual([d.ipLen, d.ipTruncated, d.dport], [28, false, 2222]);
  });

  test('the wire length is the original length, not the captured one (snap length 54 of a 1514-byte frame)', () => {
    const f = ethernet(0x0800, ipv4Udp(1500));
    const d = decodeEth(f, 54, 1514);
    assert.deepEqual([d.ipLen, d.ipTruncated], [1500, false]);
    // The same frame, but 100 bytes on the wire: the header's 1500 is a lie.
    const cut = decodeEth(f, 54, 100);
    assert.deepEqual([cut.ipLen, cut.ipTruncated], [86, true]);
  });

  test('cooked captures: the wire length includes the 20-byte cooked header', () => {
    const ip = ipv4Udp(60, 9000);
    const f = new Uint8Array(20 + ip.length);
    f.set([0x08, 0x00, 0, 0, 0, 0, 0, 1, 0x03, 0x04, 0, 1, 6]); // IPv4, ifindex 1, ARPHRD_LOOPBACK, PACKET_HOST
    f.set(ip, 20);
    const d = ok(decodeFrame(LinkType.LINUX_SLL2, f, 0, f.length, f.length));
    assert.deepEqual([d.linkLen, d.ipLen, d.ipTruncated], [20, 60, true]);
  });

  test('a TCP header the wire cut short is malformed, whatever the IP header states', () => {
    const ip = ipv4Udp(30, 65535);
    ip[9] = 6; // TCP, with only 10 bytes of it on the wire
    assert.equal(decodeFrame(LinkType.EN10MB, ethernet(0x0800, ip), 0, 44, 44), 'malformed');
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
        assert.ok(r.linkLen + r.ipLen <= f.length, 'the IP length is never more than the wire carried');
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
