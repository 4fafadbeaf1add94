// The pure parts of issue 17: tcpdump's per-packet owners (the shared
// attribution, packets in capture order), the process comment of the pcapng
// export and its frame ring, cgroup names, a namespace's addresses, and the
// capture file reader on files made by tcpdump and tshark (test/fixtures).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SocketIndex, type Owner } from '../../attribution/socket-index.ts';
import { NamespacedSnapshot } from '../../attribution/namespaces.ts';
import { flowTuple } from '../../attribution/flow.ts';
import { PacketOwners, MAX_WAITING } from '../../probes/tcpdump/owners.ts';
import { FrameRing } from '../../core/frame-ring.ts';
import { parseProcessComment, processComment, writePcapng } from '../../core/pcapng.ts';
import { CaptureFileError, CaptureFileParser, type FileRecord } from '../../core/capture-file.ts';
import { cgroupPath, identifyCgroup } from '../../core/procfs/cgroup.ts';
import { parseNamespaceAddresses } from '../../core/procfs/proc-net.ts';
import { procSocket } from './nettop-fixtures.ts';

const CLIENT: Owner = { pid: 4100, uid: 1000, command: 'client', cgroup: 'app-x.scope' };
const SERVER: Owner = { pid: 4200, uid: 0, command: 'server' };

function owners(now = { ms: 1_000 }) {
  const out: [number, Owner][] = [];
  let scans = 0;
  const po = new PacketOwners<number>({ now: () => now.ms, requestScan: () => scans++, recent: null, emit: (n, o) => out.push([n, o]) });
  return { po, out, scans: () => scans, now };
}

const index = (withClient: boolean) =>
  new SocketIndex(
    [procSocket('UDP', '127.0.0.1', 5000, '0.0.0.0', 0, 11), ...(withClient ? [procSocket('UDP', '127.0.0.1', 40000, '0.0.0.0', 0, 12)] : [])],
    new Map([[11, SERVER], ...(withClient ? ([[12, CLIENT]] as const) : [])]),
  );

test('tcpdump owners: a local packet is its sender\'s; a new socket waits for a scan, the rows behind it too, in order', () => {
  const { po, out, scans, now } = owners();
  po.setSnapshot(index(false), 900, new Set());
  // The reply from the known server goes out at once; the client's datagram waits (its socket is newer than the snapshot).
  po.packet(1, 'UDP', '127.0.0.1', 5000, '127.0.0.1', 40000, 0, 950_000);
  po.packet(2, 'UDP', '127.0.0.1', 40000, '127.0.0.1', 5000, 0, 1_000_000);
  po.packet(3, 'UDP', '127.0.0.1', 5000, '127.0.0.1', 40000, 0, 1_000_100);
  assert.deepEqual(out, [[1, SERVER]]);
  assert.equal(scans(), 1, 'a scan asked for');
  assert.equal(po.waiting, 2, 'the server\'s next reply waits behind the client\'s datagram');
  now.ms = 1_100;
  po.setSnapshot(index(true), 1_050, new Set());
  assert.deepEqual(out, [[1, SERVER], [2, CLIENT], [3, SERVER]]);
  assert.deepEqual(po.counts, { attributed: 3, kernel: 0, unknown: 0, held: 1, holdOverflow: 0 });
});

test('tcpdump owners: a received packet is its receiver\'s; a datagram to a closed port is the kernel\'s once /proc is newer', () => {
  const { po, out, now } = owners();
  const wildcard = () => new SocketIndex([procSocket('UDP', '0.0.0.0', 5000, '0.0.0.0', 0, 11)], new Map([[11, SERVER]]), new Set(['10.1.1.1']));
  po.setSnapshot(wildcard(), 900, new Set(['10.1.1.1']));
  po.packet(1, 'UDP', '192.0.2.9', 7, '10.1.1.1', 5000, 0, 950_000); // to the server's wildcard socket, from afar
  po.packet(2, 'UDP', '192.0.2.9', 7, '10.1.1.1', 6000, 0, 950_001); // to a closed port: waits for a newer snapshot
  assert.deepEqual(out, [[1, SERVER]]);
  now.ms = 1_200;
  po.setSnapshot(wildcard(), 1_100, new Set(['10.1.1.1']));
  assert.equal(out[1]![1].pid, 0, 'kernel');
  assert.equal(po.counts.kernel, 1);
});

