// The TCP and UDP sockets one process holds, from /proc/<pid>/fd and the socket
// tables of its own network namespace (/proc/<pid>/net): for the GUI's
// "packets of this process" link, which turns them into a capture filter.

import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { endianness } from 'node:os';
import { ProbeError } from '../../core/probe-error.ts';
import { parseProcNet, socketInode, type L4Proto, type ProcSocket } from '../../core/procfs/proc-net.ts';

const TABLES: readonly [string, L4Proto, 4 | 6][] = [
  ['tcp', 'TCP', 4],
  ['tcp6', 'TCP', 6],
  ['udp', 'UDP', 4],
  ['udp6', 'UDP', 6],
];

export function processSockets(pid: number, proc = '/proc'): ProcSocket[] {
  const inodes = new Set<number>();
  let fds: string[];
  try {
    fds = readdirSync(`${proc}/${pid}/fd`);
  } catch {
    throw new ProbeError('input', `no process ${pid} (it may have exited)`);
  }
  for (const fd of fds) {
    try {
      const inode = socketInode(readlinkSync(`${proc}/${pid}/fd/${fd}`));
      if (inode) inodes.add(inode);
    } catch {
      // closed since the listing
    }
  }
  const out: ProcSocket[] = [];
  if (!inodes.size) return out;
  for (const [file, proto, family] of TABLES) {
    let text: string;
    try {
      text = readFileSync(`${proc}/${pid}/net/${file}`, 'utf8');
    } catch {
      continue;
    }
    for (const s of parseProcNet(text, proto, family, endianness() === 'LE').sockets) if (inodes.has(s.inode)) out.push(s);
  }
  return out;
}
