// The connections tab: connections per second, counts per listening port and
// per remote address, and links from a connection to its packets and its process.
import { useMemo } from 'react';
import type { ConnRow } from './definition.ts';
import { Chart } from '../../renderer/ui/Chart.dom.tsx';
import { streamPoints, useTick } from '../../renderer/ui/store.dom.ts';
import type { PanelProps, ProbeView } from '../../renderer/ui/view.dom.ts';

function counts<K>(rows: Iterable<ConnRow>, key: (r: ConnRow) => K, hidden: ((r: object) => boolean) | null): [K, number][] {
  const m = new Map<K, number>();
  for (const r of rows) if (!hidden?.(r)) m.set(key(r), (m.get(key(r)) ?? 0) + 1);
  return [...m.entries()].sort((a, b) => b[1] - a[1]).slice(0, 8);
}

function ConnPanel({ store, names, find, hidden, running }: PanelProps<ConnRow>) {
  const rows = store.rows;
  // Once a second, not every frame: the summaries walk every row held.
  const second = useTick(1000);
  // eslint-disable-next-line react-hooks/exhaustive-deps -- the tick says when to count again
  const ports = useMemo(() => counts(rows, (r) => `${r.direction === 'outbound' ? 'to' : 'on'} ${r.port}`, hidden), [second, hidden]);
  // eslint-disable-next-line react-hooks/exhaustive-deps
  const peers = useMemo(() => counts(rows, (r) => r.ipSource, hidden), [second, hidden]);
  return (
    <div className="panel-row">
      <Chart title="New connections per second" points={streamPoints(store, !!hidden, running, second)} labels={['connections']} kind="count" unit="/s" />
      <table className="mini" aria-label="Connections per port">
        <thead>
          <tr>
            <th>Port</th>
            <th>Connections</th>
          </tr>
        </thead>
        <tbody>
          {ports.map(([p, n]) => (
            <tr key={p} onClick={() => find(`PORT=${p.split(' ')[1]}`)}>
              <td>{names.port(Number(p.split(' ')[1]))}</td>
              <td>{n}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <table className="mini" aria-label="Connections per remote address">
        <thead>
          <tr>
            <th>Remote address</th>
            <th>Connections</th>
          </tr>
        </thead>
        <tbody>
          {peers.map(([ip, n]) => (
            <tr key={ip} onClick={() => find(`IP_SOURCE=${ip}`)}>
              <td>{names.address(ip)}</td>
              <td>{n}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

export const tcpConnectionsView: ProbeView<ConnRow> = {
  Panel: ConnPanel,
  renderCell: (c, r, names) => (c.key === 'ipSource' ? names.address(r.ipSource) : c.key === 'port' ? names.port(r.port) : undefined),
  details: (r) => [['Connection', `${r.ipSource}:${r.remotePort} ${r.direction === 'outbound' ? '←' : '→'} local port ${r.port}`]],
  links: (r) => [
    { label: 'Packets of this connection', probe: 'tcpdump', options: { ifaces: [], filter: `tcp and host ${r.ipSource} and port ${r.remotePort}`, bothDirections: true } },
    ...(r.pid > 0
      ? [
          { label: 'Traffic of this process', probe: 'nettop' as const, find: `PID=${r.pid}` },
          { label: 'Socket calls of this process', probe: 'socket-trace' as const, options: { pid: r.pid } },
        ]
      : []),
  ],
};
