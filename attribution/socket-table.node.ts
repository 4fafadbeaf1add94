// Reads /proc into a SocketIndex: the sockets of this process's network
// namespace (/proc/net/{tcp,tcp6,udp,udp6}), which process holds each one
// (/proc/<pid>/fd), and each holder's uid and command (/proc/<pid>/status).
//
// The tables are read BEFORE the fd walk: a socket listed in the tables that
// still exists during the walk is found, so "listed but no holder" means the
// holder really let go (or exited) in between.
//
// One scan costs a readdir of /proc, a readdir and a readlink per fd of every
// process, and a status read per socket-holding process: a few ms on a quiet
// machine. Callers scan on demand (a packet whose socket is not in the last
// snapshot), rate-limited, and never per packet.

import { readdirSync, readlinkSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { socketInode, type Owner } from '../core/procfs/proc-net.ts';
import { readSocketTables, readStatus } from '../kernel/procfs/proc.node.ts';
import { SocketIndex } from './socket-index.ts';

export interface ScanResult {
  index: SocketIndex;
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
  const { sockets, malformed } = readSocketTables(`${proc}/net`); // tcp6/udp6 are absent when IPv6 is disabled
  const wanted = new Set<number>();
  for (const s of sockets) if (s.inode) wanted.add(s.inode);

  // inode → lowest pid holding it. /proc lists pids in ascending order, so the first holder found is the lowest.
  const holder = new Map<number, number>();
  let processes = 0;
  if (wanted.size) {
    for (const name of readdirSync(proc)) {
      const c = name.charCodeAt(0);
      if (c < 48 || c > 57) continue;
      const pid = Number(name);
      processes++;
      let fds: string[];
      try {
        fds = readdirSync(`${proc}/${name}/fd`);
      } catch {
        continue; // exited, or a kernel thread without an fd table
      }
      for (const fd of fds) {
        let link: string;
        try {
          link = readlinkSync(`${proc}/${name}/fd/${fd}`);
        } catch {
          continue;
        }
        const inode = socketInode(link);
        if (inode && wanted.has(inode) && !holder.has(inode)) holder.set(inode, pid);
      }
    }
  }

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

  const index = new SocketIndex(sockets, owners, localAddresses());
  return { index, startedMs, tookMs: performance.now() - t0, processes, malformed };
}

function readOwner(proc: string, pid: number): Owner | null {
  const status = readStatus(pid, proc); // null: exited since the fd walk
  return status ? { pid, uid: status.uid, command: status.command } : null;
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
