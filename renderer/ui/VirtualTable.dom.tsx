// A table that renders only the rows in view, so it stays smooth at thousands
// of rows a second. Columns come from the probe's definition. A click on a
// header sorts by it (again: descending, a third time: arrival order); a drag
// on a header's edge resizes it. Rows are selected by click (shift: a range,
// ctrl: add one) and copied with Ctrl+C as CSV. At the bottom it follows new
// rows; scrolled up, it stays put.

import { useLayoutEffect, useMemo, useRef, useState, type ReactNode } from 'react';
import type { Column } from '../../core/probe.ts';
import { formatCell, toCsv } from '../../core/format.ts';

export const ROW_HEIGHT = 24;
const OVERSCAN = 10;
/** Rows are keyed by their slot (index modulo this), so scrolling and following reuse DOM nodes instead of making new ones. */
const SLOTS = 512;

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

export interface TableProps<Row extends object> {
  columns: readonly Column<Row>[];
  rows: readonly Row[];
  version: number;
  sort: Sort;
  onSort: (s: Sort) => void;
  widths: Record<string, number>;
  onResize: (key: string, width: number) => void;
  selected: ReadonlySet<Row>;
  onSelect: (rows: Set<Row>, focus: Row | null) => void;
  label: string;
  emptyText: string;
  /** A cell's content other than its formatted value (names for addresses, indentation); undefined: the default. */
  renderCell?: (column: Column<Row>, row: Row) => ReactNode | undefined;
  onCopied?: (n: number) => void;
}

export function VirtualTable<Row extends object>(props: TableProps<Row>) {
  const { columns, rows, sort, selected } = props;
  const scroller = useRef<HTMLDivElement>(null);
  const [scrollTop, setScrollTop] = useState(0);
  const [height, setHeight] = useState(400);
  const follow = useRef(true);
  const anchor = useRef<number | null>(null);
  const template = useMemo(() => columns.map((c) => `${props.widths[c.key] ?? c.width}px`).join(' ') + ' 1fr', [columns, props.widths]);

  useLayoutEffect(() => {
    const el = scroller.current;
    if (!el) return;
    const ro = new ResizeObserver(() => setHeight(el.clientHeight));
    ro.observe(el);
    return () => ro.disconnect();
  }, []);

  // Keep following the newest rows while the user is at the bottom. The bottom is computed, not read
  // from scrollHeight, which would force a layout on every batch.
  useLayoutEffect(() => {
    const el = scroller.current;
    if (el && follow.current && !sort) {
      const bottom = Math.max(0, rows.length * ROW_HEIGHT - height);
      el.scrollTop = bottom;
      setScrollTop(bottom);
    }
  }, [props.version, rows.length, sort, height]);

  const clickRow = (i: number, e: React.MouseEvent) => {
    const row = rows[i]!;
    let next: Set<Row>;
    if (e.shiftKey && anchor.current !== null) {
      next = new Set();
      const [a, b] = anchor.current < i ? [anchor.current, i] : [i, anchor.current];
      for (let k = a; k <= b; k++) next.add(rows[k]!);
    } else if (e.ctrlKey || e.metaKey) {
      next = new Set(selected);
      if (next.has(row)) next.delete(row);
      else next.add(row);
      anchor.current = i;
    } else {
      next = new Set([row]);
      anchor.current = i;
    }
    props.onSelect(next, row);
  };

  const copy = async () => {
    const chosen = rows.filter((r) => selected.has(r));
    if (!chosen.length) return;
    await navigator.clipboard.writeText(toCsv(columns, chosen));
    props.onCopied?.(chosen.length);
  };

  const first = Math.max(0, Math.floor(scrollTop / ROW_HEIGHT) - OVERSCAN);
  const last = Math.min(rows.length, Math.ceil((scrollTop + height) / ROW_HEIGHT) + OVERSCAN);
  const visible = [];
  for (let i = first; i < last; i++) {
    const row = rows[i]!;
    visible.push(
      <div
        className={`vt-row${selected.has(row) ? ' selected' : ''}${i % 2 ? ' odd' : ''}`}
        role="row"
        aria-rowindex={i + 2}
        aria-selected={selected.has(row)}
        key={i % SLOTS}
        style={{ transform: `translateY(${i * ROW_HEIGHT}px)` }}
        onClick={(e) => clickRow(i, e)}
      >
        {columns.map((c) => (
          <div role="cell" className={`vt-cell ${c.type}`} key={c.key}>
            {props.renderCell?.(c, row) ?? formatCell(c.type, row[c.key])}
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

  const startResize = (key: string, e: React.PointerEvent) => {
    e.preventDefault();
    e.stopPropagation();
    const start = e.clientX;
    const width = props.widths[key] ?? columns.find((c) => c.key === key)!.width;
    const move = (m: PointerEvent) => props.onResize(key, Math.max(32, width + m.clientX - start));
    const up = () => {
      window.removeEventListener('pointermove', move);
      window.removeEventListener('pointerup', up);
    };
    window.addEventListener('pointermove', move);
    window.addEventListener('pointerup', up);
  };

  return (
    <div
      className="vt"
      style={{ '--vt-columns': template } as React.CSSProperties}
      role="table"
      aria-label={props.label}
      aria-rowcount={rows.length + 1}
      tabIndex={0}
      onKeyDown={(e) => {
        if ((e.ctrlKey || e.metaKey) && e.key === 'c') {
          e.preventDefault();
          void copy();
        } else if ((e.ctrlKey || e.metaKey) && e.key === 'a') {
          e.preventDefault();
          props.onSelect(new Set(rows), null);
        }
      }}
    >
      <div className="vt-head" role="row">
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
            <span className="vt-resize" aria-hidden onPointerDown={(e) => startResize(c.key, e)} onClick={(e) => e.stopPropagation()} />
          </div>
        ))}
      </div>
      <div
        className="vt-body"
        ref={scroller}
        onScroll={(e) => {
          const el = e.currentTarget;
          follow.current = el.scrollTop + el.clientHeight >= rows.length * ROW_HEIGHT - ROW_HEIGHT;
          setScrollTop(el.scrollTop);
        }}
      >
        {rows.length === 0 ? <div className="vt-empty">{props.emptyText}</div> : null}
        <div style={{ height: rows.length * ROW_HEIGHT, position: 'relative' }}>{visible}</div>
      </div>
    </div>
  );
}
