// A table that renders only the rows in view, so it stays smooth at thousands
// of rows a second. Columns come from the probe's definition: one column
// definition gives the header, the cell and what find searches. A click (or
// Enter) on a header sorts by it (again: descending, a third time: arrival
// order); a drag on a header's edge resizes it. Rows are selected by click
// (shift: a range, ctrl: add one) or with the arrow keys, Home/End and
// PageUp/PageDown, and copied with Ctrl+C as CSV. At the bottom it follows new
// rows; scrolled up, it stays put. NetProbes' own rows, when shown, are marked.

import { useLayoutEffect, useMemo, useRef, useState, type ReactNode } from 'react';
import type { Column } from '../../core/probe.ts';
import { formatCell, toCsv } from '../../core/format.ts';
import { listToArray, type RowList, type Sort } from './rows.ts';

export const ROW_HEIGHT = 24;
const OVERSCAN = 10;
/** Rows are keyed by their slot (index modulo this), so scrolling and following reuse DOM nodes instead of making new ones. */
const SLOTS = 512;

/** Columns whose cell carries the "NetProbes" mark on NetProbes' own rows (else the first column). */
const NAME_KEYS = new Set(['command', 'comm', 'cmd']);

export interface TableProps<Row extends object> {
  columns: readonly Column<Row>[];
  rows: RowList<Row>;
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
  /** NetProbes' own rows (shown marked); null: no mark. */
  isOwn?: ((row: Row) => boolean) | null;
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

  const [cursor, setCursor] = useState(-1);
  const markKey = columns.find((c) => NAME_KEYS.has(c.key))?.key ?? columns[0]?.key;

  const clickRow = (i: number, e: { shiftKey: boolean; ctrlKey: boolean; metaKey: boolean }) => {
    const row = rows.at(i)!;
    setCursor(i);
    let next: Set<Row>;
    if (e.shiftKey && anchor.current !== null) {
      next = new Set();
      const [a, b] = anchor.current < i ? [anchor.current, i] : [i, anchor.current];
      for (let k = a; k <= b; k++) next.add(rows.at(k)!);
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
    const chosen = listToArray(rows).filter((r) => selected.has(r));
    if (!chosen.length) return;
    await navigator.clipboard.writeText(toCsv(columns, chosen));
    props.onCopied?.(chosen.length);
  };

  const first = Math.max(0, Math.floor(scrollTop / ROW_HEIGHT) - OVERSCAN);
  const last = Math.min(rows.length, Math.ceil((scrollTop + height) / ROW_HEIGHT) + OVERSCAN);
  const visible = [];
  for (let i = first; i < last; i++) {
    const row = rows.at(i)!;
    const own = props.isOwn?.(row) ?? false;
    visible.push(
      <div
        className={`vt-row${selected.has(row) ? ' selected' : ''}${i % 2 ? ' odd' : ''}${own ? ' own' : ''}${i === cursor ? ' cursor' : ''}`}
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
            {own && c.key === markKey ? <span className="own-tag">NetProbes</span> : null}
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
        const page = Math.max(1, Math.floor(height / ROW_HEIGHT) - 1);
        const move: Record<string, number> = { ArrowDown: 1, ArrowUp: -1, PageDown: page, PageUp: -page, Home: -Infinity, End: Infinity };
        if (e.key in move && rows.length && !e.ctrlKey && !e.metaKey) {
          e.preventDefault();
          const next = Math.max(0, Math.min(rows.length - 1, (cursor < 0 ? (move[e.key]! > 0 ? -1 : rows.length) : cursor) + move[e.key]!));
          clickRow(next, { shiftKey: e.shiftKey, ctrlKey: false, metaKey: false });
          const el = scroller.current;
          if (el) {
            const top = next * ROW_HEIGHT;
            if (top < el.scrollTop) el.scrollTop = top;
            else if (top + ROW_HEIGHT > el.scrollTop + el.clientHeight) el.scrollTop = top + ROW_HEIGHT - el.clientHeight;
          }
          return;
        }
        if ((e.ctrlKey || e.metaKey) && e.key === 'c') {
          e.preventDefault();
          void copy();
        } else if ((e.ctrlKey || e.metaKey) && e.key === 'a') {
          e.preventDefault();
          props.onSelect(new Set(listToArray(rows)), null);
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
            tabIndex={0}
            onClick={() => clickHeader(c.key)}
            onKeyDown={(e) => {
              if (e.key !== 'Enter' && e.key !== ' ') return;
              e.preventDefault();
              e.stopPropagation();
              clickHeader(c.key);
            }}
          >
            {c.title}
            {sort?.key === c.key ? (sort.dir === 1 ? ' ▲' : ' ▼') : ''}
            <span className="vt-resize" aria-hidden onPointerDown={(e) => startResize(c.key, e)} onClick={(e) => e.stopPropagation()} />
          </div>
        ))}
      </div>
      <div
        className="vt-body"
        // Scrollable by keyboard too (axe: scrollable-region-focusable); the keys are handled by the table around it.
        role="rowgroup"
        tabIndex={0}
        ref={scroller}
        onScroll={(e) => {
          const el = e.currentTarget;
          follow.current = el.scrollTop + el.clientHeight >= rows.length * ROW_HEIGHT - ROW_HEIGHT;
          setScrollTop(el.scrollTop);
        }}
      >
        {/* Not a row (a row would read as data); screen readers have "showing 0 of N" beside the table. */}
        {rows.length === 0 ? (
          <div className="vt-empty" aria-hidden="true">
            {props.emptyText}
          </div>
        ) : null}
        <div style={{ height: rows.length * ROW_HEIGHT, position: 'relative' }}>{visible}</div>
      </div>
    </div>
  );
}
