// The window: an Overview tab and one tab per probe (each with a live badge),
// keyboard shortcuts and their help panel, the names toggle, and a status bar
// that says what the collector is doing, what each running probe uses, and
// what was lost.

import { useCallback, useEffect, useMemo, useRef, useState, useSyncExternalStore } from 'react';
import { PROBES } from '../probes/registry.ts';
import type { HostState, NetprobesApi } from '../ipc/api.ts';
import { PROBE_IDS, type ProbeId } from '../probes/registry.ts';
import { ProbeStore, useTick, type Stores } from './ui/store.dom.ts';
import type { Link } from './api.dom.ts';
import { Names } from './ui/names.dom.ts';
import { ProbeTab, type Incoming, type TabActions } from './ProbeTab.dom.tsx';
import { Overview } from './Overview.dom.tsx';
import { VIEWS } from '../probes/views.dom.ts';
import type { CrossLink } from './ui/view.dom.ts';
import { HistoryStatus, HistoryView } from './history/History.dom.tsx';
import { ownMatcher } from './ui/own.ts';
import { humanCount } from './ui/series.ts';

type Tab = 'overview' | ProbeId;
const TABS: Tab[] = ['overview', ...PROBE_IDS];

/** The view in the URL's fragment (`#tab=tcpdump&find=port:443`), so a view can be shared; never sent to the server. */
function viewFromUrl(): { tab: Tab; find: string } {
  const p = new URLSearchParams(location.hash.slice(1));
  const tab = TABS.find((t) => t === p.get('tab')) ?? 'overview';
  return { tab, find: (p.get('find') ?? '').slice(0, 500) };
}

export const SHORTCUTS: [string, string][] = [
  [`1 … ${TABS.length}`, 'switch tabs (Overview, then each probe)'],
  ['s', 'start or stop the probe of this tab'],
  ['p', 'pause or resume the view (rows keep arriving)'],
  ['x', 'clear the rows'],
  ['e', 'export the rows shown as CSV'],
  ['/', 'find in rows (words, or COLUMN=value)'],
  ['n', 'names for addresses and ports on or off'],
  ['Ctrl+C', 'copy the selected rows as CSV'],
  ['Ctrl+A', 'select every row shown'],
  ['Esc', 'close the details pane or this help'],
  ['?', 'this help'],
];

