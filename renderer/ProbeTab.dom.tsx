// One probe's tab: its toolbar (start/stop, pause, clear, options from the
// probe's flags, columns, a row filter, exports), what it runs on, its counters
// (losses shown, never hidden), the probe's own panel (charts, summaries), its
// table and a details pane for the selected row with links to other tabs.

import { memo, useCallback, useDeferredValue, useEffect, useMemo, useRef, useState } from 'react';
import type { InterfaceInfo, NetprobesApi, OwnActivity, ProbeState } from '../ipc/api.ts';
import { columnsFor, type Column, type Flag } from '../core/probe.ts';
import { formatCell, toCsv } from '../core/format.ts';
import { MAX_ROWS, useStore, type ProbeStore } from './ui/store.dom.ts';
import { VirtualTable } from './ui/VirtualTable.dom.tsx';
import { arraySource, FilteredView, listToArray, SortedView, type RowSource, type Sort } from './ui/rows.ts';
import { fieldsOf, rowMatcher } from './ui/find.ts';
import { humanCount } from './ui/series.ts';
import { SinceStart, TREND } from './ui/since-start.ts';
import { TrendBars } from './ui/Chart.dom.tsx';
import { saveText } from './ui/save.dom.ts';
import { useNames, type Names } from './ui/names.dom.ts';
import type { CrossLink, ProbeView } from './ui/view.dom.ts';

/** The keyboard shortcuts' handles on the visible tab. */
export interface TabActions {
  toggleRun(): void;
  togglePause(): void;
  clear(): void;
  exportCsv(): void;
  focusFind(): void;
  closeDetails(): void;
}

export interface Incoming {
  link: CrossLink;
  /** Changes with every click, so the same link twice still applies. */
  nonce: number;
}

