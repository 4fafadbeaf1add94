// The window: one tab per probe, and a status bar that says what the collector
// is doing (not running, starting, running as root, crashed) and offers a
// restart when it died.

import { useEffect, useMemo, useState } from 'react';
import { PROBES } from '../electron/probes/registry.ts';
import type { HostState, NetprobesApi } from '../electron/shared/api.ts';
import { PROBE_IDS, type ProbeId } from '../electron/shared/probe.ts';
import { ProbeStore } from './store.dom.ts';
import type { Link } from './api.dom.ts';
import { ProbeTab } from './views/ProbeTab.dom.tsx';

export function App(props: { api: NetprobesApi; link: () => Link; onLink: (l: (x: Link) => void) => void }) {
  const { api } = props;
  const stores = useMemo(() => Object.fromEntries(PROBE_IDS.map((id) => [id, new ProbeStore(PROBES[id])])) as Record<ProbeId, ProbeStore>, []);
  const [state, setState] = useState<HostState | null>(null);
  const [link, setLink] = useState<Link>(props.link());
  const [tab, setTab] = useState<ProbeId>('tcpdump');
  const [restartError, setRestartError] = useState<string | null>(null);

  useEffect(() => {
    props.onLink(setLink);
    const unsubscribe = api.subscribe((e) => {
      if (e.type === 'state') setState(structuredClone(e.state));
      else if (e.type === 'rows') stores[e.probe].addRows(e.rows);
      else if (e.type === 'counters') stores[e.probe].setCounters(e.counters);
      else stores[e.probe].addUndelivered(e.rows);
    });
    void api.request({ type: 'getState' }).then(setState, () => {});
    return unsubscribe;
  }, [api, stores, props]);

  // A reconnected browser tab asks again for the state it missed.
  useEffect(() => {
    if (link === 'open') void api.request({ type: 'getState' }).then(setState, () => {});
  }, [link, api]);

  const restart = async () => {
    setRestartError(null);
    try {
      await api.request({ type: 'restartCollector' });
    } catch (e) {
      setRestartError((e as Error).message);
    }
  };

  const c = state?.collector;
  return (
    <div className="app">
      <header>
        <img src="icon.svg" alt="" width={22} height={22} />
        <h1>NetProbes</h1>
        <nav role="tablist" aria-label="Probes">
          {PROBE_IDS.map((id) => (
            <button
              key={id}
              role="tab"
              id={`tab-${id}`}
              aria-selected={tab === id}
              aria-controls={`panel-${id}`}
              className={state?.probes[id].running ? 'live' : ''}
              onClick={() => setTab(id)}
            >
              {PROBES[id].title}
              {PROBES[id].built ? '' : ' (soon)'}
            </button>
          ))}
        </nav>
      </header>
      <main>
        {PROBE_IDS.map((id) => (
          <div key={id} role="tabpanel" id={`panel-${id}`} aria-labelledby={`tab-${id}`} hidden={tab !== id} className="panel">
            {state ? <ProbeTab api={api} store={stores[id]} state={state.probes[id]} collectorProblem={c?.problem ?? null} /> : null}
          </div>
        ))}
      </main>
      <footer className="status" role="status" aria-label="collector status">
        {api.frontEnd === 'browser' && link !== 'open' ? <span className="loss">{link === 'connecting' ? 'connecting to netprobes serve…' : 'disconnected from netprobes serve, retrying…'}</span> : null}
        <span data-collector={c?.status ?? 'unknown'}>
          Collector: <b>{c ? describeCollector(c) : '…'}</b>
        </span>
        {c?.problem ? <span className="loss">{c.problem}</span> : null}
        {c?.status === 'crashed' ? <button onClick={() => void restart()}>Restart collector</button> : null}
        {restartError ? <span className="loss">{restartError}</span> : null}
        <span className="spacer" />
        <span>{api.frontEnd === 'browser' ? 'browser (netprobes serve)' : 'desktop app'}</span>
      </footer>
    </div>
  );
}

function describeCollector(c: HostState['collector']): string {
  switch (c.status) {
    case 'not-running':
      return 'not running (starts with the first probe)';
    case 'starting':
      return 'starting…';
    case 'running':
      return `running${c.elevated ? ' as root' : ' without root'} (pid ${c.pid})`;
    case 'crashed':
      return 'stopped unexpectedly';
  }
}
