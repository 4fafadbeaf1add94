// Who a thread is: its process id, real uid and command, from /proc, cached
// (bounded, short-lived entries since tids are reused). A thread that is gone
// by the time its event is read falls back on tracefs's own records: the
// global saved_cmdlines (comm) and saved_tgids (tgid, with the instance's
// options/record-tgid on); its uid is then unknown (-1) and counted by callers.

import { readFileSync, readlinkSync } from 'node:fs';

export interface TaskInfo {
  readonly pid: number;
  readonly uid: number;
  readonly comm: string;
  /** False when the thread had exited and tracefs's records filled in. */
  readonly live: boolean;
}

const MAX_ENTRIES = 8192;
const TTL_MS = 5000;

export class TaskCache {
  private readonly cache = new Map<number, { info: TaskInfo; at: number }>();
  private saved: { at: number; comm: Map<number, string>; tgid: Map<number, number> } | null = null;

  constructor(private readonly tracefsRoot: string) {}

  get(tid: number): TaskInfo {
    const now = Date.now();
    const hit = this.cache.get(tid);
    if (hit && now - hit.at < TTL_MS) return hit.info;
    const info = this.read(tid) ?? this.fromTracefs(tid, now);
    if (this.cache.size >= MAX_ENTRIES) this.cache.clear();
    this.cache.set(tid, { info, at: now });
    return info;
  }

  private read(tid: number): TaskInfo | null {
    try {
      const status = readFileSync(`/proc/${tid}/status`, 'utf8');
      const tgid = Number(/^Tgid:\s*(\d+)/m.exec(status)?.[1] ?? tid);
      const uid = Number(/^Uid:\s*(\d+)/m.exec(status)?.[1] ?? -1);
      const comm = /^Name:\s*(.*)$/m.exec(status)?.[1] ?? '';
      return { pid: tgid, uid, comm, live: true };
    } catch {
      return null;
    }
  }

  private fromTracefs(tid: number, now: number): TaskInfo {
    if (!this.saved || now - this.saved.at > 1000) {
      const comm = new Map<number, string>();
      const tgid = new Map<number, number>();
      try {
        for (const line of readFileSync(`${this.tracefsRoot}/saved_cmdlines`, 'utf8').split('\n')) {
          const sp = line.indexOf(' ');
          if (sp > 0) comm.set(Number(line.slice(0, sp)), line.slice(sp + 1));
        }
        for (const line of readFileSync(`${this.tracefsRoot}/saved_tgids`, 'utf8').split('\n')) {
          const [a, b] = line.split(' ');
          if (a && b) tgid.set(Number(a), Number(b));
        }
      } catch {
        /* older kernels: no saved_tgids */
      }
      this.saved = { at: now, comm, tgid };
    }
    return { pid: this.saved.tgid.get(tid) ?? tid, uid: -1, comm: this.saved.comm.get(tid) ?? '<...>', live: false };
  }
}

/** The socket inode behind /proc/<pid>/fd/<fd>, or null. */
export function socketInode(pid: number, fd: number): number | null {
  try {
    const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

/** The local port of TCP socket `inode` in the network namespace of `pid` (/proc/<pid>/net/tcp, tcp6), or null. */
export function tcpLocalPort(pid: number, inode: number): number | null {
  for (const table of ['tcp', 'tcp6']) {
    let text: string;
    try {
      text = readFileSync(`/proc/${pid}/net/${table}`, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n')) {
      const cols = line.trim().split(/\s+/);
      if (cols[9] === String(inode)) {
        const port = cols[1]?.split(':')[1];
        return port ? parseInt(port, 16) : null;
      }
    }
  }
  return null;
}
