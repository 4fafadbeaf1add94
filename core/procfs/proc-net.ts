// Parsers for the /proc files that map a socket to its owner, as nethogs and
// bandwhich read them. Pure: text in, records out; no Node imports, so they are
// unit tested on real captured text (test/fixtures/nettop/).
//
//   /proc/net/{tcp,tcp6,udp,udp6}  one line per socket of the reader's network
//                                  namespace: addresses, state, uid, inode
//   /proc/<pid>/fd/<n>             a symlink "socket:[<inode>]" per open socket
//   /proc/<pid>/status             Name: (comm), Tgid: and Uid: (real, effective, ...)

import { ipv4, ipv6 } from '../packet.ts';

export type L4Proto = 'TCP' | 'UDP';

/** A process as rows name it: its id, real uid and command (comm, at most 15 bytes, as SystemTap's execname()). */
export interface Owner {
  readonly pid: number;
  readonly uid: number;
  readonly command: string;
  /** What its cgroup is to a user (a systemd unit, a container, a Flatpak or Snap app: core/procfs/cgroup.ts); absent when not known. */
  readonly cgroup?: string;
}

/** The socket tables of a network namespace: file name under net/, protocol, address family. */
export const SOCKET_TABLES: readonly (readonly [file: string, proto: L4Proto, family: 4 | 6])[] = [
  ['tcp', 'TCP', 4],
  ['tcp6', 'TCP', 6],
  ['udp', 'UDP', 4],
  ['udp6', 'UDP', 6],
];

/** Kernel TCP states as /proc/net/tcp prints them (include/net/tcp_states.h). UDP sockets show 7 (CLOSE) or 1 (connected). */
export const TcpState = {
  ESTABLISHED: 1,
  SYN_SENT: 2,
  SYN_RECV: 3,
  FIN_WAIT1: 4,
  FIN_WAIT2: 5,
  TIME_WAIT: 6,
  CLOSE: 7,
  CLOSE_WAIT: 8,
  LAST_ACK: 9,
  LISTEN: 10,
  CLOSING: 11,
  NEW_SYN_RECV: 12,
} as const;

export interface ProcSocket {
  proto: L4Proto;
  /** The table it came from: tcp/udp (4) or tcp6/udp6 (6). */
  family: 4 | 6;
  /** Text as packet.ts prints addresses; an IPv4-mapped address of a v6 socket is "::ffff:a.b.c.d". */
  localIp: string;
  localPort: number;
  remoteIp: string;
  remotePort: number;
  state: number;
  /** The socket's owner uid (sk_uid), even when no process holds it any more. */
  uid: number;
  /** 0 for sockets no file refers to: TIME_WAIT, request sockets, orphans after close(). */
  inode: number;
  /** Bytes in its receive queue when the table was read (rx_queue). */
  rxQueue?: number;
  /** The socket's own count of packets it dropped (sk_drops): UDP and raw tables have it, TCP's not. */
  drops?: number;
}

export interface ParsedTable {
  sockets: ProcSocket[];
  /** Lines that did not parse (never expected; counted rather than thrown). */
  malformed: number;
}

/**
 * Parses one /proc/net/{tcp,tcp6,udp,udp6} file. Addresses there are the
 * kernel's in-memory words printed with %08X, so their byte order is the
 * host's: `littleEndian` is true on x86 and arm64.
 */
export function parseProcNet(text: string, proto: L4Proto, family: 4 | 6, littleEndian = true): ParsedTable {
  const sockets: ProcSocket[] = [];
  let malformed = 0;
  const lines = text.split('\n');
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    if (!line.trim()) continue;
    const fields = line.trim().split(/\s+/);
    // sl local rem st tx:rx tr:when retrnsmt uid timeout inode ... (UDP: ref pointer drops)
    if (fields.length < 10) {
      malformed++;
      continue;
    }
    const local = parseEndpoint(fields[1]!, family, littleEndian);
    const remote = parseEndpoint(fields[2]!, family, littleEndian);
    const state = parseInt(fields[3]!, 16);
    const uid = Number(fields[7]);
    const inode = Number(fields[9]);
    if (!local || !remote || !Number.isInteger(state) || !Number.isInteger(uid) || !Number.isInteger(inode)) {
      malformed++;
      continue;
    }
    const rxQueue = parseInt(fields[4]!.slice(fields[4]!.indexOf(':') + 1), 16);
    const drops = proto === 'UDP' && fields.length >= 13 ? Number(fields[12]) : NaN;
    sockets.push({
      proto,
      family,
      localIp: local.ip,
      localPort: local.port,
      remoteIp: remote.ip,
      remotePort: remote.port,
      state,
      uid,
      inode,
      ...(Number.isInteger(rxQueue) ? { rxQueue } : {}),
      ...(Number.isInteger(drops) ? { drops } : {}),
    });
  }
  return { sockets, malformed };
}

