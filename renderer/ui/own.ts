// NetProbes' own activity in a probe's rows: the host names its own processes
// (itself, the collector and its supervisor, the window that shows it) and the
// ports its window talks over (serve's), and a row is NetProbes' own when its
// PID is one of those processes or one of its ports is one of those ports. Which
// cells hold a PID or a port is read from the probe's column keys, so a probe
// that gains a PID column (or a port column) is covered without a change here.

import type { Column } from '../../core/probe.ts';
import type { OwnActivity } from '../../ipc/api.ts';

const PID_KEYS = new Set(['pid']);
const PORT_KEYS = new Set(['sport', 'dport', 'port', 'remotePort']);

/** A test for NetProbes' own rows of a probe, or null when nothing can be recognised (no list, or no such column). */
export function ownMatcher(columns: readonly Column<object>[], own: OwnActivity | null | undefined): ((row: object) => boolean) | null {
  if (!own || (!own.pids.length && !own.ports.length)) return null;
  const pidKeys = own.pids.length ? columns.filter((c) => PID_KEYS.has(c.key) && c.type === 'int').map((c) => c.key) : [];
  const portKeys = own.ports.length ? columns.filter((c) => PORT_KEYS.has(c.key) && c.type === 'int').map((c) => c.key) : [];
  if (!pidKeys.length && !portKeys.length) return null;
  const pids = new Set(own.pids);
  const ports = new Set(own.ports);
  return (row) => {
    const r = row as Record<string, number>;
    for (const k of pidKeys) if (pids.has(r[k]!)) return true;
    for (const k of portKeys) if (ports.has(r[k]!)) return true;
    return false;
  };
}
