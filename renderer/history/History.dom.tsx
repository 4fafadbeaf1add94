// The History view: what was recorded, over a time range (presets from 15
// minutes to 30 days, or drag across the timeline to zoom in), for one kind
// (traffic per process, flows, drops, connections, counters) grouped as asked,
// the top groups with their timelines, a filter (COLUMN=value, e.g.
// IP_SOURCE=10.0.0.2: who talked to this address), a CSV export, and the
// recording switch and "Clear history". The host answers every question from
// the database (historyQuery); nothing here keeps history of its own.

import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import uPlot from 'uplot';
import type { HostState, NetprobesApi } from '../../ipc/api.ts';
import { answerCsv, type RangeAnswer } from '../../history/answer.ts';
import { HISTORY_KINDS, PLANS, type Grouping, type HistoryKind } from '../../history/plan.ts';
import { isoMicros } from '../../core/format.ts';
import { saveText } from '../ui/save.dom.ts';
import { seriesColor } from '../ui/Chart.dom.tsx';
import { describeRetention, RETENTION_BOUNDS, type Retention } from '../../history/retention.ts';

const PRESETS: [string, number][] = [
  ['15 min', 900],
  ['1 hour', 3600],
  ['6 hours', 6 * 3600],
  ['24 hours', 86400],
  ['7 days', 7 * 86400],
  ['30 days', 30 * 86400],
];
const TOP = 50;
const CHARTED = 8;

type Range = { preset: number } | { from: number; to: number };
const resolve = (r: Range): { from: number; to: number } => {
  const now = Math.floor(Date.now() / 1000) + 1;
  return 'preset' in r ? { from: now - r.preset, to: now } : r;
};

/** "COLUMN=value" (the CSV name or the key), the value a number where the column is one. */
function parseFilter(kind: HistoryKind, text: string): Record<string, string | number> | string {
  const where: Record<string, string | number> = {};
  for (const part of text.split(/\s+/).filter(Boolean)) {
    const eq = part.indexOf('=');
    const name = part.slice(0, Math.max(0, eq));
    const dim = PLANS[kind].dims.find((d) => d.csv === name.toUpperCase() || d.key === name);
    if (!dim) return `no column ${name || part} in ${PLANS[kind].title} (${PLANS[kind].dims.map((d) => d.csv).join(', ')})`;
    const value = part.slice(eq + 1);
    where[dim.key] = dim.type === 'int' ? Number(value) : value;
  }
  return where;
}

