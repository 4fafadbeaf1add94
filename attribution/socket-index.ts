// One snapshot of the sockets of a network namespace and their owners, indexed
// for the question a packet asks: "which process owns the socket at this local
// (ip, port) talking to that remote (ip, port)?". Pure: built from parsed
// /proc text (proc-net.ts) and an inode → owner map, so it is unit tested
// without root. socket-table.node.ts reads /proc and builds these.
//
// Lookup order follows the kernel's own socket lookup:
//   1. the exact 4-tuple (TCP connections, connected UDP sockets);
//   2. a socket bound to the local address (TCP: listening only);
//   3. a socket bound to the wildcard address (0.0.0.0, or :: which also takes
//      IPv4 through IPv4-mapped addresses unless IPV6_V6ONLY is set — which
//      /proc does not show, so a v6 wildcard is assumed to take IPv4 too).
// IPv4-mapped IPv6 addresses (::ffff:a.b.c.d) of v6 sockets are indexed as the
// plain IPv4 address, so a v4 packet finds them.
//
// Shared sockets: a socket held by several processes (opened before fork(),
// passed over a Unix socket) is owned by the LOWEST pid holding it — usually
// the parent that created it — so the choice is stable across scans.
// SO_REUSEPORT groups (several sockets, one address) also go to the lowest pid.

import { TcpState, type L4Proto, type Owner, type ProcSocket } from '../core/procfs/proc-net.ts';
import type { FlowTuple } from './flow.ts';

export type { Owner };

export type Resolution =
  /** A process holds the socket. `via` says how it was found, for tests and debugging. */
  | { kind: 'process'; owner: Owner; inode: number; via: 'exact' | 'bound' | 'wildcard' | 'listener' }
  /**
   * A socket exists but no process holds it: closed by its process and finished
   * by the kernel (TIME_WAIT, FIN_WAIT, LAST_ACK orphans), or its holder exited
   * between the two reads of a scan. Its owner existed but is not known.
   */
  | { kind: 'orphan'; uid: number; state: number }
  /** Not a local endpoint: the packet was forwarded, or the address is not ours. */
  | { kind: 'foreign' }
  /** No socket at this endpoint in this snapshot. */
  | { kind: 'absent' };

interface Entry {
  inode: number;
  state: number;
  uid: number;
  owner: Owner | null;
}

const WILDCARD_4 = '0.0.0.0';
const WILDCARD_6 = '::';

/** "::ffff:a.b.c.d" → "a.b.c.d"; everything else unchanged. */
export function unmapIpv4(ip: string): string {
  return ip.startsWith('::ffff:') && ip.includes('.') ? ip.slice(7) : ip;
}

export class SocketIndex {
  private readonly exact = new Map<string, Entry>();
  private readonly bound = new Map<string, Entry>();
  private readonly inodes = new Set<number>();
  /** Number of sockets in the snapshot, for the UI. */
  readonly size: number;

  /**
   * @param sockets every socket of the namespace (tcp, tcp6, udp, udp6)
   * @param owners inode → owning process (lowest pid that holds it)
   * @param localAddrs the namespace's own addresses (loopback ranges are always local)
   */
  constructor(
    sockets: readonly ProcSocket[],
    owners: ReadonlyMap<number, Owner>,
    private readonly localAddrs: ReadonlySet<string> = new Set(),
  ) {
    this.size = sockets.length;
    for (const s of sockets) {
      const entry: Entry = { inode: s.inode, state: s.state, uid: s.uid, owner: s.inode ? (owners.get(s.inode) ?? null) : null };
      if (s.inode) this.inodes.add(s.inode);
      const lip = unmapIpv4(s.localIp);
      const connected = s.remotePort !== 0;
      if (connected) {
        put(this.exact, `${s.proto}|${lip}|${s.localPort}|${unmapIpv4(s.remoteIp)}|${s.remotePort}`, entry);
      } else if (s.proto === 'UDP' || s.state === TcpState.LISTEN) {
        // TCP sockets that are bound but neither listening nor connected receive nothing.
        put(this.bound, `${s.proto}|${lip}|${s.localPort}`, entry);
      }
    }
  }

  /** True if ip is one of this namespace's own addresses (loopback included). */
  ownsAddress(ip: string): boolean {
    const a = unmapIpv4(ip);
    return this.localAddrs.has(a) || a.startsWith('127.') || a === '::1';
  }

  /** True while the socket with this inode exists. */
  has(inode: number): boolean {
    return this.inodes.has(inode);
  }

  /**
   * Who owns the local endpoint (localIp, localPort) of a flow's packet
   * exchanged with (remoteIp, remotePort)? Addresses as packet.ts prints them.
   * `incoming` marks the receiving side (broadcast and multicast addresses are
   * then local too).
   */
  resolve(flow: FlowTuple, incoming: boolean): Resolution {
    const { proto, localPort, remotePort } = flow;
    const lip = unmapIpv4(flow.localIp);
    const rip = unmapIpv4(flow.remoteIp);
    const e = this.exact.get(`${proto}|${lip}|${localPort}|${rip}|${remotePort}`);
    let orphan: Resolution | null = null;
    if (e) {
      if (e.owner) return { kind: 'process', owner: e.owner, inode: e.inode, via: 'exact' };
      orphan = { kind: 'orphan', uid: e.uid, state: e.state };
      // UDP: a connected socket nobody holds. TCP: a request socket (handshake in progress), or a
      // connection closed by its process (TIME_WAIT, FIN_WAIT, LAST_ACK): if a listener owns the local
      // port, the connection was accepted from it, so the listener's process is the owner.
      if (proto === 'UDP') return orphan;
    }
    const b = this.bound.get(`${proto}|${lip}|${localPort}`);
    if (b) return this.fromBound(b, proto, 'bound', orphan);
    if (!orphan && !this.isLocal(lip, incoming)) return { kind: 'foreign' };
    const v4 = lip.includes('.');
    const w = (v4 ? this.bound.get(`${proto}|${WILDCARD_4}|${localPort}`) : undefined) ?? this.bound.get(`${proto}|${WILDCARD_6}|${localPort}`);
    if (w) return this.fromBound(w, proto, 'wildcard', orphan);
    return orphan ?? { kind: 'absent' };
  }

  private fromBound(b: Entry, proto: L4Proto, via: 'bound' | 'wildcard', orphan: Resolution | null): Resolution {
    if (b.owner) return { kind: 'process', owner: b.owner, inode: b.inode, via: proto === 'TCP' ? 'listener' : via };
    return orphan ?? { kind: 'orphan', uid: b.uid, state: b.state };
  }

  private isLocal(ip: string, incoming: boolean): boolean {
    if (this.localAddrs.has(ip)) return true;
    if (ip.startsWith('127.') || ip === '::1') return true;
    if (!incoming) return false;
    // Multicast and broadcast reach sockets bound to the wildcard.
    if (ip.includes('.')) {
      const first = Number(ip.slice(0, ip.indexOf('.')));
      return (first >= 224 && first <= 239) || ip === '255.255.255.255';
    }
    return ip.startsWith('ff');
  }
}

/** Keeps the entry with an owner, then the lowest pid: a stable choice across scans. */
function put(map: Map<string, Entry>, key: string, entry: Entry): void {
  const old = map.get(key);
  if (!old || better(entry, old)) map.set(key, entry);
}

function better(a: Entry, b: Entry): boolean {
  if (!a.owner) return false;
  if (!b.owner) return true;
  return a.owner.pid < b.owner.pid;
}
