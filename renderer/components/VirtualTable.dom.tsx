// A table that renders only the rows in view, so it stays smooth at thousands
// of rows a second. Columns come from the probe's definition; a click on a
// header sorts by it (again: descending, a third time: arrival order). At the
// bottom it follows new rows; scrolled up, it stays put.

import { useLayoutEffect, useMemo, useRef, useState } from 'react';
import type { Column } from '../../electron/shared/probe.ts';
import { formatCell } from '../../electron/shared/format.ts';

const ROW_HEIGHT = 24;
const OVERSCAN = 10;

export type Sort = { key: string; dir: 1 | -1 } | null;

export function sortRows<Row extends object>(rows: readonly Row[], sort: Sort): readonly Row[] {
  if (!sort) return rows;
  const k = sort.key as keyof Row;
  return [...rows].sort((a, b) => {
    const x = a[k];
    const y = b[k];
    return (x < y ? -1 : x > y ? 1 : 0) * sort.dir;
  });
}

export function VirtualTable<Row extends object>(props: {
  columns: readonly Column<Row>[];
  rows: readonly Row[];
  version: number;
  sort: Sort;
  onSort: (s: Sort) => void;
  label: string;
  emptyText: string;
}) {
  const { columns, rows, sort } = props;
  const scroller = useRef<HTMLDivElement>(null);
  const [scrollTop, setScrollTop] = useState(0);
  const [height, setHeight] = useState(400);
  const follow = useRef(true);
  const template = useMemo(() => columns.map((c) => `${c.width}px`).join(' ') + ' 1fr', [columns]);

  useLayoutEffect(() => {
    const el = scroller.current;
    if (!el) return;
    const ro = new ResizeObserver(() => setHeight(el.clientHeight));
    ro.observe(el);
    return () => ro.disconnect();
  }, []);

  // Keep following the newest rows while the user is at the bottom.
  useLayoutEffect(() => {
    const el = scroller.current;
    if (el && follow.current && !sort) {
      el.scrollTop = el.scrollHeight;
      setScrollTop(el.scrollTop);
    }
  }, [props.version, rows.length, sort]);

  const first = Math.max(0, Math.floor(scrollTop / ROW_HEIGHT) - OVERSCAN);
  const last = Math.min(rows.length, Math.ceil((scrollTop + height) / ROW_HEIGHT) + OVERSCAN);
  const visible = [];
  for (let i = first; i < last; i++) {
    const row = rows[i]!;
    visible.push(
      <div className="vt-row" role="row" aria-rowindex={i + 2} key={i} style={{ top: i * ROW_HEIGHT, gridTemplateColumns: template }}>
        {columns.map((c) => (
          <div role="cell" className={`vt-cell ${c.type}`} key={c.key}>
            {formatCell(c.type, row[c.key])}
          </div>
        ))}
      </div>,
    );
  }

  const clickHeader = (key: string) => {
    if (!sort || sort.key !== key) props.onSort({ key, dir: 1 });
    else if (sort.dir === 1) props.onSort({ key, dir: -1 });
    else props.onSort(null);
  };

  return (
    <div className="vt" role="table" aria-label={props.label} aria-rowcount={rows.length + 1}>
      <div className="vt-head" role="row" style={{ gridTemplateColumns: template }}>
        {columns.map((c) => (
          <div
            role="columnheader"
            key={c.key}
            title={`${c.csv}: ${c.description}`}
            className={`vt-cell ${c.type}`}
            aria-sort={sort?.key === c.key ? (sort.dir === 1 ? 'ascending' : 'descending') : 'none'}
            onClick={() => clickHeader(c.key)}
          >
            {c.title}
            {sort?.key === c.key ? (sort.dir === 1 ? ' ▲' : ' ▼') : ''}
          </div>
        ))}
      </div>
      <div
        className="vt-body"
        ref={scroller}
        onScroll={(e) => {
          const el = e.currentTarget;
          follow.current = el.scrollTop + el.clientHeight >= el.scrollHeight - ROW_HEIGHT;
          setScrollTop(el.scrollTop);
        }}
      >
        {rows.length === 0 ? <div className="vt-empty">{props.emptyText}</div> : null}
        <div style={{ height: rows.length * ROW_HEIGHT, position: 'relative' }}>{visible}</div>
      </div>
    </div>
  );
}
