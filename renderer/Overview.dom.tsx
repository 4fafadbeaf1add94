// All five probes at a glance: each one's state and rate with a sparkline,
// the top processes by traffic, the drop rate and top drop locations, and the
// newest connections. A click opens the probe's tab.

import type { HostState } from '../ipc/api.ts';
import { formatCell } from '../core/format.ts';
import { PROBE_IDS, PROBES, type ProbeId } from '../probes/registry.ts';
import { Sparkline } from './ui/Chart.dom.tsx';
import { useStore, type Stores } from './ui/store.dom.ts';

export function Overview(props: { stores: Stores; state: HostState; onOpen: (id: ProbeId) => void }) {
  const { stores, state } = props;
  // Re-render on any probe's rows.
  for (const id of PROBE_IDS) useStore(stores[id]); // eslint-disable-line react-hooks/rules-of-hooks -- fixed list, same order every render
  const procs = [...stores.nettop.rows].sort((a, b) => b.xmitBytes + b.recvBytes - (a.xmitBytes + a.recvBytes)).slice(0, 5);
  const drops = [...stores.dropwatch.rows].sort((a, b) => b.count - a.count).slice(0, 5);
  const conns = stores['tcp-connections'].rows.slice(-5).reverse();
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
            <button key={id} className="card" onClick={() => props.onOpen(id)} aria-label={`${s.probe.title} overview`}>
              <div className="card-head">
                <b>{s.probe.title}</b>
                <span className={p.running ? 'on' : 'off'}>{p.running ? 'running' : p.problem ? 'failed' : 'stopped'}</span>
              </div>
              <div className="rate">
                <b>{p.running ? s.perSecond() : '–'}</b> {s.probe.rate.unit}
              </div>
              <Sparkline x={s.rate.t} y={s.rate.n} label={`${s.probe.title} ${s.probe.rate.unit} over time`} />
              <div className="muted">{p.problem ? p.problem.message : `${s.received} rows received`}</div>
            </button>
          );
        })}
      </div>
      <div className="overview-lists">
        <OverviewList title="Top processes (latest interval)" empty="Start Traffic per process to see them." onOpen={() => props.onOpen('nettop')}>
          {procs.map((r) => (
            <li key={`${r.pid} ${r.dev}`}>
              <b>{r.command}</b> ({r.pid}) on {r.dev}: {r.xmitPk + r.recvPk} packets, {Math.round((r.xmitBytes + r.recvBytes) / 1024)} KiB
            </li>
          ))}
        </OverviewList>
        <OverviewList title="Drops (latest interval)" empty="Start Drops to see where the kernel drops packets, and whose." onOpen={() => props.onOpen('dropwatch')}>
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