/** Memoized: the window re-renders every second (badges), a tab only when its own props or rows change. */
export const ProbeTab = memo(function ProbeTab(props: {
  api: NetprobesApi;
  store: ProbeStore;
  state: ProbeState;
  collectorProblem: string | null;
  names: Names;
  view: ProbeView;
  follow: (l: CrossLink) => void;
  incoming: Incoming | null;
  active: boolean;
  /** Receives this tab's actions for the keyboard shortcuts while it is the visible tab. */
  register: (actions: TabActions) => void;
  startLabel: string;
  /** NetProbes' own rows (null: none recognised); shown only while `showOwn`. */
  isOwn: ((row: object) => boolean) | null;
  showOwn: boolean;
  onShowOwn: (show: boolean) => void;
  /** The find text changed (the window puts it in the URL). */
  onFind: (text: string) => void;
  /** The host's list behind `isOwn`, for the toggle's tooltip. */
  ownList: OwnActivity | undefined;
}) {
  const { api, store, state, view, names, follow, incoming, active, register, startLabel, collectorProblem, isOwn, showOwn, onShowOwn, onFind, ownList } = props;
  const probe = store.probe;
  const version = useStore(store);
  useNames(names);
  const [options, setOptions] = useState<Record<string, unknown>>(() => structuredClone(probe.defaults) as Record<string, unknown>);
  const [paused, setPaused] = useState<{ rows: readonly object[] } | null>(null);
  const [showCounters, setShowCounters] = useState(false);
  const [showSource, setShowSource] = useState(false);
  const [find, setFind] = useState('');
  const [sort, setSort] = useState<Sort>(null);
  const [error, setError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [hidden, setHidden] = useState<Set<string>>(new Set());
  const [widths, setWidths] = useState<Record<string, number>>({});
  const [selected, setSelected] = useState<Set<object>>(new Set());
  const [focus, setFocus] = useState<object | null>(null);
  const [showColumns, setShowColumns] = useState(false);
  const [panelFilter, setPanelFilter] = useState<{ keep: (row: never) => boolean } | null>(null);
  const setFilter = useCallback((keep: ((row: never) => boolean) | null) => setPanelFilter(keep ? { keep } : null), []);
  const findInput = useRef<HTMLInputElement>(null);

  // Interval probes with a since-start table: every table summed per key, beside the latest interval.
  const [since] = useState(() => (view.sinceStart ? new SinceStart<{ time: number }>(view.sinceStart as never) : null));
  const [mode, setMode] = useState<'latest' | 'since'>(view.sinceStart?.initially ? 'since' : 'latest');
  const summed = !!since && mode === 'since';
  const sinceVersion = useMemo(() => {
    since?.update(store.history as never, store.tablesReceived);
    return since?.version ?? 0;
    // eslint-disable-next-line react-hooks/exhaustive-deps -- version says when history grew
  }, [since, version]);
  const sinceRows = useMemo(
    () => (since ? [...since.totals.values()].map((t) => ({ ...t.row, [LATEST]: t.latest, [TREND_KEY]: t.trend })) : []),
    // eslint-disable-next-line react-hooks/exhaustive-deps -- sinceVersion says when the totals changed
    [since, sinceVersion],
  );
  // The columns the options show (tcpdump's process columns only with --process), then the since-start ones.
  const allColumns = useMemo(() => {
    const base = columnsFor(probe.columns, options);
    return summed && view.sinceStart ? [...base, ...sinceColumns(view.sinceStart.unit)] : base;
  }, [summed, probe, options, view.sinceStart]);
  const columns = useMemo(() => allColumns.filter((c) => !hidden.has(c.key)), [allColumns, hidden]);
  // The rows shown: the stream's ring (only new rows are filtered and merged into the sort each frame),
  // the latest table of an interval probe, or the snapshot taken on Pause.
  const table = probe.kind === 'interval' ? (summed ? sinceRows : store.table) : null;
  const source: RowSource<object> = useMemo(() => (paused ? arraySource(paused.rows) : table ? arraySource(table) : store.stream), [paused, table, store]);
  const [filtered] = useState(() => new FilteredView<object>());
  const [sorted] = useState(() => new SortedView<object>());
  // Typing stays responsive: the field updates at once, the (possibly 100k-row) filter when React has time.
  const deferredFind = useDeferredValue(find);
  const hideOwn = isOwn && !showOwn ? isOwn : null;
  const test = useMemo(() => {
    const match = rowMatcher(probe.columns, deferredFind);
    const keep = panelFilter?.keep as ((r: object) => boolean) | undefined;
    return match || keep || hideOwn ? (r: object) => (!hideOwn || !hideOwn(r)) && (!match || match(r)) && (!keep || keep(r)) : null;
  }, [probe, deferredFind, panelFilter, hideOwn]);
  const shown = useMemo(
    () => sorted.update(filtered.update(source, test), sort),
    // eslint-disable-next-line react-hooks/exhaustive-deps -- version says when the ring grew in place
    [source, version, test, sort, filtered, sorted],
  );
  const held = paused ? paused.rows.length : table ? table.length : store.rows.length; // an interval probe holds its (latest or summed) table
  const ownHidden = hideOwn ? (paused ? paused.rows.filter(hideOwn).length : store.ownHeld) : 0;
  const snapshot = () => ({ rows: probe.kind === 'interval' ? [...(table ?? [])] : store.stream.toArray() });

  const run = async (what: 'start' | 'stop', opts = options) => {
    setBusy(true);
    setError(null);
    try {
      if (what === 'start') await api.request({ type: 'start', probe: probe.id, options: opts });
      else await api.request({ type: 'stop', probe: probe.id });
    } catch (e) {
      setError((e as Error).message);
    } finally {
      setBusy(false);
    }
  };

  const exportCsv = async (rows: readonly object[], what: string) => {
    const stamp = new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19);
    try {
      await saveText(api, `netprobes-${probe.id}-${what}-${stamp}.csv`, toCsv(columnsFor(probe.columns, options), rows));
    } catch (e) {
      setError(`export failed: ${(e as Error).message}`);
    }
  };

  // A cross-link from another tab: its row filter and options, and a (re)start when it sets options.
  useEffect(() => {
    const l = incoming?.link;
    if (!l) return;
    /* eslint-disable react-hooks/set-state-in-effect -- applies an event from another tab, once per click (nonce) */
    if (l.find !== undefined) setFind(l.find);
    if (l.options) {
      const next = { ...(structuredClone(probe.defaults) as Record<string, unknown>), ...l.options };
      setOptions(next);
      void run('start', next);
    }
    /* eslint-enable react-hooks/set-state-in-effect */
    // eslint-disable-next-line react-hooks/exhaustive-deps -- once per click
  }, [incoming?.nonce]);

  const clearAll = () => {
    since?.clear();
    store.clear();
  };

  // The keyboard shortcuts act on the visible tab.
  useEffect(() => {
    if (!active) return;
    register({
      toggleRun: () => void run(state.running ? 'stop' : 'start'),
      togglePause: () => setPaused(paused ? null : snapshot()),
      clear: () => clearAll(),
      exportCsv: () => void exportCsv(listToArray(shown), probe.kind === 'interval' ? 'interval' : 'rows'),
      focusFind: () => findInput.current?.focus(),
      closeDetails: () => setFocus(null),
    });
  });

  const notify = (m: string) => {
    setNotice(m);
    setTimeout(() => setNotice(null), 4000);
  };
  const problem = error ?? state.problem?.message ?? (state.running ? null : collectorProblem);
  const losses = probe.counters.filter((c) => c.loss);
  const Panel = view.Panel;
  return (
    <section className="tab-body" aria-label={probe.title}>
      <div className="toolbar" role="toolbar" aria-label={`${probe.title} controls`}>
        {state.running ? (
          <button className="primary" disabled={busy} onClick={() => void run('stop')} title="Stop (s)">
            Stop
          </button>
        ) : (
          <button className="primary" disabled={busy} onClick={() => void run('start')} title="Start (s)">
            {startLabel}
          </button>
        )}
        <button aria-pressed={!!paused} onClick={() => setPaused(paused ? null : snapshot())} title="Pause the view; rows keep arriving (p)">
          {paused ? 'Resume' : 'Pause'}
        </button>
        <button onClick={() => clearAll()} title="Clear the rows (x)">
          Clear
        </button>
        {probe.flags.filter((f) => !f.cliOnly).map((f) => (
          <OptionField key={f.name} flag={f} api={api} value={options[f.option]} disabled={state.running} onChange={(v) => setOptions({ ...options, [f.option]: v })} />
        ))}
        {since ? (
          <div className="segmented" role="group" aria-label="Rows">
            <button aria-pressed={!summed} onClick={() => setMode('latest')}>
              Latest interval
            </button>
            <button aria-pressed={summed} onClick={() => setMode('since')} title="every interval since the start, summed">
              {view.sinceStart!.label}
            </button>
          </div>
        ) : null}
        <span className="grow" />
        {isOwn ? (
          <label className="toggle own-toggle" title={`NetProbes' own activity: its processes (the host, the collector, the browser showing serve) and the serve page's connection. Processes ${ownList?.pids.join(', ') || 'none'}; ports ${ownList?.ports.join(', ') || 'none'}`}>
            <input type="checkbox" checked={showOwn} onChange={(e) => onShowOwn(e.target.checked)} /> Show NetProbes' own
            {!showOwn ? <span data-counter="ownHidden"> ({humanCount(ownHidden)} hidden)</span> : null}
          </label>
        ) : null}
        <input
          ref={findInput}
          className="find"
          type="search"
          placeholder={`Find: ${fieldsOf(probe.columns).slice(0, 3).map((f) => `${f}:`).join(' ')} words (/)`}
          aria-label="Find in rows"
          list={`find-fields-${probe.id}`}
          value={find}
          onChange={(e) => {
            setFind(e.target.value);
            onFind(e.target.value);
          }}
        />
        <datalist id={`find-fields-${probe.id}`}>
          {fieldsOf(probe.columns).map((f) => (
            <option key={f} value={`${find && !find.endsWith(' ') ? `${find} ` : find}${f}:`} />
          ))}
        </datalist>
        <div className="menu">
          <button aria-expanded={showColumns} onClick={() => setShowColumns(!showColumns)}>
            Columns
          </button>
          {showColumns ? (
            <div className="menu-list" role="group" aria-label="Visible columns">
              {probe.columns.map((c) => (
                <label key={c.key}>
                  <input
                    type="checkbox"
                    checked={!hidden.has(c.key)}
                    onChange={(e) => {
                      const next = new Set(hidden);
                      if (e.target.checked) next.delete(c.key);
                      else next.add(c.key);
                      setHidden(next);
                    }}
                  />{' '}
                  {c.title}
                </label>
              ))}
            </div>
          ) : null}
        </div>
        <button onClick={() => void exportCsv(listToArray(shown), probe.kind === 'interval' ? 'interval' : 'rows')} title="Export the rows shown as CSV (e)">
          Export CSV
        </button>
        {probe.kind === 'interval' ? <button onClick={() => void exportCsv(store.history.toArray(), 'history')}>Export history</button> : null}
        {view.Tools ? <view.Tools api={api} notify={notify} /> : null}
      </div>
      {problem ? (
        <div className="problem" role="alert">
          {problem}
        </div>
      ) : null}
      <div className="health-row">
        <Health store={store} onDetails={() => setShowCounters(true)} />
        <span className="source" aria-label="source" title={state.source ?? undefined}>
          {state.running ? `Running: ${state.source ?? 'starting…'}` : state.source ? `Stopped. Last run: ${state.source}` : `Stopped. ${capitalize(probe.summary)}.`}
        </span>
        <button className="info" aria-expanded={showSource} onClick={() => setShowSource(!showSource)} title="What this probe reads, and what it runs without">
          Source
        </button>
        <button aria-expanded={showCounters} onClick={() => setShowCounters(!showCounters)} title="Every counter of this probe">
          Counters
        </button>
        <span className="shown-count">
          {paused ? 'paused: ' : ''}showing <b data-counter="shown">{shown.length}</b> of {held}
        </span>
        {notice ? <span className="notice">{notice}</span> : null}
      </div>
      {showSource ? (
        <div className="popover" role="region" aria-label="About this source">
          <p>{state.source ?? `Not running. ${capitalize(probe.summary)}.`}</p>
          {state.use?.lacks.length ? (
            <ul className="lacks" aria-label="runs without">
              {state.use.lacks.map((l) => (
                <li key={l.feature} data-facility={state.use!.facility}>
                  Without {l.feature}: {l.fallback} ({l.reason})
                </li>
              ))}
            </ul>
          ) : null}
        </div>
      ) : null}
      {showCounters ? (
        <div className="counters" role="region" aria-label="counters">
          {probe.counters
            .filter((c) => !c.loss)
            .map((c) => (
              <span key={c.key} title={c.description}>
                {c.label} <b data-counter={c.key}>{store.counters[c.key] ?? 0}</b>
              </span>
            ))}
          {[...losses, SHED].map((c) => (
            <span key={c.key} title={c.description} className={(store.counters[c.key] ?? 0) > 0 ? 'loss' : ''}>
              {c.label} <b data-counter={c.key}>{store.counters[c.key] ?? 0}</b>
            </span>
          ))}
          <span title={`rows dropped from this view's history, which keeps the newest ${MAX_ROWS}`} className={store.notKept ? 'loss' : ''}>
            not kept <b data-counter="notKept">{store.notKept}</b>
          </span>
          {store.undelivered ? (
            <span className="loss" title="rows this window could not receive in time">
              undelivered <b>{store.undelivered}</b>
            </span>
          ) : null}
        </div>
      ) : null}
      {Panel && active ? <Panel store={store} version={version} names={names} follow={follow} find={setFind} filter={setFilter} hidden={hideOwn} running={state.running} /> : null}
      <div className={`table-and-details${focus ? ' with-details' : ''}`}>
        <VirtualTable
          columns={columns}
          rows={shown}
          version={version}
          sort={sort}
          onSort={setSort}
          widths={widths}
          onResize={(k, w) => setWidths({ ...widths, [k]: w })}
          selected={selected}
          onSelect={(rows, f) => {
            setSelected(rows);
            setFocus(f);
          }}
          label={`${probe.title} rows`}
          emptyText={emptyText(state.running, startLabel, held, ownHidden, store.received)}
          isOwn={showOwn ? isOwn : null}
          renderCell={(c, r) => (c.key === TREND_KEY ? <TrendBars values={(r as Record<string, number[]>)[TREND_KEY]!} label="trend" /> : view.renderCell?.(c, r, names))}
          onCopied={(n) => {
            setNotice(`copied ${n} row${n === 1 ? '' : 's'} as CSV`);
            setTimeout(() => setNotice(null), 2000);
          }}
        />
        {focus ? (
          <aside className="details" aria-label="Details">
            <header>
              <b>Details</b>
              <button aria-label="Close details" onClick={() => setFocus(null)}>
                ×
              </button>
            </header>
            <dl>
              {probe.columns.map((c) => (
                <div key={c.key}>
                  <dt title={c.description}>{c.title}</dt>
                  <dd>{view.renderCell?.(c, focus, names) ?? formatCell(c.type, (focus as Record<string, unknown>)[c.key])}</dd>
                </div>
              ))}
              {(view.details?.(focus, paused ? paused.rows : (table ?? store.rows), summed) ?? []).map(([k, v]) => (
                <div key={k}>
                  <dt>{k}</dt>
                  <dd>{v}</dd>
                </div>
              ))}
            </dl>
            <div className="links">
              {(view.links?.(focus) ?? []).map((l) => (
                <button key={l.label} onClick={() => follow(l)}>
                  {l.label} →
                </button>
              ))}
              <button
                onClick={() =>
                  void navigator.clipboard.writeText(toCsv(columnsFor(probe.columns, options), selected.size ? listToArray(shown).filter((r) => selected.has(r)) : [focus])).then(() => {
                    setNotice('copied as CSV');
                    setTimeout(() => setNotice(null), 2000);
                  })
                }
              >
                Copy {selected.size > 1 ? `${selected.size} rows` : 'row'}
              </button>
            </div>
          </aside>
        ) : null}
      </div>
    </section>
  );
});