export function App(props: { api: NetprobesApi; link: () => Link; subscribeLink: (onChange: () => void) => () => void }) {
  const { api } = props;
  const stores = useMemo(() => Object.fromEntries(PROBE_IDS.map((id) => [id, new ProbeStore(PROBES[id])])) as Stores, []);
  const names = useMemo(() => new Names(api), [api]);
  const [state, setState] = useState<HostState | null>(null);
  // An external store: the connection may open before the first effect runs, and must not be missed.
  const link = useSyncExternalStore(props.subscribeLink, props.link);
  const [initial] = useState(viewFromUrl);
  const [tab, setTab] = useState<Tab | 'history'>(initial.tab);
  const [incoming, setIncoming] = useState<Partial<Record<ProbeId, Incoming>>>(() =>
    initial.tab !== 'overview' && initial.find ? { [initial.tab]: { link: { label: 'from the URL', probe: initial.tab, find: initial.find }, nonce: 1 } } : {},
  );
  const [finds, setFinds] = useState<Partial<Record<ProbeId, string>>>(() => (initial.tab !== 'overview' ? { [initial.tab]: initial.find } : {}));
  // NetProbes' own activity is hidden until the user asks for it.
  const [showOwn, setShowOwn] = useState(false);
  // Every state event is a new object: the matchers (and so every tab's filter) change only when the list does.
  const ownKey = JSON.stringify(state?.own ?? null);
  const own = useMemo(() => JSON.parse(ownKey) as HostState['own'] | undefined, [ownKey]);
  const matchers = useMemo(() => Object.fromEntries(PROBE_IDS.map((id) => [id, ownMatcher(PROBES[id].columns as never, own)])) as Record<ProbeId, ((row: object) => boolean) | null>, [own]);
  useEffect(() => {
    for (const id of PROBE_IDS) stores[id].setOwn(matchers[id]);
  }, [matchers, stores]);
  const onFind = useMemo(() => Object.fromEntries(PROBE_IDS.map((id) => [id, (text: string) => setFinds((f) => ({ ...f, [id]: text }))])) as Record<ProbeId, (text: string) => void>, []);
  useEffect(() => {
    const p = new URLSearchParams({ tab });
    const find = tab !== 'overview' && tab !== 'history' ? finds[tab] : '';
    if (find) p.set('find', find);
    history.replaceState(null, '', `${location.pathname}${location.search}#${p.toString()}`);
  }, [tab, finds]);
  const [help, setHelp] = useState(false);
  const [namesOn, setNamesOn] = useState(false);
  const [restartError, setRestartError] = useState<string | null>(null);
  const actions = useRef<TabActions | null>(null);
  const register = useCallback((a: TabActions) => (actions.current = a), []);
  useTick(1000);

  useEffect(() => {
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

  const [linkError, setLinkError] = useState<string | null>(null);
  const follow = useCallback(
    async (clicked: CrossLink) => {
      setLinkError(null);
      let l = clicked;
      try {
        if (l.prepare) l = await l.prepare(api);
      } catch (e) {
        setLinkError(`${clicked.label}: ${(e as Error).message}`);
        return;
      }
      setTab(l.probe);
      setIncoming((prev) => ({ ...prev, [l.probe]: { link: l, nonce: (prev[l.probe]?.nonce ?? 0) + 1 } }));
      // Without options of its own the target keeps its options, and starts if it is not running.
      if (!l.options && state && !state.probes[l.probe].running) void api.request({ type: 'start', probe: l.probe, options: PROBES[l.probe].defaults }).catch(() => {});
    },
    [api, state],
  );

  const toggleNames = useCallback(() => {
    names.setEnabled(!names.enabled);
    setNamesOn(names.enabled);
  }, [names]);

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      const target = e.target as HTMLElement;
      if (e.key === 'Escape') {
        setHelp(false);
        actions.current?.closeDetails();
        return;
      }
      if (e.ctrlKey || e.metaKey || e.altKey || /^(INPUT|SELECT|TEXTAREA)$/.test(target.tagName)) return;
      const n = Number(e.key);
      if (n >= 1 && n <= TABS.length) setTab(TABS[n - 1]!);
      else if (e.key === '?') setHelp((h) => !h);
      else if (e.key === 'n') toggleNames();
      else if (tab !== 'overview' && actions.current) {
        const a = actions.current;
        const map: Record<string, () => void> = { s: a.toggleRun, p: a.togglePause, x: a.clear, e: a.exportCsv, '/': a.focusFind };
        const act = map[e.key];
        if (!act) return;
        e.preventDefault();
        act();
      }
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [tab, toggleNames]);

  const restart = async () => {
    setRestartError(null);
    try {
      await api.request({ type: 'restartCollector' });
    } catch (e) {
      setRestartError((e as Error).message);
    }
  };

  const c = state?.collector;
  const startLabel = state?.elevation === 'prompt' && c?.status !== 'running' ? 'Start as administrator' : 'Start';
  const running = PROBE_IDS.filter((id) => state?.probes[id].running);
  const lostBy = PROBE_IDS.map((id) => [id, lossOf(stores[id])] as const).filter(([, n]) => n > 0);
  const lost = lostBy.reduce((n, [, k]) => n + k, 0);
  return (
    <div className="app">
      <header>
        <img src="icon.svg" alt="" width={22} height={22} />
        <h1>NetProbes</h1>
        <nav role="tablist" aria-label="Probes">
          {TABS.map((id, i) => (
            <button key={id} role="tab" id={`tab-${id}`} aria-selected={tab === id} aria-controls={`panel-${id}`} title={`${i + 1}`} onClick={() => setTab(id)}>
              {id === 'overview' ? 'Overview' : PROBES[id].title}
              {id !== 'overview' ? (
                // Always there, empty while stopped, so tabs never shift as probes start and stop.
                <span className="badge" aria-label={`${PROBES[id].title} rate`}>
                  {state?.probes[id].running ? `${compact(stores[id].perSecond())}/s` : ''}
                </span>
              ) : null}
            </button>
          ))}
          <button role="tab" id="tab-history" aria-selected={tab === 'history'} aria-controls="panel-history" onClick={() => setTab('history')}>
            History
          </button>
        </nav>
        <span className="grow" />
        <label className="toggle" title="Names for addresses (reverse DNS) and well-known ports (n)">
          <input type="checkbox" checked={namesOn} onChange={toggleNames} /> Names
        </label>
        <button className="help-button" aria-label="Keyboard shortcuts" onClick={() => setHelp(!help)}>
          ?
        </button>
      </header>
      <main>
        <div role="tabpanel" id="panel-overview" aria-labelledby="tab-overview" hidden={tab !== 'overview'} className="panel">
          {/* Drawn only while visible: it follows every probe's rows. */}
          {!state ? <div className="loading">Connecting…</div> : tab === 'overview' ? <Overview stores={stores} state={state} onOpen={(id) => setTab(id)} hidden={showOwn ? null : matchers} /> : null}
        </div>
        {PROBE_IDS.map((id) => (
          <div key={id} role="tabpanel" id={`panel-${id}`} aria-labelledby={`tab-${id}`} hidden={tab !== id} className="panel">
            {state ? (
              <ProbeTab
                api={api}
                store={stores[id]}
                state={state.probes[id]}
                collectorProblem={c?.problem ?? null}
                names={names}
                view={VIEWS[id]}
                follow={follow}
                incoming={incoming[id] ?? null}
                active={tab === id}
                register={register}
                startLabel={startLabel}
                isOwn={matchers[id]}
                showOwn={showOwn}
                onShowOwn={setShowOwn}
                onFind={onFind[id]}
                ownList={own}
              />
            ) : null}
          </div>
        ))}
        <div role="tabpanel" id="panel-history" aria-labelledby="tab-history" hidden={tab !== 'history'} className="panel">
          {state ? <HistoryView api={api} state={state.history} active={tab === 'history'} /> : null}
        </div>
      </main>
      {help ? (
        <div className="help" role="dialog" aria-label="Keyboard shortcuts">
          <h2>Keyboard shortcuts</h2>
          <dl>
            {SHORTCUTS.map(([k, what]) => (
              <div key={k}>
                <dt>
                  <kbd>{k}</kbd>
                </dt>
                <dd>{what}</dd>
              </div>
            ))}
          </dl>
          <button onClick={() => setHelp(false)}>Close</button>
        </div>
      ) : null}
      <footer className="status" role="status" aria-label="collector status">
        {api.frontEnd === 'browser' && link !== 'open' ? <span className="loss">{link === 'connecting' ? 'connecting to netprobes serve…' : 'disconnected from netprobes serve, retrying…'}</span> : null}
        <span data-collector={c?.status ?? 'unknown'}>
          Collector: <b>{c ? describeCollector(c) : '…'}</b>
        </span>
        {c?.problem ? <span className="loss">{c.problem}</span> : null}
        {c?.status === 'crashed' ? <button onClick={() => void restart()}>Restart collector</button> : null}
        {restartError ? <span className="loss">{restartError}</span> : null}
        {linkError ? <span className="loss">{linkError}</span> : null}
        {running.length ? (
          <span className="features" title={running.map((id) => `${PROBES[id].title}: ${state!.probes[id].source ?? 'starting'}`).join('\n')}>
            In use: {running.map((id) => `${PROBES[id].title} (${featureOf(state!.probes[id])})`).join(', ')}
          </span>
        ) : null}
        {lost ? (
          // What was lost, by probe: a click opens the first such tab, whose health line says what and why.
          <button className="loss lost-link" onClick={() => setTab(lostBy[0]![0])} title="kernel drops, ring-buffer overruns, shed and undelivered rows: open the tab to see what and why">
            lost: <b data-counter="lostTotal">{lost}</b> ({lostBy.map(([id, n]) => `${PROBES[id].title} ${humanCount(n)}`).join(', ')})
          </button>
        ) : (
          <span title="kernel drops, ring-buffer overruns, shed and undelivered rows, across all probes">
            nothing lost <b data-counter="lostTotal" hidden>0</b>
          </span>
        )}
        <span className="grow" />
        <HistoryStatus state={state?.history} onOpen={() => setTab('history')} />
        <span>{api.frontEnd === 'browser' ? 'browser (netprobes serve)' : 'desktop app'}</span>
      </footer>
    </div>
  );
}

/** Everything a probe's counters say was lost, plus what this window did not get. */
export function lossOf(store: ProbeStore): number {
  const c = store.counters;
  return store.probe.counters.filter((k) => k.loss).reduce((n, k) => n + (c[k.key] ?? 0), 0) + (c.shed ?? 0) + store.undelivered;
}

/** The facility a probe uses and what it runs without, from the data its source reports. */
function featureOf(probe: HostState['probes'][ProbeId]): string {
  if (!probe.use) return 'starting';
  const lacks = probe.use.lacks.map((l) => `without ${l.feature}: ${l.reason}`);
  return [probe.use.facility, ...lacks].join('; ');
}

function compact(n: number): string {
  return n >= 1e6 ? `${(n / 1e6).toFixed(1)}M` : n >= 1e4 ? `${Math.round(n / 1e3)}k` : String(n);
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