test('tcpdump owners: bounded: past MAX_WAITING the oldest waiting row leaves unknown (counted); finish() lets the rest go', () => {
  const { po, out } = owners();
  po.setSnapshot(index(false), 900, new Set());
  for (let i = 0; i <= MAX_WAITING; i++) po.packet(i, 'UDP', '127.0.0.1', 40000, '127.0.0.1', 5000, 0, 950_000 + i);
  assert.equal(out.length, 1);
  assert.equal(out[0]![1].pid, -1);
  assert.equal(po.counts.holdOverflow, 1);
  po.finish();
  assert.equal(out.length, MAX_WAITING + 1);
  assert.deepEqual(out.map(([n]) => n), [...Array(MAX_WAITING + 1).keys()], 'in order');
});

test('other network namespaces: a flow at one of their addresses is looked up in their own table', () => {
  const own = new SocketIndex([procSocket('UDP', '0.0.0.0', 53, '0.0.0.0', 0, 1)], new Map([[1, SERVER]]), new Set(['10.9.0.1']));
  const theirs = new SocketIndex([procSocket('UDP', '0.0.0.0', 53, '0.0.0.0', 0, 2)], new Map([[2, CLIENT]]), new Set(['10.9.0.2']));
  const snap = new NamespacedSnapshot(own, [{ index: theirs, addresses: new Set(['10.9.0.2']) }]);
  const at = (ip: string) => snap.resolve(flowTuple('UDP', ip, 53, '10.9.0.7', 999), true);
  assert.deepEqual(at('10.9.0.1'), { kind: 'process', owner: SERVER, inode: 1, via: 'wildcard' });
  assert.deepEqual(at('10.9.0.2'), { kind: 'process', owner: CLIENT, inode: 2, via: 'wildcard' });
  assert.deepEqual(at('10.9.0.3'), { kind: 'foreign' });
  assert.equal(snap.elsewhere('10.9.0.2'), true);
  assert.equal(snap.elsewhere('::ffff:10.9.0.2'), true);
  assert.equal(snap.elsewhere('10.9.0.1'), false);
  assert.equal(snap.has(2), true);
});

test('a namespace\'s addresses from fib_trie and if_inet6, without loopback and link-local', () => {
  const fib = ['Main:', '  +-- 0.0.0.0/0 3 0 5', '     |-- 10.217.3.0', '        /24 link UNICAST', '     |-- 10.217.3.2', '        /32 host LOCAL', '     |-- 127.0.0.1', '        /32 host LOCAL', '     |-- 10.217.3.255', '        /32 link BROADCAST', 'Local:', '     |-- 10.217.3.2', '        /32 host LOCAL'].join('\n');
  const inet6 = ['fd000217000300000000000000000002 03 40 00 80 npn', '00000000000000000000000000000001 01 80 10 80 lo', 'fe80000000000000a8d1b2fffe3c4d5e 03 40 20 80 npn'].join('\n');
  assert.deepEqual([...parseNamespaceAddresses(fib, inet6)], ['10.217.3.2', 'fd00:217:3::2']);
});