const capitalize = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);

const LATEST = '__latest';
const TREND_KEY = '__trend';
/** The since-start table's two columns beyond the probe's: what the latest interval added, and the trend. */
function sinceColumns(unit: string): Column<object>[] {
  return [
    { key: LATEST as never, csv: 'LATEST', title: `Latest (${unit})`, type: 'int', width: 130, notInCsv: true, description: `${unit} the latest interval added` },
    { key: TREND_KEY as never, csv: 'TREND', title: 'Trend', type: 'text', width: 130, notInCsv: true, description: `${unit} per interval, the last ${TREND} intervals` },
  ];
}

const SHED = { key: 'shed', label: 'shed', description: 'rows the collector did not send: the display rate limit', loss: true };

/** What an empty table says: why it is empty. */
function emptyText(running: boolean, startLabel: string, held: number, ownHidden: number, received: number): string {
  if (held && ownHidden === held) return `Only NetProbes' own activity so far (${ownHidden} rows hidden).`;
  if (held) return 'No row matches the filter.';
  if (running) return received ? 'The latest interval had no rows.' : 'Waiting for rows…';
  return `No rows yet: press ${startLabel}.`;
}

/**
 * One line on how exact the probe's numbers are: "exact: nothing lost" in calm colours, or what was lost, how
 * much, and a click to the counters that say why.
 */
