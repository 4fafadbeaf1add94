// The /proc readers every part of NetProbes shares: a process's status, the
// socket behind one of its fds, and a network namespace's socket tables. One
// place so each file is read and parsed one way (the parsers are pure, in
// core/procfs/proc-net.ts); the callers decide how often (nettop's scanner,
// tcp-connections' listener look-ups, task tracking, the GUI's process link).

import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { endianness } from 'node:os';
import { parseProcNet, parseStatus, socketInode, SOCKET_TABLES, type ProcSocket, type ProcStatus } from '../../core/procfs/proc-net.ts';

const LITTLE_ENDIAN = endianness() === 'LE';

/** /proc/<pid>/status parsed, or null when the process is gone (or the file says too little). */
export function readStatus(pid: number, proc = '/proc'): ProcStatus | null {
  try {
    return parseStatus(readFileSync(`${proc}/${pid}/status`, 'utf8'));
  } catch {
    return null;
  }
}

/** The inode of the socket behind /proc/<pid>/fd/<fd>, or null (not a socket, closed, or the process gone). */
export function fdSocketInode(pid: number, fd: number | string, proc = '/proc'): number | null {
  try {
    return socketInode(readlinkSync(`${proc}/${pid}/fd/${fd}`)) || null;
  } catch {
    return null;
  }
}

/**
 * Every TCP and UDP socket of the network namespace whose net/ directory is `netDir` (`/proc/net`, or
 * `/proc/<pid>/net` for another process's namespace). A table that cannot be read (tcp6/udp6 without IPv6) is
 * skipped; `only` limits the tables read.
 */
export function readSocketTables(netDir: string, only?: (file: string) => boolean): { sockets: ProcSocket[]; malformed: number } {
  const sockets: ProcSocket[] = [];
  let malformed = 0;
  for (const [file, proto, family] of SOCKET_TABLES) {
    if (only && !only(file)) continue;
    let text: string;
    try {
      text = readFileSync(`${netDir}/${file}`, 'utf8');
    } catch {
      continue;
    }
    const parsed = parseProcNet(text, proto, family, LITTLE_ENDIAN);
    malformed += parsed.malformed;
    for (const socket of parsed.sockets) sockets.push(socket);
  }
  return { sockets, malformed };
}

/** The local port of TCP socket `inode` in the network namespace of `pid` (/proc/<pid>/net/tcp, tcp6), or null. */
export function tcpLocalPort(pid: number, inode: number, proc = '/proc'): number | null {
  const { sockets } = readSocketTables(`${proc}/${pid}/net`, (file) => file.startsWith('tcp'));
  return sockets.find((socket) => socket.inode === inode)?.localPort ?? null;
}

/**
 * Which process holds each of the socket `inodes`: a walk of every /proc/<pid>/fd, inode → the LOWEST pid holding
 * it (/proc lists pids in ascending order, so the first holder found; usually the parent that created a shared
 * socket, and stable across walks). Costs a readdir and a readlink per fd of every process: callers rate-limit it.
 */
export function socketHolders(inodes: ReadonlySet<number>, proc = '/proc'): { holders: Map<number, number>; processes: number } {
  const holders = new Map<number, number>();
  let processes = 0;
  if (!inodes.size) return { holders, processes };
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
      if (inode && inodes.has(inode) && !holders.has(inode)) holders.set(inode, pid);
    }
  }
  return { holders, processes };
}
