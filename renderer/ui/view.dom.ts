// What a probe's tab may add to the generic one: a panel above the table
// (charts, summaries), cells drawn its own way, details for a selected row, and
// cross-links to other tabs.

import type { ReactNode } from 'react';
import type { NetprobesApi } from '../../ipc/api.ts';
import type { Column } from '../../core/probe.ts';
import type { ProbeId } from '../../probes/registry.ts';
import type { Names } from './names.dom.ts';
import type { ProbeStore } from './store.dom.ts';
import type { RowList } from './rows.ts';
import type { SinceStartDef } from './since-start.ts';

/** One click from a row in one tab to the rows that belong with it in another. */
export interface CrossLink {
  label: string;
  probe: ProbeId;
  /** Text for the target tab's row filter. */
  find?: string;
  /** Options to set in the target tab; it (re)starts with them. Without, the target starts if it is not running. */
  options?: Record<string, unknown>;
  /** Works out the link when clicked (e.g. asks for a process's ports); its error is shown. */
  prepare?: (api: NetprobesApi) => Promise<CrossLink>;
}

export interface PanelProps<Row extends object = object> {
  /** The probe's own store, its rows typed. */
  store: ProbeStore<Row>;
  version: number;
  names: Names;
  follow: (link: CrossLink) => void;
  /** Sets this tab's row filter text (e.g. a click on a location shows its rows). */
  find: (text: string) => void;
  /** Hides rows the panel rules out (e.g. collapsed threads); null shows all. */
  filter: (keep: ((row: never) => boolean) | null) => void;
  /** NetProbes' own rows while they are hidden (the panel leaves them out of its charts and summaries too); null: none hidden. */
  hidden: ((row: object) => boolean) | null;
  running: boolean;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- each probe has its own row type
export interface ProbeView<Row extends object = any> {
  Panel?: (props: PanelProps<Row>) => ReactNode;
  renderCell?: (column: Column<Row>, row: Row, names: Names) => ReactNode | undefined;
  /**
   * Fields for the details pane beyond the row's own columns; `rows` are the rows the view holds (paused or live),
   * unfiltered; `summed`: they are the since-start totals, not one table.
   */
  details?: (row: Row, rows: RowList<Row>, summed: boolean) => [string, string][];
  /** Interval probes: a "since start" table, every table summed per key; `initially` shows it first. */
  sinceStart?: SinceStartDef<Row> & { initially?: boolean };
  links?: (row: Row) => CrossLink[];
  /** Extra toolbar buttons; `notify` shows a short message beside the counters. */
  Tools?: (props: { api: NetprobesApi; notify: (message: string) => void }) => ReactNode;
}
