// Which process owns the socket a packet was dropped at. kfree_skb gives the
// socket only as a kernel address (rx_sk); /proc/net/{udp,tcp} prints socket
// addresses hashed (%pK with kptr_restrict 0), so the address is matched to a
// socket through tracepoints that carry both it and the socket's ports:
// udp:udp_fail_queue_rcv_skb, which the kernel emits just before the kfree_skb
// of the same packet on the same CPU (receive buffer full, UDP memory), and
// sock:inet_sock_set_state for TCP. The endpoint then finds the socket in
// /proc/net (its inode, its queue), and the inode the process holding it
// (/proc/<pid>/fd, the walk nettop uses: kernel/procfs/proc.node.ts).
// Pure: the /proc reads come in as arguments, so it is unit tested.

import type { L4Proto, ProcSocket } from '../../core/procfs/proc-net.ts';
import type { DropOwner } from './aggregate.ts';

/** A socket's endpoint as a tracepoint saw it; remotePort 0 when not connected or not known. */
export interface Endpoint {
  readonly proto: L4Proto;
  readonly localIp: string;
  readonly localPort: number;
  readonly remoteIp: string;
  readonly remotePort: number;
}

interface Known {
  ep: Endpoint;
  /** Told from /proc; null until then, or when no process holds it. */
  owner: DropOwner | null;
  /** The socket's inode, once found in /proc/net. */
  inode: number;
}

/** Sockets remembered at most; the oldest go first (a freed socket's address is reused by another one). */
export const MAX_SOCKETS = 8192;

const unmap = (ip: string) => (ip.startsWith('::ffff:') && ip.includes('.') ? ip.slice(7) : ip);

export class SocketOwners {
  private readonly known = new Map<number, Known>();
  /** Sockets closed since the last table: still named for the drops counted before they went. */
  private gone = new Map<number, Known>();
  /** Sockets learnt whose owner is not told yet. */
  private pending = 0;

  has(sk: number): boolean {
    return this.known.has(sk);
  }

  /** Socket `sk` (a pointerKey) has endpoint `ep`; a different endpoint than before means the address was reused. */
  learn(sk: number, ep: Endpoint): void {
    const had = this.known.get(sk);
    if (had && sameEndpoint(had.ep, ep)) return;
    if (had) {
      this.known.delete(sk);
      if (!had.owner) this.pending--;
    } else if (this.known.size >= MAX_SOCKETS) {
      const [oldest, k] = this.known.entries().next().value!;
      this.known.delete(oldest);
      if (!k.owner) this.pending--;
    }
    this.known.set(sk, { ep, owner: null, inode: 0 });
    this.pending++;
  }

  /** The owner of socket `sk`, when told. */
  owner(sk: number): DropOwner | null {
    return (this.known.get(sk) ?? this.gone.get(sk))?.owner ?? null;
  }

  /** A table was made: the sockets closed before it are forgotten. */
  endInterval(): void {
    this.gone = new Map();
  }

  /** Some sockets drops were seen at wait for their owner. */
  get unresolved(): number {
    return this.pending;
  }

  /**
   * Tells the owners of the sockets that wait for one: `sockets` are the namespace's socket tables, `holders`
   * the process holding each inode asked for (or none).
   */
  resolve(sockets: readonly ProcSocket[], holders: (inodes: ReadonlySet<number>) => Map<number, { pid: number; command: string }>): void {
    if (!this.pending) return;
    // Sockets gone from the tables are forgotten: their address may be another socket's next.
    const present = new Set<number>();
    for (const s of sockets) if (s.inode) present.add(s.inode);
    for (const [sk, k] of this.known) {
      if (k.owner && !present.has(k.inode) && this.gone.size < MAX_SOCKETS) {
        this.known.delete(sk);
        this.gone.set(sk, k);
      }
    }
    const match = new Map<Known, ProcSocket>();
    const exact = new Map<string, ProcSocket>();
    const bound = new Map<string, ProcSocket>();
    for (const s of sockets) {
      if (!s.inode) continue;
      const local = `${s.proto}|${unmap(s.localIp)}|${s.localPort}`;
      if (s.remotePort) exact.set(`${local}|${unmap(s.remoteIp)}|${s.remotePort}`, s);
      else if (!bound.has(local)) bound.set(local, s);
    }
    for (const k of this.known.values()) {
      if (k.owner) continue;
      const { proto, localIp, localPort, remoteIp, remotePort } = k.ep;
      const local = `${proto}|${unmap(localIp)}|${localPort}`;
      const s =
        (remotePort ? exact.get(`${local}|${unmap(remoteIp)}|${remotePort}`) : undefined) ??
        bound.get(local) ??
        bound.get(`${proto}|${localIp.includes('.') ? '0.0.0.0' : '::'}|${localPort}`) ??
        bound.get(`${proto}|::|${localPort}`);
      if (s) match.set(k, s);
    }
    if (!match.size) return;
    const owners = holders(new Set([...match.values()].map((s) => s.inode)));
    for (const [k, s] of match) {
      const o = owners.get(s.inode);
      if (!o) continue;
      k.owner = { pid: o.pid, command: o.command, ...(s.rxQueue ? { queuedBytes: s.rxQueue } : {}) };
      k.inode = s.inode;
      this.pending--;
    }
  }
}

function sameEndpoint(a: Endpoint, b: Endpoint): boolean {
  return a.proto === b.proto && a.localPort === b.localPort && a.localIp === b.localIp && a.remotePort === b.remotePort && a.remoteIp === b.remoteIp;
}
