// The sockets of every network namespace in one snapshot: this one's first; a
// flow whose local address is not ours but another namespace's (a container
// with its own netns, behind a veth or bridge we capture on) is looked up in
// that namespace's socket table (/proc/<pid>/net/* of a process inside it),
// so its packets go to the container's process, not to kernel or unknown.
// An address held by several namespaces goes to the first found. Pure.

import type { SocketSnapshot } from './flow-cache.ts';
import type { FlowTuple } from './flow.ts';
import { unmapIpv4, type Resolution, type SocketIndex } from './socket-index.ts';

export interface OtherNamespace {
  index: SocketIndex;
  /** Its own addresses (not loopback). */
  addresses: ReadonlySet<string>;
}

export class NamespacedSnapshot implements SocketSnapshot {
  private readonly byAddress = new Map<string, SocketIndex>();

  constructor(
    private readonly own: SocketIndex,
    private readonly others: readonly OtherNamespace[],
  ) {
    for (const ns of others) for (const ip of ns.addresses) if (!this.byAddress.has(ip)) this.byAddress.set(ip, ns.index);
  }

  get namespaces(): number {
    return 1 + this.others.length;
  }

  resolve(flow: FlowTuple, incoming: boolean): Resolution {
    const r = this.own.resolve(flow, incoming);
    if (r.kind !== 'foreign') return r;
    return this.byAddress.get(unmapIpv4(flow.localIp))?.resolve(flow, incoming) ?? r;
  }

  has(inode: number): boolean {
    return this.own.has(inode) || this.others.some((ns) => ns.index.has(inode));
  }

  elsewhere(ip: string): boolean {
    return this.byAddress.has(unmapIpv4(ip));
  }

  /** True if ip is ours or another namespace's we read: a packet's peer at any other address is a remote host's. */
  knows(ip: string): boolean {
    return this.own.ownsAddress(ip) || this.byAddress.has(unmapIpv4(ip));
  }
}
