// Time-series charts on uPlot, a chart library made for streaming series. What
// they show is what happened: every second (or interval) is a point and a point
// without events is zero (renderer/ui/series.ts), counts per interval are drawn
// as bars (one series) or steps (several), never as lines between distant
// points; axes and the cursor's read-out are in human units; the legend toggles
// a series; every chart spans the same last CHART_SECONDS, so tabs line up. A
// visually hidden table carries the newest points for screen readers.

import { useEffect, useRef } from 'react';
import uPlot from 'uplot';
import { CHART_SECONDS, humanBytes, humanCount, type Points } from './series.ts';

const PALETTE = ['#0d9488', '#3b82f6', '#d97706', '#dc2626', '#8b5cf6', '#0891b2', '#db2777', '#65a30d', '#ea580c', '#64748b'];
export const seriesColor = (i: number): string => PALETTE[i % PALETTE.length]!;
/** Points the hidden data table lists, newest last. */
const TABLE_POINTS = 30;

function cssVar(name: string): string {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || '#888';
}

export type ValueKind = 'count' | 'bytes';
export const formatValue = (kind: ValueKind, v: number): string => (kind === 'bytes' ? humanBytes(v) : humanCount(v));

export function Chart(props: {
  title: string;
  points: Points;
  labels: string[];
  /** What a value is (its unit is said in `unit`, e.g. "/s"). */
  kind: ValueKind;
  unit: string;
  /** 'start': a point's value covers the second that begins at its x; 'end': the interval that ends at its x (a table). */
  align?: 'start' | 'end';
  height?: number;
}) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const shape = props.labels.join('\u0000');
  const { kind, unit } = props;
  const fmt = (v: number | null | undefined) => (v === null || v === undefined ? '–' : `${formatValue(kind, v)}${unit}`);

  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const axis = { stroke: cssVar('--muted'), grid: { stroke: cssVar('--line'), width: 1 }, ticks: { stroke: cssVar('--line') } };
    const bars = props.labels.length === 1;
    const align = props.align === 'end' ? -1 : 1;
    const opts: uPlot.Options = {
      width: Math.max(200, el.clientWidth),
      height: props.height ?? 160,
      legend: { show: true, live: true },
      cursor: { drag: { x: false, y: false } },
      // Every chart spans the same CHART_SECONDS up to its newest point, however few points it has.
      scales: { x: { time: true, range: (_u, _min, max) => [max - CHART_SECONDS + 1, max] }, y: { range: (_u, _min, max) => [0, max > 0 ? max * 1.1 : 1] } },
      axes: [axis, { ...axis, size: 64, values: (_u, splits) => splits.map((v) => formatValue(kind, v)) }],
      series: [
        {},
        ...props.labels.map((label, i) => ({
          label,
          stroke: seriesColor(i),
          fill: bars ? `${seriesColor(i)}99` : undefined,
          width: bars ? 0 : 1.5,
          points: { show: false },
          value: (_u: uPlot, v: number | null) => fmt(v),
          paths: bars ? uPlot.paths.bars!({ size: [0.9, 40], align }) : uPlot.paths.stepped!({ align }),
        })),
      ],
    };
    const u = new uPlot(opts, [props.points.x, ...props.points.ys] as uPlot.AlignedData, el);
    plot.current = u;
    const ro = new ResizeObserver(() => u.setSize({ width: Math.max(200, el.clientWidth), height: props.height ?? 160 }));
    ro.observe(el);
    return () => {
      ro.disconnect();
      u.destroy();
      plot.current = null;
    };
    // Rebuilt only when the set of series changes; data updates go through setData below.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [shape, kind, unit, props.height, props.align]);

  useEffect(() => {
    plot.current?.setData([props.points.x, ...props.points.ys] as uPlot.AlignedData);
  });

  const { x, ys } = props.points;
  const from = Math.max(0, x.length - TABLE_POINTS);
  return (
    <figure className="chart" aria-label={props.title}>
      <figcaption>{props.title}</figcaption>
      <div ref={box} className="chart-box" aria-hidden="true" />
      <table className="sr-only" aria-label={`${props.title}: the newest ${x.length - from} points`}>
        <thead>
          <tr>
            <th scope="col">Time</th>
            {props.labels.map((l) => (
              <th scope="col" key={l}>
                {l}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {x.slice(from).map((t, i) => (
            <tr key={t}>
              <th scope="row">{new Date(t * 1000).toISOString().slice(11, 19)}</th>
              {ys.map((y, s) => (
                <td key={s} data-value={y[from + i] ?? ''}>
                  {fmt(y[from + i])}
                </td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </figure>
  );
}

/** A one-series sparkline without axes or legend, for the overview cards and table cells. */
export function Sparkline(props: { x: number[]; y: (number | null)[]; label: string; height?: number }) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const height = props.height ?? 36;
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const u = new uPlot(
      {
        width: Math.max(60, el.clientWidth),
        height,
        legend: { show: false },
        cursor: { show: false },
        scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, max > 0 ? max : 1] } },
        axes: [{ show: false }, { show: false }],
        series: [{}, { stroke: cssVar('--accent'), fill: `${cssVar('--accent')}33`, width: 1, points: { show: false }, paths: uPlot.paths.stepped!({ align: 1 }) }],
      },
      [props.x, props.y] as uPlot.AlignedData,
      el,
    );
    plot.current = u;
    const ro = new ResizeObserver(() => u.setSize({ width: Math.max(60, el.clientWidth), height }));
    ro.observe(el);
    return () => {
      ro.disconnect();
      u.destroy();
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);
  useEffect(() => {
    plot.current?.setData([props.x, props.y] as uPlot.AlignedData);
  });
  return <div ref={box} className="sparkline" role="img" aria-label={props.label} style={{ height }} />;
}

/** A table cell's trend: one bar per value, scaled to the largest, drawn as SVG (cheap enough for every visible row). */
export function TrendBars(props: { values: readonly number[]; label: string }) {
  const { values } = props;
  const max = Math.max(1, ...values);
  const w = 2;
  return (
    <svg className="trend" width={values.length * w} height={16} role="img" aria-label={props.label}>
      {values.map((v, i) => (v > 0 ? <rect key={i} x={i * w} y={16 - Math.max(1, (v / max) * 16)} width={w - 0.5} height={Math.max(1, (v / max) * 16)} /> : null))}
    </svg>
  );
}