export function HistoryView(props: { api: NetprobesApi; state: HostState['history']; active: boolean }) {
  const { api, state } = props;
  const [kind, setKind] = useState<HistoryKind>('nettop');
  const [by, setBy] = useState<Grouping>('process');
  const [range, setRange] = useState<Range>({ preset: 3600 });
  const [filter, setFilter] = useState('');
  const [answer, setAnswer] = useState<RangeAnswer | null>(null);
  /** The range the answer is for: its timeline spans it. */
  const [span, setSpan] = useState({ from: 0, to: 0 });
  const [error, setError] = useState<string | null>(null);
  const [asked, setAsked] = useState(0);

  const groupings = Object.keys(PLANS[kind].by) as Grouping[];
  const where = useMemo(() => parseFilter(kind, filter), [kind, filter]);
  const zoom = useCallback((f: number, t: number) => setRange({ from: Math.floor(f), to: Math.ceil(t) }), []);
  useEffect(() => {
    if (!props.active || typeof where === 'string') return;
    const { from, to } = resolve(range);
    let current = true;
    api.request({ type: 'historyQuery', kind, by, from, to, top: TOP, timeline: true, ...(Object.keys(where).length ? { where } : {}) }).then(
      (a) => current && (setAnswer(a), setSpan({ from, to }), setError(null)),
      (e: Error) => current && setError(e.message),
    );
    return () => void (current = false);
  }, [api, kind, by, range, where, asked, props.active]);

  const pickKind = (k: HistoryKind) => {
    setKind(k);
    if (!PLANS[k].by[by]) setBy(PLANS[k].by.process ? 'process' : 'all');
  };
  const { from, to } = resolve(range);
  const rangeText = `${new Date(from * 1000).toLocaleString()} – ${new Date(to * 1000).toLocaleString()}`;

  return (
    <div className="tab-body history" role="region" aria-label="History">
      <div className="toolbar" role="toolbar" aria-label="History range">
        <span className={state.recording ? 'recording' : 'loss'} data-history-recording={state.recording ? '1' : '0'}>
          {state.recording ? `Recording history to ${state.path}` : `Not recording history: ${state.problem ?? 'off'}`}
        </span>
        {state.path ? (
          <label className="toggle">
            <input type="checkbox" checked={state.recording} onChange={(e) => void api.request({ type: 'setHistory', recording: e.target.checked })} /> Record history
          </label>
        ) : null}
        <span className="grow" />
        <button
          onClick={() => {
            if (!confirm('Delete all recorded history?')) return;
            void api.request({ type: 'clearHistory' }).then(() => setAsked((n) => n + 1), (e: Error) => setError(e.message));
          }}
        >
          Clear history
        </button>
      </div>
      {state.notice ? <div className="problem">{state.notice}</div> : null}
      {state.retention ? <RetentionSettings key={JSON.stringify(state.retention)} api={api} retention={state.retention} onError={setError} /> : null}
      <div className="toolbar">
        <select aria-label="What" value={kind} onChange={(e) => pickKind(e.target.value as HistoryKind)}>
          {HISTORY_KINDS.map((k) => (
            <option key={k} value={k}>
              {PLANS[k].title}
            </option>
          ))}
        </select>
        <select aria-label="Group by" value={by} onChange={(e) => setBy(e.target.value as Grouping)}>
          {groupings.map((g) => (
            <option key={g} value={g}>
              by {g}
            </option>
          ))}
        </select>
        {PRESETS.map(([label, seconds]) => (
          <button key={label} aria-pressed={'preset' in range && range.preset === seconds} onClick={() => setRange({ preset: seconds })}>
            {label}
          </button>
        ))}
        <button onClick={() => setAsked((n) => n + 1)} title="Ask again (the range moves on with the clock)">
          Refresh
        </button>
        <input className="find" aria-label="Filter" placeholder="filter: COLUMN=value …" value={filter} onChange={(e) => setFilter(e.target.value)} />
        <button disabled={!answer?.groups.length} onClick={() => answer && void saveText(api, `history-${kind}-${by}.csv`, answerCsv(answer).join('\n') + '\n')}>
          Export CSV
        </button>
      </div>
      <div className="source">
        {rangeText} {'from' in range ? <button onClick={() => setRange({ preset: 3600 })}>back to the last hour</button> : <span>(drag across the timeline to zoom in)</span>}
      </div>
      {typeof where === 'string' ? <div className="problem">{where}</div> : error ? <div className="problem">{error}</div> : null}
      {answer && answer.groups.length ? <Timeline answer={answer} span={span} onSelect={zoom} /> : null}
      <HistoryTable answer={answer} />
    </div>
  );
}

function label(a: RangeAnswer, g: RangeAnswer['groups'][number]): string {
  return g.key.map((v, i) => `${a.dims[i]!.csv}=${v}`).join(' ');
}

/** The top groups' timelines (the kind's ranked measures summed), one line each; a drag across it selects a range. */
function Timeline(props: { answer: RangeAnswer; span: { from: number; to: number }; onSelect: (from: number, to: number) => void }) {
  const box = useRef<HTMLDivElement>(null);
  const { onSelect, answer: a, span } = props;
  const draw = useCallback(() => {
    const el = box.current;
    if (!el) return () => {};
    const groups = a.groups.slice(0, CHARTED);
    const rank = PLANS[a.kind].rank;
    const xs = [...new Set(groups.flatMap((g) => (g.points ?? []).map((p) => p[0]!)))].sort((x, y) => x - y);
    const index = new Map(xs.map((x, i) => [x, i]));
    const ys = groups.map((g) => {
      const v = new Array<number | null>(xs.length).fill(null);
      for (const p of g.points ?? []) v[index.get(p[0]!)!] = rank.reduce((n, i) => n + p[i + 1]!, 0);
      return v;
    });
    const unit = `${rank.map((i) => a.measures[i]!.title).join(' + ')} per ${a.step >= 3600 ? 'hour' : a.step >= 60 ? `${a.step / 60} min` : `${a.step} s`}`;
    const u = new uPlot(
      {
        width: Math.max(200, el.clientWidth),
        height: 180,
        legend: { show: true, live: false },
        cursor: { drag: { x: true, y: false, setScale: false } },
        // The range asked for, not uPlot's guess from the points: one bucket alone was drawn across years.
        scales: { x: { time: true, range: (): uPlot.Range.MinMax => [span.from, span.to] } },
        axes: [{}, { label: unit, size: 60 }],
        series: [{}, ...groups.map((g, i) => ({ label: label(a, g), stroke: seriesColor(i), width: 1.5, points: { show: true, size: 4, fill: seriesColor(i) } }))],
        hooks: {
          setSelect: [
            (p: uPlot) => {
              if (p.select.width < 4) return;
              onSelect(p.posToVal(p.select.left, 'x'), p.posToVal(p.select.left + p.select.width, 'x'));
            },
          ],
        },
      },
      [xs, ...ys] as uPlot.AlignedData,
      el,
    );
    const ro = new ResizeObserver(() => u.setSize({ width: Math.max(200, el.clientWidth), height: 180 }));
    ro.observe(el);
    return () => {
      ro.disconnect();
      u.destroy();
    };
  }, [a, span, onSelect]);
  useEffect(draw, [draw]);
  return (
    <figure className="chart" aria-label="History timeline">
      <figcaption>Top {Math.min(CHARTED, a.groups.length)} over time</figcaption>
      <div ref={box} className="chart-box" />
    </figure>
  );
}

