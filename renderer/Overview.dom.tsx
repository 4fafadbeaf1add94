// All five probes at a glance: each one's state and rate with a sparkline,
// the top processes by traffic and the top drops of the last minute (the same
// window as the charts), and the newest connections. A click opens the probe's tab.

import type { HostState } from '../ipc/api.ts';
import { formatCell } from '../core/format.ts';
import { PROBE_IDS, PROBES, type ProbeId } from '../probes/registry.ts';
import { VIEWS } from '../probes/views.dom.ts';
import { recentTotals } from './ui/since-start.ts';
import { Sparkline } from './ui/Chart.dom.tsx';
import { streamPoints, useStore, useTick, type Stores } from './ui/store.dom.ts';
import { CHART_SECONDS, humanBytes, humanCount } from './ui/series.ts';

export function Overview(props: { stores: Stores; state: HostState; onOpen: (id: ProbeId) => void; hidden: Record<ProbeId, ((row: object) => boolean) | null> | null }) {
  const { stores, state, hidden } = props;
  // Re-render on any probe's rows.
  for (const id of PROBE_IDS) useStore(stores[id]); // eslint-disable-line react-hooks/rules-of-hooks -- fixed list, same order every render
  const keep = (id: ProbeId) => (r: object) => !hidden?.[id]?.(r);
  const now = useTick(1000);
  const since = (now - CHART_SECONDS) * 1e6;
  const procs = recentTotals(stores.nettop.history, VIEWS.nettop.sinceStart, since, keep('nettop')).slice(0, 5);
  const drops = recentTotals(stores.dropwatch.history, VIEWS.dropwatch.sinceStart, since, keep('dropwatch')).slice(0, 5);
  const connStore = stores['tcp-connections'];
  const conns = [];
  for (let i = connStore.stream.length - 1; i >= 0 && conns.length < 5; i--) {
    const r = connStore.stream.at(i)!;
    if (keep('tcp-connections')(r)) conns.push(r);
  }
  const anyRunning = PROBE_IDS.some((id) => state.probes[id].running);

  return (
    <section className="overview" aria-label="Overview">
      {!anyRunning ? (
        <p className="hint">
          Nothing is running yet. Open a probe's tab and press Start — or press a number key:{' '}
          {PROBE_IDS.map((id, i) => `${i + 2} ${PROBES[id].title.toLowerCase()}`).join(', ')}.
        </p>
      ) : null}
      <div className="cards">
        {PROBE_IDS.map((id) => {
          const s = stores[id];
          const p = state.probes[id];
          return (
            // Named by its visible text (with " overview" for screen readers), so the name holds what is seen.
            <button key={id} className="card" onClick={() => props.onOpen(id)}>
              <div className="card-head">
                <b>
                  {s.probe.title}
                  <span className="sr-only"> overview</span>
                </b>
                <span className={p.running ? 'on' : 'off'}>{p.running ? 'running' : p.problem ? 'failed' : 'stopped'}</span>
              </div>
              <div className="rate">
                <b>{p.running ? humanCount(s.perSecond()) : '–'}</b> {s.probe.rate.unit}
              </div>
              <Sparkline {...sparkPoints(s, p.running, !!hidden, now)} label={`${s.probe.title} ${s.probe.rate.unit} over time`} />
              <div className="muted">{p.problem ? p.problem.message : `${humanCount(s.received)} rows received`}</div>
            </button>
          );
        })}
      </div>
      <div className="overview-lists">
        <OverviewList title="Top processes (last minute)" empty={state.probes.nettop.running ? 'No traffic in the last minute.' : 'Start Traffic per process to see them.'} onOpen={() => props.onOpen('nettop')}>
          {procs.map((r) => (
            <li key={`${r.pid} ${r.dev}`}>
              <b>{r.command}</b> ({r.pid}) on {r.dev}: {humanCount(r.xmitPk + r.recvPk)} packets, {humanBytes(r.xmitBytes + r.recvBytes)}
            </li>
          ))}
        </OverviewList>
        <OverviewList title="Drops (last minute)" empty={state.probes.dropwatch.running ? 'No drops in the last minute.' : 'Start Drops to see where the kernel drops packets, and whose.'} onOpen={() => props.onOpen('dropwatch')}>
          {drops.map((r) => (
            <li key={`${r.location} ${r.reason} ${r.protocol} ${r.pid} ${r.command}`} title={r.explanation}>
              <b>{r.count}</b> at {r.location} ({r.reason}){r.pid ? <>, lost by <b>{r.command}</b> ({r.pid})</> : null}: {r.explanation}
            </li>
          ))}
        </OverviewList>
        <OverviewList title="Newest connections" empty="Start TCP connections to see them." onOpen={() => props.onOpen('tcp-connections')}>
          {conns.map((r, i) => (
            <li key={i}>
              {formatCell('time', r.time).slice(11, 19)} <b>{r.cmd}</b> ({r.pid}) {r.direction === 'outbound' ? 'to' : 'from'} {r.ipSource}:{r.remotePort} port {r.port}
            </li>
          ))}
        </OverviewList>
      </div>
    </section>
  );
}

/** A card's sparkline: the same window as every chart, zeros where nothing came. */
function sparkPoints(s: Stores[ProbeId], running: boolean, hideOwn: boolean, now: number): { x: number[]; y: (number | null)[] } {
  if (s.probe.kind === 'stream') {
    const p = streamPoints(s as never, hideOwn, running, now);
    return { x: p.x, y: p.ys[0]! };
  }
  // An interval probe sends a table every interval, empty ones too: one point each, its events per second.
  const { t, n, own } = s.rate;
  const from = t.findIndex((sec) => sec > now - CHART_SECONDS);
  const i = from < 0 ? t.length : from;
  return { x: t.slice(i), y: (hideOwn ? n.map((v, k) => v - own[k]!) : n).slice(i) };
}

function OverviewList(props: { title: string; empty: string; onOpen: () => void; children: React.ReactNode[] }) {
  return (
    <div className="overview-list">
      <h3>
        <button className="link" onClick={props.onOpen}>
          {props.title}
        </button>
      </h3>
      {props.children.length ? <ul>{props.children}</ul> : <p className="muted">{props.empty}</p>}
    </div>
  );
}
