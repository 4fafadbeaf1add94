// The per-process traffic tab: totals of the latest interval, the share of
// packets attributed, a throughput chart over time for the top processes (or
// the one selected), and links from a process to its connections and its
// socket calls.
import { useMemo, useState } from 'react';
import type { NettopRow } from './definition.ts';
import { Chart } from '../../renderer/ui/Chart.dom.tsx';
import type { PanelProps, ProbeView } from '../../renderer/ui/view.dom.ts';

const TOP = 5;
const procKey = (r: NettopRow) => `${r.pid} ${r.command}`;

function NettopPanel({ store, version }: PanelProps<NettopRow>) {
  const [chosen, setChosen] = useState('');
  const rows = store.rows;
  const history = store.history;
  const { x, series, procs } = useMemo(() => {
    const times = [...new Set(history.map((r) => r.time))].sort((a, b) => a - b);
    const index = new Map(times.map((t, i) => [t, i]));
    const totals = new Map<string, number>();
    for (const r of history) totals.set(procKey(r), (totals.get(procKey(r)) ?? 0) + r.xmitBytes + r.recvBytes);
    const procs = [...totals.entries()].sort((a, b) => b[1] - a[1]).map(([k]) => k);
    const shownProcs = chosen ? [chosen] : procs.slice(0, TOP);
    const values = shownProcs.map(() => new Array<number | null>(times.length).fill(null));
    for (const r of history) {
      const s = shownProcs.indexOf(procKey(r));
      if (s < 0) continue;
      const i = index.get(r.time)!;
      const seconds = i > 0 ? (times[i]! - times[i - 1]!) / 1e6 : 1;
      values[s]![i] = (values[s]![i] ?? 0) + (r.xmitBytes + r.recvBytes) / seconds / 1024;
    }
    return { x: times.map((t) => t / 1e6), series: shownProcs.map((label, i) => ({ label, values: values[i]! })), procs };
    // eslint-disable-next-line react-hooks/exhaustive-deps -- version says when history changed
  }, [version, chosen]);

  const sum = (k: keyof NettopRow) => rows.reduce((n, r) => n + (r[k] as number), 0);
  const c = store.counters;
  const frames = (c.attributed ?? 0) + (c.kernel ?? 0) + (c.unknown ?? 0);
  return (
    <div className="panel-row">
      <div className="totals" aria-label="Totals">
        <div>
          <b>{rows.length}</b> rows in the latest interval
        </div>
        <div>
          sent <b>{sum('xmitPk')}</b> pk / <b>{sum('xmitBytes')}</b> B
        </div>
        <div>
          received <b>{sum('recvPk')}</b> pk / <b>{sum('recvBytes')}</b> B
        </div>
        <div title="packets whose owning process was found, since start">
          attributed <b data-counter="attributedShare">{frames ? ((100 * (c.attributed ?? 0)) / frames).toFixed(1) : '–'}%</b>
        </div>
        <label>
          Chart{' '}
          <select aria-label="Process to chart" value={chosen} onChange={(e) => setChosen(e.target.value)}>
            <option value="">top {TOP} processes</option>
            {procs.map((p) => (
              <option key={p} value={p}>
                {p}
              </option>
            ))}
          </select>
        </label>
      </div>
      <Chart title="Throughput per process (KiB/s, sent + received)" x={x} series={series} unit="KiB/s" stepped />
    </div>
  );
}

export const nettopView: ProbeView<NettopRow> = {
  Panel: NettopPanel,
  details: (r) => [
    ['Packets', `${r.xmitPk + r.recvPk} (${r.xmitPk} sent, ${r.recvPk} received)`],
    ['Meaning', r.pid === 0 ? 'kernel: traffic no local socket owns (ARP, ICMP, closed ports, forwarded)' : r.pid === -1 ? 'unknown: a local socket should own it, but its owner was not found' : 'the process that owns the socket'],
  ],
  links: (r) =>
    r.pid > 0
      ? [
          { label: 'Connections of this process', probe: 'tcp-connections', find: `PID=${r.pid}`, options: { outbound: true } },
          { label: 'Socket calls of this process', probe: 'socket-trace', options: { pid: r.pid } },
          {
            label: 'Packets of this process',
            probe: 'tcpdump',
            prepare: async (api) => {
              const ports = await api.request({ type: 'processPorts', pid: r.pid });
              if (!ports.length) throw new Error(`process ${r.pid} holds no TCP or UDP sockets now`);
              const clause = (proto: string) => {
                const list = [...new Set(ports.filter((p) => p.proto === proto).map((p) => p.port))].slice(0, 32);
                return list.length ? `(${proto.toLowerCase()} and (${list.map((p) => `port ${p}`).join(' or ')}))` : null;
              };
              const filter = [clause('TCP'), clause('UDP')].filter(Boolean).join(' or ');
              return { label: 'Packets of this process', probe: 'tcpdump', options: { ifaces: [], filter, bothDirections: true } };
            },
          },
        ]
      : [],
};