test('cgroup names: systemd units, containers, Flatpak, Snap, Kubernetes pods, a hand-made cgroup', () => {
  const id = 'ab'.repeat(32);
  const cases: [string, string][] = [
    ['/system.slice/nginx.service', 'nginx.service'],
    ['/user.slice/user-1000.slice/user@1000.service/app.slice/app-firefox-1234.scope', 'app-firefox-1234.scope'],
    ['/system.slice/nginx.service/worker', 'nginx.service'],
    [`/system.slice/docker-${id}.scope`, `docker:${id.slice(0, 12)}`],
    [`/docker/${id}`, `docker:${id.slice(0, 12)}`],
    [`/machine.slice/libpod-${id}.scope/container`, `podman:${id.slice(0, 12)}`],
    [`/user.slice/user-1000.slice/user@1000.service/app.slice/app-flatpak-org.mozilla.firefox-4242.scope`, 'flatpak:org.mozilla.firefox'],
    ['/user.slice/user-1000.slice/user@1000.service/app.slice/snap.firefox.firefox-0a1b2c3d-1111-2222-3333-444455556666.scope', 'snap:firefox'],
    [`/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod0f5c3a2e_1b2c_4d5e_8f90_a1b2c3d4e5f6.slice/cri-containerd-${id}.scope`, 'k8s-pod:0f5c3a2e-1b2c-4d5e-8f90-a1b2c3d4e5f6'],
    ['/kubepods/besteffort/pod0f5c3a2e-1b2c-4d5e-8f90-a1b2c3d4e5f6/' + id, 'k8s-pod:0f5c3a2e-1b2c-4d5e-8f90-a1b2c3d4e5f6'],
    ['/np17-1.slice', 'np17-1.slice'],
    ['/', ''],
  ];
  for (const [path, name] of cases) assert.equal(identifyCgroup(path).name, name, path);
  assert.equal(cgroupPath('12:pids:/x\n0::/system.slice/a.service\n'), '/system.slice/a.service');
  assert.equal(cgroupPath('9:name=systemd:/system.slice/b.service\n4:memory:/m\n0::/\n'), '/system.slice/b.service', 'hybrid host: v2 at the root, systemd\'s v1 path');
});

test('pcapng export: each kept frame carries its process as a comment, ptcpdump\'s form; an overwritten frame none', () => {
  assert.equal(processComment({ pid: 42, command: 'curl', uid: 1000, cgroup: 'app-x.scope' }), 'pid=42, comm=curl, uid=1000, cgroup=app-x.scope');
  assert.deepEqual(parseProcessComment('pid=42, comm=a, b, uid=1000, cgroup=c'), { pid: 42, command: 'a, b', uid: 1000, cgroup: 'c' });
  assert.equal(parseProcessComment('hello'), null);
  const ring = new FrameRing(2, 16);
  ring.addInterface({ name: 'lo', linkType: 1, snaplen: 16 });
  const f = new Uint8Array(8);
  const a = ring.add(0, 1, f, 0, 8, 8);
  const b = ring.add(0, 2, f, 0, 8, 8);
  ring.add(0, 3, f, 0, 8, 8); // overwrites a
  ring.setOwner(a, { pid: 1, command: 'x', uid: 0 });
  ring.setOwner(b, { pid: 2, command: 'y', uid: 0 });
  assert.deepEqual(ring.packets().map((p) => p.comment), ['pid=2, comm=y, uid=0, cgroup=', undefined]);
});

test('capture files: pcapng written here reads back with its comments, in any chunks; junk is refused', () => {
  const file = writePcapng([{ name: 'lo', linkType: 1, snaplen: 256 }], [
    { iface: 0, time: 1_795_595_516_866_889, wireLen: 60, data: new Uint8Array(42).fill(1), comment: 'pid=7, comm=x, uid=0, cgroup=' },
    { iface: 0, time: 1_795_595_516_866_990, wireLen: 42, data: new Uint8Array(42).fill(2) },
  ]);
  const parser = new CaptureFileParser();
  const got: FileRecord[] = [];
  let used = parser.parse(file.subarray(0, 50), 50, (r) => got.push({ ...r }));
  assert.equal(got.length, 0);
  const rest = new Uint8Array(file.length - used);
  rest.set(file.subarray(used));
  used = parser.parse(rest, rest.length, (r) => got.push({ ...r, comments: [...r.comments] }));
  assert.equal(used, rest.length);
  assert.deepEqual(got.map((r) => [r.iface, r.timeUs, r.caplen, r.wireLen, r.comments]), [
    [0, 1_795_595_516_866_889, 42, 60, ['pid=7, comm=x, uid=0, cgroup=']],
    [0, 1_795_595_516_866_990, 42, 42, []],
  ]);
  assert.deepEqual(parser.interfaces, [{ linkType: 1, name: 'lo' }]);
  assert.throws(() => new CaptureFileParser().parse(new Uint8Array(64).fill(7), 64, () => {}), CaptureFileError);
});
