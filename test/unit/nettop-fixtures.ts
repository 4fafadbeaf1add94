// Real /proc text captured on the development machine (see nettop-proc-net.test.ts for what it holds).

import { readFileSync } from 'node:fs';
import { parseProcNet, type ProcSocket } from '../../core/procfs/proc-net.ts';

export const fixture = (name: string): string => readFileSync(new URL(`../fixtures/nettop/${name}`, import.meta.url), 'utf8');

export function fixtureSockets(): ProcSocket[] {
  return [
    ...parseProcNet(fixture('proc-net-tcp.txt'), 'TCP', 4).sockets,
    ...parseProcNet(fixture('proc-net-tcp6.txt'), 'TCP', 6).sockets,
    ...parseProcNet(fixture('proc-net-udp.txt'), 'UDP', 4).sockets,
    ...parseProcNet(fixture('proc-net-udp6.txt'), 'UDP', 6).sockets,
  ];
}
