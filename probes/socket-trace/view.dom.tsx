// The socket-call tab: the indented view as thread_indent prints it, threads
// that can be collapsed (hidden) one by one, and a per-function summary:
// calls, errors, mean and max latency.
import { useEffect, useMemo, useState } from 'react';
import type { SockRow } from './definition.ts';
import { useTick } from '../../renderer/ui/store.dom.ts';
import type { PanelProps, ProbeView } from '../../renderer/ui/view.dom.ts';

interface FuncStats {
  func: string;
  calls: number;
  errors: number;
  totalUs: number;
  maxUs: number;
  timed: number;
}

/** Pairs each return with its call on the same thread to time it. */
export function summarize(rows: Iterable<SockRow>, hidden: ((r: object) => boolean) | null = null): FuncStats[] {
  const stats = new Map<string, FuncStats>();
  const open = new Map<number, { func: string; time: number }[]>();
  for (const r of rows) {
    if (hidden?.(r)) continue;
    let s = stats.get(r.func);
    if (!s) stats.set(r.func, (s = { func: r.func, calls: 0, errors: 0, totalUs: 0, maxUs: 0, timed: 0 }));
    const stack = open.get(r.tid) ?? [];
    open.set(r.tid, stack);
    if (r.direction === 'call') {
      s.calls++;
      stack.push({ func: r.func, time: r.time });
    } else {
      if (r.ret < 0) s.errors++;
      const i = stack.map((x) => x.func).lastIndexOf(r.func);
      if (i >= 0) {
        const us = r.time - stack[i]!.time;
        stack.length = i;
        s.totalUs += us;
        s.maxUs = Math.max(s.maxUs, us);
        s.timed++;
      }
    }
  }
  return [...stats.values()].sort((a, b) => b.calls - a.calls);
}

function SocketPanel({ store, filter, hidden }: PanelProps<SockRow>) {
  const rows = store.rows;
  const [collapsed, setCollapsed] = useState<Set<number>>(new Set());
  // Once a second, not every frame: the summaries walk every row held.
  const second = useTick(1000);
  // eslint-disable-next-line react-hooks/exhaustive-deps -- the tick says when to count again
  const stats = useMemo(() => summarize(rows, hidden), [second, hidden]);
  const threads = useMemo(() => {
    const m = new Map<number, { comm: string; pid: number; rows: number }>();
    for (const r of rows) {
      if (hidden?.(r)) continue;
      const t = m.get(r.tid) ?? { comm: r.comm, pid: r.pid, rows: 0 };
      t.rows++;
      m.set(r.tid, t);
    }
    return [...m.entries()].sort((a, b) => b[1].rows - a[1].rows).slice(0, 50);
    // eslint-disable-next-line react-hooks/exhaustive-deps -- the tick says when to count again
  }, [second, hidden]);
  useEffect(() => filter(collapsed.size ? (r: SockRow) => !collapsed.has(r.tid) : null), [collapsed, filter]);

  return (
    <div className="panel-row">
      <table className="mini wide" aria-label="Per-function summary">
        <thead>
          <tr>
            <th>Function</th>
            <th>Calls</th>
            <th>Errors</th>
            <th>Mean µs</th>
            <th>Max µs</th>
          </tr>
        </thead>
        <tbody>
          {stats.slice(0, 12).map((s) => (
            <tr key={s.func}>
              <td>{s.func}</td>
              <td>{s.calls}</td>
              <td className={s.errors ? 'loss' : ''}>{s.errors}</td>
              <td>{s.timed ? Math.round(s.totalUs / s.timed) : '–'}</td>
              <td>{s.timed ? s.maxUs : '–'}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <div className="threads" role="group" aria-label="Threads">
        <div className="muted">Threads (uncheck to collapse)</div>
        {threads.map(([tid, t]) => (
          <label key={tid}>
            <input
              type="checkbox"
              checked={!collapsed.has(tid)}
              onChange={(e) => {
                const next = new Set(collapsed);
                if (e.target.checked) next.delete(tid);
                else next.add(tid);
                setCollapsed(next);
              }}
            />{' '}
            {t.comm}({tid}) <span className="muted">{t.rows}</span>
          </label>
        ))}
      </div>
    </div>
  );
}

export const socketTraceView: ProbeView<SockRow> = {
  Panel: SocketPanel,
  renderCell: (c, r) =>
    c.key === 'func' ? (
      <span className="indent" style={{ paddingLeft: `${(r.depth - 1) * 1.2}em` }}>
        {r.direction === 'call' ? '-> ' : '<- '}
        {r.func}
      </span>
    ) : c.key === 'ret' && r.direction === 'call' ? (
      ''
    ) : undefined,
  details: (r) => [['Result', r.direction === 'call' ? 'a call' : r.ret < 0 ? `error ${-r.ret} (-errno)` : `returned ${r.ret}`]],
  links: (r) => [
    { label: 'Only this thread', probe: 'socket-trace', options: { tid: r.tid } },
    { label: 'Traffic of this process', probe: 'nettop', find: `PID=${r.pid}` },
    { label: 'Connections of this process', probe: 'tcp-connections', find: `PID=${r.pid}`, options: { outbound: true } },
  ],
};
