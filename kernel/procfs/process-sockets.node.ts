// The TCP and UDP sockets one process holds, from /proc/<pid>/fd and the socket
// tables of its own network namespace (/proc/<pid>/net): for the GUI's
// "packets of this process" link, which turns them into a capture filter.

import { readdirSync } from 'node:fs';
import { ProbeError } from '../../core/probe-error.ts';
import type { ProcSocket } from '../../core/procfs/proc-net.ts';
import { fdSocketInode, readSocketTables } from './proc.node.ts';

export function processSockets(pid: number, proc = '/proc'): ProcSocket[] {
  const inodes = new Set<number>();
  let fds: string[];
  try {
    fds = readdirSync(`${proc}/${pid}/fd`);
  } catch {
    throw new ProbeError('input', `no process ${pid} (it may have exited)`);
  }
  for (const fd of fds) {
    const inode = fdSocketInode(pid, fd, proc); // null: closed since the listing, or not a socket
    if (inode) inodes.add(inode);
  }
  if (!inodes.size) return [];
  return readSocketTables(`${proc}/${pid}/net`).sockets.filter((socket) => inodes.has(socket.inode));
}
