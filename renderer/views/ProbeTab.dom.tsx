// One probe's tab: its toolbar (start/stop, pause, clear, options from the
// probe's flags, a row filter, CSV export), what it runs on, its counters
// (losses shown, never hidden) and its table.

import { useEffect, useMemo, useState } from 'react';
import type { InterfaceInfo, NetprobesApi, ProbeState } from '../../electron/shared/api.ts';
import type { Flag } from '../../electron/shared/probe.ts';
import { formatCell, toCsv } from '../../electron/shared/format.ts';
import { MAX_ROWS, useStore, type ProbeStore } from '../store.dom.ts';
import { sortRows, VirtualTable, type Sort } from '../components/VirtualTable.dom.tsx';
import { saveText } from '../save.dom.ts';

export function ProbeTab(props: { api: NetprobesApi; store: ProbeStore; state: ProbeState; collectorProblem: string | null }) {
  const { api, store, state } = props;
  const probe = store.probe;
  const version = useStore(store);
  const [options, setOptions] = useState<Record<string, unknown>>(() => structuredClone(probe.defaults) as Record<string, unknown>);
  const [paused, setPaused] = useState<{ rows: readonly object[] } | null>(null);
  const [find, setFind] = useState('');
  const [sort, setSort] = useState<Sort>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const source = paused ? paused.rows : store.rows;
  const shown = useMemo(() => {
    const needle = find.trim().toLowerCase();
    const filtered = needle
      ? source.filter((r) => probe.columns.some((c) => formatCell(c.type, (r as Record<string, unknown>)[c.key]).toLowerCase().includes(needle)))
      : source;
    return sortRows(filtered, sort);
    // eslint-disable-next-line react-hooks/exhaustive-deps -- version says when store.rows changed in place
  }, [source, version, find, sort, probe]);

  const run = async (what: 'start' | 'stop') => {
    setBusy(true);
    setError(null);
    try {
      if (what === 'start') await api.request({ type: 'start', probe: probe.id, options });
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
      await saveText(api, `netprobes-${probe.id}-${what}-${stamp}.csv`, toCsv(probe.columns, rows));
    } catch (e) {
      setError(`export failed: ${(e as Error).message}`);
    }
  };

  if (!probe.built) {
    return (
      <section className="tab-body placeholder" aria-label={probe.title}>
        <h2>{probe.title}</h2>
        <p>
          Not built yet. This tab will show {probe.summary}, as <code>{probe.seedScript}</code> does, in a later release.
        </p>
        <p>Columns: {probe.columns.map((c) => c.csv).join(', ')}</p>
      </section>
    );
  }

  const problem = error ?? state.problem?.message ?? (state.running ? null : props.collectorProblem);
  const losses = probe.counters.filter((c) => c.loss);
  return (
    <section className="tab-body" aria-label={probe.title}>
      <div className="toolbar" role="toolbar" aria-label={`${probe.title} controls`}>
        {state.running ? (
          <button className="primary" disabled={busy} onClick={() => void run('stop')}>
            Stop
          </button>
        ) : (
          <button className="primary" disabled={busy} onClick={() => void run('start')}>
            Start
          </button>
        )}
        <button aria-pressed={!!paused} onClick={() => setPaused(paused ? null : { rows: [...store.rows] })}>
          {paused ? 'Resume' : 'Pause'}
        </button>
        <button onClick={() => store.clear()}>Clear</button>
        {probe.flags.map((f) => (
          <OptionField key={f.name} flag={f} api={api} value={options[f.option]} disabled={state.running} onChange={(v) => setOptions({ ...options, [f.option]: v })} />
        ))}
        <input className="find" type="search" placeholder="Find in rows" aria-label="Find in rows" value={find} onChange={(e) => setFind(e.target.value)} />
        <button onClick={() => void exportCsv(shown, probe.kind === 'interval' ? 'interval' : 'rows')}>Export CSV</button>
        {probe.kind === 'interval' ? <button onClick={() => void exportCsv(store.history, 'history')}>Export history</button> : null}
      </div>
      {problem ? (
        <div className="problem" role="alert">
          {problem}
        </div>
      ) : null}
      <div className="source" aria-label="source">
        {state.running ? `Running: ${state.source ?? 'starting…'}` : state.source ? `Stopped. Last run: ${state.source}` : `Stopped. ${probe.summary}.`}
      </div>
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
      </div>
      <VirtualTable
        columns={probe.columns}
        rows={shown}
        version={version}
        sort={sort}
        onSort={setSort}
        label={`${probe.title} rows`}
        emptyText={state.running ? 'Waiting for rows…' : 'No rows yet: press Start.'}
      />
    </section>
  );
}

function OptionField(props: { flag: Flag; api: NetprobesApi; value: unknown; disabled: boolean; onChange: (v: unknown) => void }) {
  const { flag, value, disabled, onChange } = props;
  const [ifaces, setIfaces] = useState<InterfaceInfo[]>([]);
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
        <input type="checkbox" disabled={disabled} checked={!!value} onChange={(e) => onChange(e.target.checked)} /> {flag.label ?? flag.name}
      </label>
    );
  }
  if (flag.kind === 'int') {
    return (
      <label title={flag.help}>
        {flag.label ?? flag.name}{' '}
        <input type="number" className="int" min={1} disabled={disabled} value={Number(value)} onChange={(e) => onChange(Number(e.target.value))} />
      </label>
    );
  }
  return (
    <input
      type="text"
      className="option-text"
      aria-label={flag.label ?? flag.name}
      title={flag.help}
      placeholder={flag.help.split(/[(,]/)[0]}
      disabled={disabled}
      value={String(value ?? '')}
      onChange={(e) => onChange(flag.kind === 'repeat' ? e.target.value.split(/[\s,]+/).filter(Boolean) : e.target.value)}
    />
  );
}
