// The per-process traffic tab: totals of the latest interval, the share of
// packets attributed, a throughput chart over time for the top processes (or
// the one selected), and links from a process to its connections and its
// socket calls.
import { useMemo, useState } from 'react';
import type { NettopRow } from './definition.ts';
import { Chart } from '../../renderer/ui/Chart.dom.tsx';
import { humanBytes, humanCount, perTable } from '../../renderer/ui/series.ts';
import { useTick } from '../../renderer/ui/store.dom.ts';
import type { PanelProps, ProbeView } from '../../renderer/ui/view.dom.ts';

const TOP = 5;
const procKey = (r: NettopRow) => `${r.command} (${r.pid})`;

function NettopPanel({ store, version, hidden }: PanelProps<NettopRow>) {
  const [chosen, setChosen] = useState('');
  const rows = store.rows;
  const history = store.history;
  const second = useTick(1000);
  const { points, labels, procs } = useMemo(() => {
    const totals = new Map<string, number>();
    for (const r of history) if (!hidden?.(r)) totals.set(procKey(r), (totals.get(procKey(r)) ?? 0) + r.xmitBytes + r.recvBytes);
    const procs = [...totals.entries()].sort((a, b) => b[1] - a[1]).map(([k]) => k);
    const labels = chosen ? [chosen] : procs.slice(0, TOP);
    // Bytes per second over each table's interval (the interval option, 1 s by default).
    const times = store.tableTimes;
    const secondsOf = new Map(times.map((t, i) => [t, i > 0 ? (t - times[i - 1]!) / 1e6 : 1]));
    const points = perTable(times, history, labels, (r) => r.time, (r) => (hidden?.(r) ? null : [procKey(r), (r.xmitBytes + r.recvBytes) / (secondsOf.get(r.time) ?? 1)]), second);
    return { points, labels, procs };
    // eslint-disable-next-line react-hooks/exhaustive-deps -- version says when history changed
  }, [version, chosen, hidden, second]);

  let sentPk = 0, recvPk = 0, sentB = 0, recvB = 0;
  for (const r of rows) {
    if (hidden?.(r)) continue;
    sentPk += r.xmitPk;
    recvPk += r.recvPk;
    sentB += r.xmitBytes;
    recvB += r.recvBytes;
  }
  const c = store.counters;
  const frames = (c.attributed ?? 0) + (c.kernel ?? 0) + (c.unknown ?? 0);
  return (
    <div className="panel-row">
      <div className="totals" aria-label="Totals">
        <div>
          Latest interval: sent <b title={`${sentB} bytes`}>{humanBytes(sentB)}</b> in <b>{humanCount(sentPk)}</b> pk, received <b title={`${recvB} bytes`}>{humanBytes(recvB)}</b> in <b>{humanCount(recvPk)}</b> pk
        </div>
        <div title="packets whose owning process was found, since start">
          attributed to a process: <b data-counter="attributedShare">{frames ? ((100 * (c.attributed ?? 0)) / frames).toFixed(1) : '–'}%</b>
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
      <Chart title="Throughput per process (sent + received)" points={points} labels={labels} kind="bytes" unit="/s" align="end" />
    </div>
  );
}

export const nettopView = {
  Panel: NettopPanel,
  // Beside the seed's latest interval: each process on each device since start, with its trend.
  sinceStart: {
    label: 'Cumulative',
    key: (r) => `${r.pid}\u0000${r.dev}\u0000${r.command}`,
    add: (t, r) => {
      const xmitBytes = (t?.xmitBytes ?? 0) + r.xmitBytes;
      const recvBytes = (t?.recvBytes ?? 0) + r.recvBytes;
      return { ...r, xmitPk: (t?.xmitPk ?? 0) + r.xmitPk, recvPk: (t?.recvPk ?? 0) + r.recvPk, xmitBytes, recvBytes, xmitKb: Math.floor(xmitBytes / 1024), recvKb: Math.floor(recvBytes / 1024) };
    },
    weight: (r) => r.xmitBytes + r.recvBytes,
    unit: 'bytes',
  },
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
} satisfies ProbeView<NettopRow>;
