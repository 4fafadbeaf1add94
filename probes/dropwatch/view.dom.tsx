// The drops tab: drops over time by location, by reason and by process, and for
// a location its reasons (a click on a row, or on a location in the legend
// list); a process's drops a click away. Each row's reason in plain words is
// its EXPLANATION column, in the details pane.
import { useMemo } from 'react';
import type { DropRow } from './definition.ts';
import { Chart } from '../../renderer/ui/Chart.dom.tsx';
import { perTable } from '../../renderer/ui/series.ts';
import { useTick, type ProbeStore } from '../../renderer/ui/store.dom.ts';
import type { RowList } from '../../renderer/ui/rows.ts';
import type { PanelProps, ProbeView } from '../../renderer/ui/view.dom.ts';

const TOP = 6;

/** The process a row's drops belong to, as a series label; empty for drops at no local socket. */
const processOf = (r: DropRow) => (r.pid ? `${r.command} (${r.pid})` : r.command === '?' ? 'unknown process' : '');

/** Drops per second in each table, by location, reason or process: a table without drops is a zero. */
function bySeries(store: ProbeStore<DropRow>, keyOf: (r: DropRow) => string, now: number, opts: { skipEmpty?: boolean } = {}) {
  const totals = new Map<string, number>();
  for (const r of store.history) {
    const k = keyOf(r);
    if (k || !opts.skipEmpty) totals.set(k, (totals.get(k) ?? 0) + r.count);
  }
  const top = [...totals.entries()].sort((a, b) => b[1] - a[1]).slice(0, TOP).map(([k]) => k);
  const times = store.tableTimes;
  const secondsOf = new Map(times.map((t, i) => [t, i > 0 ? (t - times[i - 1]!) / 1e6 : 1]));
  const points = perTable(times, store.history, top, (r) => r.time, (r) => [keyOf(r), r.count / (secondsOf.get(r.time) ?? 1)], now);
  return { points, top: top.map((l) => l || 'no reason') };
}

function DropPanel({ store, version, find }: PanelProps<DropRow>) {
  const second = useTick(1000);
  // eslint-disable-next-line react-hooks/exhaustive-deps -- version says when history changed
  const byLocation = useMemo(() => bySeries(store, (r) => r.location, second), [version, second]);
  // eslint-disable-next-line react-hooks/exhaustive-deps
  const byReason = useMemo(() => bySeries(store, (r) => r.reason, second), [version, second]);
  // eslint-disable-next-line react-hooks/exhaustive-deps
  const byProcess = useMemo(() => bySeries(store, processOf, second, { skipEmpty: true }), [version, second]);
  return (
    <div className="panel-row">
      <Chart title="Drops per second by location" points={byLocation.points} labels={byLocation.top} kind="count" unit="/s" align="end" />
      <Chart title="Drops per second by reason" points={byReason.points} labels={byReason.top} kind="count" unit="/s" align="end" />
      <Chart title="Drops per second by process (its socket's)" points={byProcess.points} labels={byProcess.top} kind="count" unit="/s" align="end" />
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

/** Sites as "sym+0x1/0x2 ×N, ..." summed per site. */
function mergeSites(a: string, b: string): string {
  const m = new Map<string, number>();
  for (const part of `${a}, ${b}`.split(', ')) {
    const x = / ×(\d+)$/.exec(part);
    if (!x) continue;
    const site = part.slice(0, x.index);
    m.set(site, (m.get(site) ?? 0) + Number(x[1]));
  }
  return [...m.entries()].sort((p, q) => q[1] - p[1]).map(([site, n]) => `${site} ×${n}`).join(', ');
}

/** The location's reasons in the same interval's table as the row. */
function reasonsAt(rows: RowList<DropRow>, row: DropRow, summed: boolean): string {
  const same: DropRow[] = [];
  for (let i = 0; i < rows.length; i++) {
    const r = rows.at(i)!;
    if (r.location === row.location && (summed || r.time === row.time)) same.push(r);
  }
  same.sort((a, b) => b.count - a.count);
  return same.map((r) => `${r.reason || 'no reason'} (${r.protocol || '?'}): ${r.count}`).join('; ');
}

export const dropwatchView = {
  Panel: DropPanel,
  details: (r, rows, summed) => [[summed ? 'Reasons at this location, since start' : 'Reasons at this location', reasonsAt(rows, r, summed)]],
  // The table keeps every location and reason seen since start, with what the latest interval added.
  sinceStart: {
    label: 'Cumulative',
    initially: true,
    key: (r) => `${r.location}\u0000${r.reason}\u0000${r.protocol}\u0000${r.pid}\u0000${r.command}`,
    add: (t, r) => ({ ...r, count: (t?.count ?? 0) + r.count, sites: mergeSites(t?.sites ?? '', r.sites) }),
    weight: (r) => r.count,
    unit: 'drops',
  },
  links: (r) => [
    { label: 'Packets of this protocol, both directions', probe: 'tcpdump', options: { ifaces: [], filter: r.protocol === 'IPv6' ? 'ip6' : r.protocol === 'IPv4' ? 'ip' : '', bothDirections: true } },
    ...(r.pid ? [{ label: 'Traffic of this process', probe: 'nettop' as const, find: `PID=${r.pid}` }] : []),
  ],
} satisfies ProbeView<DropRow>;
