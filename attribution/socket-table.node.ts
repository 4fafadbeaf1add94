// Reads /proc into a socket snapshot: the sockets of this process's network
// namespace (/proc/net/{tcp,tcp6,udp,udp6}) and of every other namespace a
// process is in (/proc/<pid>/net/* of one process per namespace, with that
// namespace's addresses from net/fib_trie and net/if_inet6), which process
// holds each one (/proc/<pid>/fd: socket inodes are unique across namespaces),
// and each holder's uid, command (/proc/<pid>/status) and cgroup's name.
//
// The tables are read BEFORE the fd walk: a socket listed in the tables that
// still exists during the walk is found, so "listed but no holder" means the
// holder really let go (or exited) in between.
//
// One scan costs a readdir of /proc, a readdir and a readlink per fd of every
// process, and a status read per socket-holding process: a few ms on a quiet
// machine. Callers scan on demand (a packet whose socket is not in the last
// snapshot), rate-limited, and never per packet.

import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { parseNamespaceAddresses, type Owner, type ProcSocket } from '../core/procfs/proc-net.ts';
import { readSocketTables, readStatus, socketHolders } from '../kernel/procfs/proc.node.ts';
import { readCgroupName } from '../kernel/procfs/cgroup.node.ts';
import { NamespacedSnapshot } from './namespaces.ts';
import { SocketIndex } from './socket-index.ts';

/** Other network namespaces looked into per scan, at most (each costs four table reads and two small files). */
export const MAX_NAMESPACES = 256;

export interface ScanResult {
  index: NamespacedSnapshot;
  /** Date.now() when the scan began: packets captured before this were visible to it. */
  startedMs: number;
  /** How long the scan took, in ms. */
  tookMs: number;
  processes: number;
  malformed: number;
}

export function scanSockets(proc = '/proc'): ScanResult {
  const startedMs = Date.now();
  const t0 = performance.now();
  const own = readSocketTables(`${proc}/net`); // tcp6/udp6 are absent when IPv6 is disabled
  let malformed = own.malformed;

  // The processes, and one of each other network namespace (the lowest pid in it).
  const pids: string[] = [];
  const ownNs = readLink(`${proc}/self/ns/net`);
  const nsPid = new Map<string, string>();
  for (const name of readdirSync(proc)) {
    const c = name.charCodeAt(0);
    if (c < 48 || c > 57) continue;
    pids.push(name);
    const ns = readLink(`${proc}/${name}/ns/net`);
    if (ns && ns !== ownNs && !nsPid.has(ns) && nsPid.size < MAX_NAMESPACES) nsPid.set(ns, name);
  }
  const others: { sockets: ProcSocket[]; addresses: Set<string> }[] = [];
  for (const pid of nsPid.values()) {
    const tables = readSocketTables(`${proc}/${pid}/net`);
    malformed += tables.malformed;
    const addresses = parseNamespaceAddresses(readText(`${proc}/${pid}/net/fib_trie`), readText(`${proc}/${pid}/net/if_inet6`));
    if (tables.sockets.length && addresses.size) others.push({ sockets: tables.sockets, addresses });
  }

  const wanted = new Set<number>();
  for (const s of own.sockets) if (s.inode) wanted.add(s.inode);
  for (const ns of others) for (const s of ns.sockets) if (s.inode) wanted.add(s.inode);

  const { holders: holder, processes } = socketHolders(wanted, proc); // inode → lowest pid holding it

  const owners = new Map<number, Owner>();
  const byPid = new Map<number, Owner | null>();
  for (const [inode, pid] of holder) {
    let owner = byPid.get(pid);
    if (owner === undefined) {
      owner = readOwner(proc, pid);
      byPid.set(pid, owner);
    }
    if (owner) owners.set(inode, owner);
  }

  const index = new NamespacedSnapshot(
    new SocketIndex(own.sockets, owners, localAddresses()),
    others.map((ns) => ({ index: new SocketIndex(ns.sockets, owners, ns.addresses), addresses: ns.addresses })),
  );
  return { index, startedMs, tookMs: performance.now() - t0, processes, malformed };
}

function readLink(path: string): string | null {
  try {
    return readlinkSync(path);
  } catch {
    return null;
  }
}

function readText(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

function readOwner(proc: string, pid: number): Owner | null {
  const status = readStatus(pid, proc); // null: exited since the fd walk
  return status ? { pid, uid: status.uid, command: status.command, cgroup: readCgroupName(pid, proc) } : null;
}

/** This namespace's addresses, plus the IPv4 broadcast address of each subnet. */
export function localAddresses(): Set<string> {
  const out = new Set<string>();
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) {
      const ip = a.address.replace(/%.*$/, '');
      out.add(ip);
      if (a.family === 'IPv4' && a.cidr) {
        const bits = Number(a.cidr.split('/')[1]);
        if (bits > 0 && bits < 31) {
          const n = ip.split('.').reduce((acc, o) => (acc << 8) | Number(o), 0) >>> 0;
          const bcast = (n | (0xffffffff >>> bits)) >>> 0;
          out.add([24, 16, 8, 0].map((s) => (bcast >>> s) & 0xff).join('.'));
        }
      }
    }
  }
  return out;
}
