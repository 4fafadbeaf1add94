// The drops tab: drops over time by location, by reason and by process, and for
// a location its reasons (a click on a row, or on a location in the legend
// list); a process's drops a click away. Each row's reason in plain words is
// its EXPLANATION column, in the details pane.
import { useMemo } from 'react';
import type { DropRow } from './definition.ts';
import { Chart } from '../../renderer/ui/Chart.dom.tsx';
import type { PanelProps, ProbeView } from '../../renderer/ui/view.dom.ts';

const TOP = 6;

/** The process a row's drops belong to, as a series label; empty for drops at no local socket. */
const processOf = (r: DropRow) => (r.pid ? `${r.command} (${r.pid})` : r.command === '?' ? 'unknown process' : '');

function bySeries(history: DropRow[], keyOf: (r: DropRow) => string) {
  const times = [...new Set(history.map((r) => r.time))].sort((a, b) => a - b);
  const index = new Map(times.map((t, i) => [t, i]));
  const totals = new Map<string, number>();
  for (const r of history) {
    const k = keyOf(r);
    if (k) totals.set(k, (totals.get(k) ?? 0) + r.count);
  }
  const top = [...totals.entries()].sort((a, b) => b[1] - a[1]).slice(0, TOP).map(([k]) => k);
  const values = top.map(() => new Array<number | null>(times.length).fill(0));
  for (const r of history) {
    const s = top.indexOf(keyOf(r));
    const i = index.get(r.time)!;
    const seconds = i > 0 ? (times[i]! - times[i - 1]!) / 1e6 : 1;
    if (s >= 0) values[s]![i] = (values[s]![i] ?? 0) + r.count / seconds;
  }
  return { x: times.map((t) => t / 1e6), series: top.map((label, i) => ({ label, values: values[i]! })), top };
}

function DropPanel({ store, version, find }: PanelProps<DropRow>) {
  const history = store.history;
  // eslint-disable-next-line react-hooks/exhaustive-deps -- version says when history changed
  const byLocation = useMemo(() => bySeries(history, (r) => r.location), [version]);
  // eslint-disable-next-line react-hooks/exhaustive-deps
  const byReason = useMemo(() => bySeries(history, (r) => r.reason), [version]);
  // eslint-disable-next-line react-hooks/exhaustive-deps
  const byProcess = useMemo(() => bySeries(history, processOf), [version]);
  return (
    <div className="panel-row">
      <Chart title="Drops per second by location" x={byLocation.x} series={byLocation.series} unit="drops/s" stepped />
      <Chart title="Drops per second by reason" x={byReason.x} series={byReason.series} unit="drops/s" stepped />
      <Chart title="Drops per second by process (its socket's)" x={byProcess.x} series={byProcess.series} unit="drops/s" stepped />
      <div className="chips" aria-label="Locations">
        {byLocation.top.map((l) => (
          <button key={l} onClick={() => find(`LOCATION=${l}`)} title="Show this location's rows, one per reason">
            {l}
          </button>
        ))}
      </div>
      <div className="chips" role="group" aria-label="Processes losing packets">
        {byProcess.top.map((p) => {
          const pid = /\((\d+)\)$/.exec(p)?.[1];
          return (
            <button key={p} onClick={() => find(pid ? `PID=${pid}` : 'COMMAND=?')} title="Show this process's drops">
              {p}
            </button>
          );
        })}
      </div>
    </div>
  );
}

/** The location's reasons in the same interval's table as the row. */
function reasonsAt(rows: readonly DropRow[], row: DropRow): string {
  const same = rows.filter((r) => r.location === row.location && r.time === row.time).sort((a, b) => b.count - a.count);
  return same.map((r) => `${r.reason || 'no reason'} (${r.protocol || '?'}): ${r.count}`).join('; ');
}

export const dropwatchView: ProbeView<DropRow> = {
  Panel: DropPanel,
  details: (r, rows) => [['Reasons at this location', reasonsAt(rows, r)]],
  links: (r) => [
    { label: 'Packets of this protocol, both directions', probe: 'tcpdump', options: { ifaces: [], filter: r.protocol === 'IPv6' ? 'ip6' : r.protocol === 'IPv4' ? 'ip' : '', bothDirections: true } },
    ...(r.pid ? [{ label: 'Traffic of this process', probe: 'nettop' as const, find: `PID=${r.pid}` }] : []),
  ],
};
