// tcp_connections.stp's own layout, line by line, for the CLI's table format.

import type { SeedPrinter } from '../../core/probe.ts';
import { padL } from '../../core/format.ts';
import type { ConnRow } from './definition.ts';

const line = (uid: string | number, cmd: string, pid: string | number, port: string | number, ip: string) =>
  `${padL(uid, 6)} ${padL(cmd, 16)} ${padL(pid, 6)} ${padL(port, 6)} ${padL(ip, 16)}`;

export const printTcpConnections = (): SeedPrinter<ConnRow> => ({
  begin: () => [line('UID', 'CMD', 'PID', 'PORT', 'IP_SOURCE')],
  rows: (rows) => rows.map((r) => line(r.uid, r.cmd, r.pid, r.port, r.ipSource) + (r.direction === 'outbound' ? '  (outbound)' : '')),
  end: () => [],
});
