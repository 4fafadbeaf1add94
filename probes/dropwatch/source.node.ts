// dropwatch's source: skb:kfree_skb in a tracepoint session, read in binary
// from every CPU's ring, counted in Node, one table per interval. Drops at a
// local socket are named by its owner (socket-owners.ts): the socket's
// endpoint from udp:udp_fail_queue_rcv_skb and sock:inet_sock_set_state, its
// owner from /proc, looked up at most every SCAN_MS while sockets wait for one.

import type { ProbeSource } from '../../runtime/source.ts';
import { TracepointSession } from '../../runtime/tracepoint-session.node.ts';
import { loadKernelSymbols } from '../../kernel/tracefs/kallsyms.node.ts';
import { field, parseSymbolic, readInt, type FieldLayout } from '../../core/tracefs/format.ts';
import { ipv4, ipv6 } from '../../core/packet.ts';
import { readSocketTables, readStatus, socketHolders } from '../../kernel/procfs/proc.node.ts';
import { epochMicrosConverter } from '../../kernel/tracefs/clock.node.ts';
import { DropAggregator, pointerKey } from './aggregate.ts';
import { SocketOwners, type Endpoint } from './socket-owners.ts';
import type { DropRow, DropwatchOptions } from './definition.ts';

const POLL_MS = 100;
/** /proc is read for socket owners at most this often (a walk of every process's fds). */
const SCAN_MS = 250;

/** A `struct sockaddr_in`/`sockaddr_in6` as tracepoints store it (28 bytes): address and port. */
function sockaddr(b: Buffer, off: number): { ip: string; port: number } | null {
  const family = b.readUInt16LE(off);
  if (family === 2) return { ip: ipv4(b, off + 4), port: b.readUInt16BE(off + 2) };
  if (family === 10) return { ip: ipv6(b, off + 8), port: b.readUInt16BE(off + 2) };
  return null;
}

/** The owners of the sockets drops were seen at: the tables of this network namespace, then the fd walk. */
function scanOwners(owners: SocketOwners): void {
  owners.resolve(readSocketTables('/proc/net').sockets, (inodes) => {
    const out = new Map<number, { pid: number; command: string }>();
    for (const [inode, pid] of socketHolders(inodes).holders) {
      const status = readStatus(pid);
      if (status) out.set(inode, { pid, command: status.command });
    }
    return out;
  });
}

