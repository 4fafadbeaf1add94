// tcp_connections.stp's own layout, line by line, for the CLI's table format.

import type { SeedPrinter } from '../../core/probe.ts';
import { padL } from '../../core/format.ts';
import type { ConnRow, TcpConnectionsOptions } from './definition.ts';

const line = (uid: string | number, cmd: string, pid: string | number, port: string | number, ip: string) =>
  `${padL(uid, 6)} ${padL(cmd, 16)} ${padL(pid, 6)} ${padL(port, 6)} ${padL(ip, 16)}`;

// --lifetimes: the seed's columns, then what happened to the connection (as tcplife adds its own).
const WIDTHS = [6, 9, 8, 9, 9, 5, 5, 5, 8];
const life = (...cells: (string | number)[]) => cells.map((c, i) => ` ${padL(c, WIDTHS[i]!)}`).join('');

export const printTcpConnections = (options?: Partial<TcpConnectionsOptions>): SeedPrinter<ConnRow> =>
  options?.lifetimes
    ? {
        begin: () => [line('UID', 'CMD', 'PID', 'PORT', 'IP_SOURCE') + life('RPORT', 'DIR', 'MS', 'TX_B', 'RX_B', 'RETR', 'RST>', 'RST<', 'SRTT_US')],
        rows: (rows) =>
          rows.map(
            (r) =>
              line(r.uid, r.cmd, r.pid, r.port, r.ipSource) +
              life(r.remotePort, r.direction, r.durationMs, r.txBytes, r.rxBytes, r.retrans, r.resetsSent, r.resetsReceived, r.srttUs),
          ),
        end: () => [],
      }
    : {
        begin: () => [line('UID', 'CMD', 'PID', 'PORT', 'IP_SOURCE')],
        rows: (rows) => rows.map((r) => line(r.uid, r.cmd, r.pid, r.port, r.ipSource) + (r.direction === 'outbound' ? '  (outbound)' : '')),
        end: () => [],
      };
