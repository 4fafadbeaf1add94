// One probe's tab: its toolbar (start/stop, pause, clear, options from the
// probe's flags, columns, a row filter, exports), what it runs on, its counters
// (losses shown, never hidden), the probe's own panel (charts, summaries), its
// table and a details pane for the selected row with links to other tabs.

import { memo, useCallback, useDeferredValue, useEffect, useMemo, useRef, useState } from 'react';
import type { InterfaceInfo, NetprobesApi, ProbeState } from '../ipc/api.ts';
import { columnsFor, type Column, type Flag } from '../core/probe.ts';
import { formatCell, toCsv } from '../core/format.ts';
import { IncrementalFilter, MAX_ROWS, useStore, type ProbeStore } from './ui/store.dom.ts';
import { sortRows, VirtualTable, type Sort } from './ui/VirtualTable.dom.tsx';
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
}) {
  const { api, store, state, view, names, follow, incoming, active, register, startLabel, collectorProblem } = props;
  const probe = store.probe;
  const version = useStore(store);
  useNames(names);
  const [options, setOptions] = useState<Record<string, unknown>>(() => structuredClone(probe.defaults) as Record<string, unknown>);
  const [paused, setPaused] = useState<{ rows: readonly object[] } | null>(null);
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

  const columns = useMemo(() => columnsFor(probe.columns, options).filter((c) => !hidden.has(c.key)), [probe, options, hidden]);
  const source = paused ? paused.rows : store.rows;
  const [rowFilter] = useState(() => new IncrementalFilter());
  // Typing stays responsive: the field updates at once, the (possibly 100k-row) filter when React has time.
  const deferredFind = useDeferredValue(find);
  const test = useMemo(() => {
    const match = rowMatcher(probe.columns, deferredFind);
    const keep = panelFilter?.keep as ((r: object) => boolean) | undefined;
    return match || keep ? (r: object) => (!match || match(r)) && (!keep || keep(r)) : null;
  }, [probe, deferredFind, panelFilter]);
  const shown = useMemo(
    () => sortRows(rowFilter.apply(source, test, test), sort),
    // eslint-disable-next-line react-hooks/exhaustive-deps -- version says when store.rows grew in place
    [source, version, test, sort, rowFilter],
  );

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

  // The keyboard shortcuts act on the visible tab.
  useEffect(() => {
    if (!active) return;
    register({
      toggleRun: () => void run(state.running ? 'stop' : 'start'),
      togglePause: () => setPaused(paused ? null : { rows: [...store.rows] }),
      clear: () => store.clear(),
      exportCsv: () => void exportCsv(shown, probe.kind === 'interval' ? 'interval' : 'rows'),
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
        <button aria-pressed={!!paused} onClick={() => setPaused(paused ? null : { rows: [...store.rows] })} title="Pause the view; rows keep arriving (p)">
          {paused ? 'Resume' : 'Pause'}
        </button>
        <button onClick={() => store.clear()} title="Clear the rows (x)">
          Clear
        </button>
        {probe.flags.filter((f) => !f.cliOnly).map((f) => (
          <OptionField key={f.name} flag={f} api={api} value={options[f.option]} disabled={state.running} onChange={(v) => setOptions({ ...options, [f.option]: v })} />
        ))}
        <span className="grow" />
        <input ref={findInput} className="find" type="search" placeholder="Find: words, or COLUMN=value (/)" aria-label="Find in rows" value={find} onChange={(e) => setFind(e.target.value)} />
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
        <button onClick={() => void exportCsv(shown, probe.kind === 'interval' ? 'interval' : 'rows')} title="Export the rows shown as CSV (e)">
          Export CSV
        </button>
        {probe.kind === 'interval' ? <button onClick={() => void exportCsv(store.history, 'history')}>Export history</button> : null}
        {view.Tools ? <view.Tools api={api} notify={notify} /> : null}
      </div>
      {problem ? (
        <div className="problem" role="alert">
          {problem}
        </div>
      ) : null}
      <div className="source" aria-label="source">
        {state.running ? `Running: ${state.source ?? 'starting…'}` : state.source ? `Stopped. Last run: ${state.source}` : `Stopped. ${capitalize(probe.summary)}.`}
      </div>
      {state.use?.lacks.length ? (
        <ul className="lacks" aria-label="runs without">
          {state.use.lacks.map((l) => (
            <li key={l.feature} data-facility={state.use!.facility}>
              Without {l.feature}: {l.fallback} ({l.reason})
            </li>
          ))}
        </ul>
      ) : null}
      <div className="counters" aria-label="counters">
        {probe.counters
          .filter((c) => !c.loss)
          .map((c) => (
            <span key={c.key} title={c.description}>
              {c.label} <b data-counter={c.key}>{store.counters[c.key] ?? 0}</b>
            </span>
          ))}
        {[...losses, { key: 'shed', label: 'shed', description: 'rows the collector did not send: the display rate limit' }].map((c) => (
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
        <span>
          {paused ? 'paused: ' : ''}showing <b data-counter="shown">{shown.length}</b> of {store.rows.length}
        </span>
        {notice ? <span className="notice">{notice}</span> : null}
      </div>
      {Panel ? <Panel store={store} version={version} names={names} follow={follow} find={setFind} filter={setFilter} /> : null}
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
          emptyText={state.running ? 'Waiting for rows…' : `No rows yet: press ${startLabel}.`}
          renderCell={view.renderCell ? (c, r) => view.renderCell!(c, r, names) : undefined}
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
              {(view.details?.(focus, source) ?? []).map(([k, v]) => (
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
                  void navigator.clipboard.writeText(toCsv(columnsFor(probe.columns, options), selected.size ? shown.filter((r) => selected.has(r)) : [focus])).then(() => {
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

/**
 * The row filter: words separated by spaces, all of which must match. `NAME=value`
 * (NAME a column's CSV name) matches that column exactly; any other word matches
 * any cell containing it, ignoring case. Returns null for an empty filter.
 */
export function rowMatcher(columns: readonly Column<object>[], text: string): ((row: object) => boolean) | null {
  const words = text.trim().split(/\s+/).filter(Boolean);
  if (!words.length) return null;
  const tests = words.map((w) => {
    const eq = /^([A-Za-z_]+)=(.*)$/.exec(w);
    const col = eq && columns.find((c) => c.csv.toLowerCase() === eq[1]!.toLowerCase());
    if (col) return (r: object) => formatCell(col.type, (r as Record<string, unknown>)[col.key]) === eq![2];
    const needle = w.toLowerCase();
    return (r: object) => columns.some((c) => formatCell(c.type, (r as Record<string, unknown>)[c.key]).toLowerCase().includes(needle));
  });
  return (r) => tests.every((t) => t(r));
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
