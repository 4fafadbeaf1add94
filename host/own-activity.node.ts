// NetProbes' own activity: which processes and ports are NetProbes itself, so
// the window can label its own rows and hide them by default. The host knows
// its own PID; the collector, its supervisor and (Electron) the renderer and
// GPU processes are its descendants; a `serve` page's browser is found from the
// page's WebSocket: the socket whose local port is the client's port and whose
// peer is serve's port (/proc/net/tcp*), the process holding it (/proc/*/fd),
// and that browser's whole process tree (the topmost ancestor running the same
// executable, and everything under it). All read from /proc; nothing is trusted
// beyond a number.

import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { fdSocketInode, readSocketTables } from '../kernel/procfs/proc.node.ts';
import type { OwnActivity } from '../ipc/api.ts';

/** Every process's parent, from /proc/<pid>/stat. */
export function parentTable(proc = '/proc'): Map<number, number> {
  const parents = new Map<number, number>();
  for (const name of readdirSync(proc)) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`${proc}/${name}/stat`, 'utf8');
      // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so read after the last ')'.
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (Number.isInteger(ppid)) parents.set(Number(name), ppid);
    } catch {
      // gone since the listing
    }
  }
  return parents;
}

/** The roots and every process below them. */
export function descendants(parents: Map<number, number>, roots: Iterable<number>): Set<number> {
  const children = new Map<number, number[]>();
  for (const [pid, ppid] of parents) {
    const list = children.get(ppid);
    if (list) list.push(pid);
    else children.set(ppid, [pid]);
  }
  const out = new Set<number>();
  const todo = [...roots];
  while (todo.length) {
    const pid = todo.pop()!;
    if (out.has(pid)) continue;
    out.add(pid);
    for (const c of children.get(pid) ?? []) todo.push(c);
  }
  return out;
}

const exeOf = (pid: number, proc: string): string | null => {
  try {
    return readlinkSync(`${proc}/${pid}/exe`);
  } catch {
    return null;
  }
};

/** The topmost ancestor of `pid` that runs the same executable: a browser's main process from one of its helpers. */
export function sameExeRoot(parents: Map<number, number>, pid: number, proc = '/proc'): number {
  const exe = exeOf(pid, proc);
  let root = pid;
  for (let hops = 0; exe && hops < 64; hops++) {
    const parent = parents.get(root);
    if (!parent || parent <= 1 || exeOf(parent, proc) !== exe) break;
    root = parent;
  }
  return root;
}

/** The processes holding the client ends of TCP connections to `serverPort` from each of `clientPorts`. */
export function clientProcesses(serverPort: number, clientPorts: readonly number[], proc = '/proc'): number[] {
  if (!clientPorts.length) return [];
  const wanted = new Set(clientPorts);
  const inodes = new Set(
    readSocketTables(`${proc}/net`, (file) => file.startsWith('tcp'))
      .sockets.filter((s) => wanted.has(s.localPort) && s.remotePort === serverPort && s.inode)
      .map((s) => s.inode),
  );
  const holders: number[] = [];
  if (!inodes.size) return holders;
  for (const name of readdirSync(proc)) {
    if (!/^\d+$/.test(name)) continue;
    let fds: string[];
    try {
      fds = readdirSync(`${proc}/${name}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      const inode = fdSocketInode(Number(name), fd, proc);
      if (inode && inodes.has(inode)) {
        holders.push(Number(name));
        break;
      }
    }
  }
  return holders;
}

/** Who the window's clients are: serve's port and its clients' ports; null for Electron (its window is the host's child). */
export interface WindowClients {
  serverPort: number;
  clientPorts: number[];
}

/**
 * Keeps the list of NetProbes' own processes and ports up to date: every `everyMs` (processes come and go: a
 * collector restarts, a browser opens a renderer), calling `onChange` only when it changed.
 */
export class OwnActivityTracker {
  private clients: WindowClients | null = null;
  /** Client port → the browser processes found for it (the fd scan is done once per connection). */
  private readonly holders = new Map<number, number[]>();
  private current: OwnActivity = { pids: [], ports: [] };
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly onChange: (own: OwnActivity) => void,
    private readonly everyMs = 3000,
    private readonly proc = '/proc',
  ) {}

  get own(): OwnActivity {
    return this.current;
  }

  start(): void {
    if (this.timer) return;
    this.refresh();
    this.timer = setInterval(() => this.refresh(), this.everyMs).unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  setClients(clients: WindowClients | null): void {
    this.clients = clients;
    for (const port of this.holders.keys()) if (!clients?.clientPorts.includes(port)) this.holders.delete(port);
    this.refresh();
  }

  refresh(): void {
    let parents: Map<number, number>;
    try {
      parents = parentTable(this.proc);
    } catch {
      return;
    }
    const roots = [process.pid];
    const c = this.clients;
    if (c) {
      const unknown = c.clientPorts.filter((p) => !this.holders.get(p)?.length);
      if (unknown.length) {
        let found: number[] = [];
        try {
          found = clientProcesses(c.serverPort, unknown, this.proc);
        } catch {
          // /proc unreadable: the ports alone still mark the connection
        }
        // The whole browser: the helper that holds the socket, up to its main process, and all under it.
        const browsers = found.map((pid) => sameExeRoot(parents, pid, this.proc));
        for (const p of unknown) this.holders.set(p, browsers);
      }
      for (const list of this.holders.values()) roots.push(...list);
    }
    const pids = [...descendants(parents, roots)].sort((a, b) => a - b);
    const ports = c ? [c.serverPort] : [];
    const next: OwnActivity = { pids, ports };
    if (JSON.stringify(next) === JSON.stringify(this.current)) return;
    this.current = next;
    this.onChange(next);
  }
}