const HEX = /^[0-9A-Fa-f]+$/;

function parseEndpoint(text: string, family: 4 | 6, littleEndian: boolean): { ip: string; port: number } | null {
  const colon = text.indexOf(':');
  if (colon < 0) return null;
  const addr = text.slice(0, colon);
  const portHex = text.slice(colon + 1);
  const want = family === 4 ? 8 : 32;
  if (addr.length !== want || !HEX.test(addr) || !HEX.test(portHex) || portHex.length > 4) return null;
  const bytes = new Uint8Array(want / 2);
  // Each 32-bit word was printed as a number: undo the host's byte order word by word.
  for (let w = 0; w < want / 8; w++) {
    for (let b = 0; b < 4; b++) {
      const src = littleEndian ? 3 - b : b;
      bytes[w * 4 + b] = parseInt(addr.slice(w * 8 + src * 2, w * 8 + src * 2 + 2), 16);
    }
  }
  return { ip: family === 4 ? ipv4(bytes, 0) : ipv6(bytes, 0), port: parseInt(portHex, 16) };
}

/** The inode of a /proc/<pid>/fd/<n> link target "socket:[12345]", or 0 for anything else. */
export function socketInode(link: string): number {
  if (!link.startsWith('socket:[') || !link.endsWith(']')) return 0;
  const n = Number(link.slice(8, -1));
  return Number.isInteger(n) && n > 0 ? n : 0;
}

export interface ProcStatus {
  /** comm, at most 15 bytes, as execname() in SystemTap. */
  command: string;
  /** Real uid, as SystemTap's uid(). */
  uid: number;
  /** The thread's process id (its own pid for a main thread). */
  tgid: number;
}

/** Name:, the real uid and Tgid: from /proc/<pid>/status; null if Name: or Uid: is missing. */
export function parseStatus(text: string): ProcStatus | null {
  let command: string | null = null;
  let uid: number | null = null;
  let tgid = -1;
  for (const line of text.split('\n')) {
    if (line.startsWith('Name:')) command = unescapeName(line.slice(5).replace(/^\t/, ''));
    else if (line.startsWith('Tgid:')) tgid = Number(line.slice(5).trim());
    else if (line.startsWith('Uid:')) {
      const real = Number(line.slice(4).trim().split(/\s+/)[0]);
      if (Number.isInteger(real)) uid = real;
      break; // Uid: comes after Name: and Tgid:
    }
  }
  return command !== null && uid !== null ? { command, uid, tgid: Number.isInteger(tgid) ? tgid : -1 } : null;
}

// The kernel escapes "\n" as "\\n" and "\\" as "\\\\" in Name: (proc_task_name, ESCAPE_SPACE|ESCAPE_SPECIAL).
function unescapeName(s: string): string {
  if (!s.includes('\\')) return s;
  return s.replace(/\\(n|t|\\)/g, (_, c: string) => (c === 'n' ? '\n' : c === 't' ? '\t' : '\\'));
}

/**
 * A network namespace's own addresses, from its /proc/<pid>/net/fib_trie (IPv4: each "/32 host LOCAL" leaf) and
 * net/if_inet6 (IPv6: the first field of each line), as packet.ts prints them. Loopback addresses are left out:
 * every namespace has them, they tell none apart.
 */
export function parseNamespaceAddresses(fibTrie: string, ifInet6: string): Set<string> {
  const out = new Set<string>();
  let last: string | null = null;
  for (const line of fibTrie.split('\n')) {
    const leaf = /\|-- (\d{1,3}(?:\.\d{1,3}){3})\s*$/.exec(line);
    if (leaf) last = leaf[1]!;
    else if (last && /^\s*\/32 host LOCAL\b/.test(line) && !last.startsWith('127.')) out.add(last);
  }
  const bytes = new Uint8Array(16);
  for (const line of ifInet6.split('\n')) {
    const hex = /^([0-9a-f]{32})\s/.exec(line)?.[1];
    if (!hex) continue;
    for (let i = 0; i < 16; i++) bytes[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
    const ip = ipv6(bytes, 0);
    if (ip !== '::1' && !ip.startsWith('fe80:')) out.add(ip);
  }
  return out;
}