function HistoryTable(props: { answer: RangeAnswer | null }) {
  const a = props.answer;
  if (!a) return <div className="placeholder">Loading…</div>;
  if (!a.groups.length) return <div className="placeholder">Nothing recorded in this range.</div>;
  return (
    <div className="history-table">
      <table aria-label="History rows">
        <thead>
          <tr>
            {[...a.dims.map((d) => d.title), ...a.measures.map((m) => m.title), 'First seen', 'Last seen'].map((h) => (
              <th key={h}>{h}</th>
            ))}
          </tr>
        </thead>
        <tbody>
          {a.groups.map((g) => (
            <tr key={JSON.stringify(g.key)}>
              {g.key.map((v, i) => (
                <td key={`k${i}`}>{String(v)}</td>
              ))}
              {g.m.map((v, i) => (
                <td key={`m${i}`} className="int">
                  {v}
                </td>
              ))}
              <td>{isoMicros(g.first).slice(0, 19).replace('T', ' ')}</td>
              <td>{isoMicros(g.last).slice(0, 19).replace('T', ' ')}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** The status bar's plain word on recording: always there, so the user knows whether the past is being kept. */
export function HistoryStatus(props: { state: HostState['history'] | undefined; onOpen: () => void }) {
  const h = props.state;
  if (!h) return null;
  return (
    <button className={`history-status${h.recording ? '' : ' loss'}`} onClick={props.onOpen} title={h.path ?? ''}>
      {h.recording ? 'Recording history' : 'History off'}
    </button>
  );
}

const DAY = 86_400;
const MIB = 2 ** 20;

/** How long history is kept and how large it may grow, in days and MiB; the CLI takes finer durations (--keep-raw 12h). */
function RetentionSettings(props: { api: NetprobesApi; retention: Retention; onError: (e: string | null) => void }) {
  const { retention: r } = props;
  const initial = { raw: r.keep.raw / DAY, minute: r.keep.minute / DAY, hour: r.keep.hour / DAY, mib: r.maxBytes / MIB };
  // The caller keys this by the retention in force, so a change saved elsewhere starts the form over.
  const [form, setForm] = useState(initial);
  const field = (name: keyof typeof initial, label: string, max: number) => (
    <label>
      {label}{' '}
      <input type="number" min={1} max={max} step={1} value={form[name]} onChange={(e) => setForm({ ...form, [name]: Number(e.target.value) })} />
    </label>
  );
  const maxDays = Math.floor(RETENTION_BOUNDS.maxKeepS / DAY);
  const apply = () => {
    const whole = (v: number, unit: number) => Math.round(v * unit);
    void props.api
      .request({ type: 'setRetention', raw: whole(form.raw, DAY), minute: whole(form.minute, DAY), hour: whole(form.hour, DAY), maxBytes: whole(form.mib, MIB) })
      .then(() => props.onError(null), (e: Error) => props.onError(`retention not changed: ${e.message}`));
  };
  return (
    <details className="retention">
      <summary>Kept: {describeRetention(r).replace(/^history keeps /, '')}</summary>
      <div className="toolbar" role="group" aria-label="Retention">
        {field('raw', 'Each second, days', maxDays)}
        {field('minute', 'Each minute, days', maxDays)}
        {field('hour', 'Each hour, days', maxDays)}
        {field('mib', 'At most, MiB', Math.floor(RETENTION_BOUNDS.maxBytes / MIB))}
        <button onClick={apply}>Apply</button>
        <span className="muted">Older data is removed at once and every minute; the same as netprobes history --keep-raw …</span>
      </div>
    </details>
  );
}