export const dropwatchSource: ProbeSource<DropwatchOptions, DropRow> = async (options, sink) =>
  TracepointSession.run({ bufferKb: 4096 }, (session) => {
    const agg = new DropAggregator();
    const owners = new SocketOwners();
    const kfree = session.format('skb', 'kfree_skb');
    const reasons = parseSymbolic(kfree.printFmt, 'reason');
    const reasonCode = (name: string) => [...reasons].find(([, n]) => n === name)?.[0] ?? -2;
    // The reasons udp_fail_queue_rcv_skb precedes (udp.c: __udp_queue_rcv_skb).
    const udpFailReasons = new Set([reasonCode('SOCKET_RCVBUFF'), reasonCode('PROTO_MEM')]);
    // Per CPU: the endpoint of the last udp_fail_queue_rcv_skb, its fields copied, until the kfree_skb that follows it.
    const udpFail: (Buffer | null)[] = [];
    const udpFailCopy: Buffer[] = [];
    const hasSocket = kfree.fields.has('rx_sk'); // 6.10+
    session.on('skb', 'kfree_skb', (format) => {
      const locF = field(format, 'location');
      const reasonF = format.fields.get('reason') ?? null; // 5.17+
      const protoF = format.fields.get('protocol') ?? null;
      const skF = format.fields.get('rx_sk') ?? null;
      return (buf, off, _len, _ts, cpu) => {
        const loc = off + locF.offset;
        const reason = reasonF ? buf.readUInt32LE(off + reasonF.offset) : -1;
        let sk = 0;
        if (skF) {
          sk = pointerKey(buf.readUInt32LE(off + skF.offset + 4), buf.readUInt32LE(off + skF.offset));
          const fail = udpFail[cpu];
          if (fail) {
            udpFail[cpu] = null;
            if (sk && udpFailReasons.has(reason) && !owners.has(sk)) learnUdp(sk, fail);
          }
        }
        agg.add(buf.readUInt32LE(loc + 4), buf.readUInt32LE(loc), reason, protoF ? buf.readUInt16LE(off + protoF.offset) : 0, sk);
      };
    });
    let daddrAt = 0;
    let saddrAt = 0;
    const learnUdp = (sk: number, b: Buffer) => {
      const local = sockaddr(b, daddrAt);
      const remote = sockaddr(b, saddrAt);
      if (local && remote) owners.learn(sk, { proto: 'UDP', localIp: local.ip, localPort: local.port, remoteIp: remote.ip, remotePort: remote.port });
    };
    const learning: string[] = [];
    if (hasSocket && session.has('udp', 'udp_fail_queue_rcv_skb')) {
      session.on('udp', 'udp_fail_queue_rcv_skb', (format) => {
        const saddrF = field(format, 'saddr');
        const daddrF = field(format, 'daddr');
        // saddr and daddr are adjacent sockaddrs: copy both (cheap) and decode only for a socket not known yet.
        const start = Math.min(saddrF.offset, daddrF.offset);
        const size = Math.max(saddrF.offset + saddrF.size, daddrF.offset + daddrF.size) - start;
        saddrAt = saddrF.offset - start;
        daddrAt = daddrF.offset - start;
        return (buf, off, _len, _ts, cpu) => {
          const copy = (udpFailCopy[cpu] ??= Buffer.alloc(size));
          buf.copy(copy, 0, off + start, off + start + size);
          udpFail[cpu] = copy;
        };
      });
      learning.push('udp:udp_fail_queue_rcv_skb');
    }
    if (hasSocket && session.has('sock', 'inet_sock_set_state')) {
      session.on('sock', 'inet_sock_set_state', (st) => {
        const skF = field(st, 'skaddr');
        const f = (name: string): FieldLayout => field(st, name);
        const [familyF, sportF, dportF, saddrF, daddrF, saddr6F, daddr6F] = ['family', 'sport', 'dport', 'saddr', 'daddr', 'saddr_v6', 'daddr_v6'].map(f) as FieldLayout[];
        return (buf, off) => {
          const sk = pointerKey(buf.readUInt32LE(off + skF.offset + 4), buf.readUInt32LE(off + skF.offset));
          const v4 = readInt(buf, off, familyF!) === 2;
          const ep: Endpoint = {
            proto: 'TCP',
            localIp: v4 ? ipv4(buf, off + saddrF!.offset) : unmapped(ipv6(buf, off + saddr6F!.offset)),
            localPort: readInt(buf, off, sportF!),
            remoteIp: v4 ? ipv4(buf, off + daddrF!.offset) : unmapped(ipv6(buf, off + daddr6F!.offset)),
            remotePort: readInt(buf, off, dportF!),
          };
          owners.learn(sk, ep);
        };
      });
      session.filter('sock', 'inet_sock_set_state', 'protocol == 6');
      learning.push('sock:inet_sock_set_state');
    }
    const hasReasons = kfree.fields.has('reason');
    const syms = loadKernelSymbols();
    const toEpoch = epochMicrosConverter();
    session.start();

    const reasonName = (r: number) => reasons.get(r) ?? String(r);
    let lastScan = -Infinity;
    const scan = (force: boolean) => {
      const now = performance.now();
      if (!owners.unresolved || (!force && now - lastScan < SCAN_MS)) return;
      lastScan = now;
      scanOwners(owners);
    };
    const table = () => {
      scan(true);
      const rows = agg.snapshot(toEpoch(Number(process.hrtime.bigint())), (a) => syms.resolve(a), reasonName, (sk) => owners.owner(sk));
      owners.endInterval();
      return rows;
    };
    let failed = false;
    const poll = () => {
      if (failed) return;
      try {
        session.read();
        scan(false);
      } catch (e) {
        failed = true;
        sink.fail(e as Error);
      }
    };
    const fail = (e: Error) => sink.fail(e);
    session.every(POLL_MS, poll, fail);
    session.every(
      options.interval * 1000,
      () => {
        poll();
        sink.rows(table());
      },
      fail,
    );

    return {
      description: `tracefs tracepoint skb:kfree_skb${learning.length ? ` (sockets' owners through ${learning.join(', ')} and /proc)` : ''}, binary per-CPU ring buffers (${syms.size ? `${syms.size} kernel symbols` : 'no kernel symbols: addresses shown'}${hasReasons ? '' : ', no drop reasons on this kernel'})`,
      use: {
        facility: 'tracefs',
        lacks: [
          ...(syms.size ? [] : [{ feature: 'kernel symbols', fallback: 'addresses shown', reason: '/proc/kallsyms gave no symbols' }]),
          ...(hasReasons ? [] : [{ feature: 'drop reasons', fallback: 'no reason shown', reason: 'not on this kernel' }]),
          ...(hasSocket ? [] : [{ feature: 'the socket of a drop', fallback: 'no process named', reason: 'skb:kfree_skb has no rx_sk field on this kernel' }]),
        ],
      },
      counters: () => ({
        drops: agg.total,
        overruns: session.overruns(),
        shedKeys: agg.shedKeys,
        attributed: agg.attributed,
        unattributed: agg.unattributed,
        corrupt: session.corruptPages,
      }),
      stop: async () => {
        session.stopTimers();
        poll();
        session.close(); // keeps the final loss counts
        const last = table();
        if (last.length) sink.rows(last);
      },
    };
  });

const unmapped = (ip: string) => (ip.startsWith('::ffff:') && ip.includes('.') ? ip.slice(7) : ip);