function Health({ store, onDetails }: { store: ProbeStore; onDetails: () => void }) {
  const c = store.counters;
  const lost = [...store.probe.counters.filter((k) => k.loss), SHED]
    .map((k) => ({ label: k.label, description: k.description, n: c[k.key] ?? 0 }))
    .filter((k) => k.n > 0);
  if (store.notKept) lost.push({ label: 'not kept (oldest rows dropped from this view)', description: `this view keeps the newest ${MAX_ROWS} rows`, n: store.notKept });
  if (store.undelivered) lost.push({ label: 'undelivered to this window', description: 'rows this window could not receive in time', n: store.undelivered });
  if (!lost.length) {
    return (
      <span className="health ok" aria-label="health">
        ✓ exact: nothing lost
      </span>
    );
  }
  return (
    <button className="health lossy" onClick={onDetails} title={lost.map((l) => `${l.label}: ${l.n} — ${l.description}`).join('\n')}>
      ⚠ {lost.map((l) => `${humanCount(l.n)} ${l.label}`).join(', ')} — why?
    </button>
  );
}

function OptionField(props: { flag: Flag; api: NetprobesApi; value: unknown; disabled: boolean; onChange: (v: unknown) => void }) {
  const { flag, value, disabled, onChange } = props;
  const [ifaces, setIfaces] = useState<InterfaceInfo[]>([]);
  const label = flag.label ?? flag.name;
  useEffect(() => {
    if (flag.kind === 'repeat' && flag.name === 'iface') void props.api.request({ type: 'listInterfaces' }).then(setIfaces, () => {});
  }, [flag, props.api]);

  if (flag.kind === 'repeat' && flag.name === 'iface') {
    const current = (value as string[])[0] ?? '';
    return (
      <label title={flag.help}>
        Interface{' '}
        <select aria-label="Interface" disabled={disabled} value={current} onChange={(e) => onChange(e.target.value ? [e.target.value] : [])}>
          <option value="">all interfaces</option>
          {ifaces.map((i) => (
            <option key={i.name} value={i.name}>
              {i.name}
              {i.up ? '' : ' (down)'}
            </option>
          ))}
        </select>
      </label>
    );
  }
  if (flag.kind === 'bool') {
    return (
      <label title={flag.help}>
        <input type="checkbox" aria-label={label} disabled={disabled} checked={!!value} onChange={(e) => onChange(e.target.checked)} /> {label}
      </label>
    );
  }
  if (flag.kind === 'int') {
    return (
      <label title={flag.help}>
        {label}{' '}
        <input type="number" aria-label={label} className="int" min={0} disabled={disabled} value={Number(value)} onChange={(e) => onChange(Math.max(0, Math.floor(Number(e.target.value) || 0)))} />
      </label>
    );
  }
  return (
    <input
      type="text"
      className="option-text"
      aria-label={label}
      title={flag.help}
      placeholder={flag.help.split(/[(,]/)[0]}
      disabled={disabled}
      value={String(value ?? '')}
      onChange={(e) => onChange(flag.kind === 'repeat' ? e.target.value.split(/[\s,]+/).filter(Boolean) : e.target.value)}
    />
  );
}
