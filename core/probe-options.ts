// Option schemas and counters that several probes share.

import type { Counter } from './probe.ts';
import { int, str } from './schema.ts';

/** A Linux interface name: at most IFNAMSIZ-1 = 15 bytes, no slash or whitespace. */
export const IFACE_NAME = str({ min: 1, max: 15, pattern: /^[A-Za-z0-9_.:@-]+$/ });

/** Seconds per interval for the interval probes (nettop, dropwatch). */
export const INTERVAL_SECONDS = int({ min: 1, max: 60 });

/**
 * A libpcap filter expression. Bounded because compiling one costs time that
 * grows faster than its length (measured: 'port 1 or port 2 ...' of 1,000
 * chars 0.1-0.2 s, of 2,048 chars 1 s); the collector also bounds the time.
 */
export const MAX_FILTER_CHARS = 1024;
export const FILTER_EXPR = str({ max: MAX_FILTER_CHARS });

/** The probes that name tasks through the kernel's task events (collector/tracefs/tasks.node.ts) count what they lost. */
export const TASK_EVENTS_LOST: Counter = {
  key: 'taskEventsLost',
  label: 'task events lost',
  description: 'fork/rename/exit events the kernel overwrote before they were read: a process that exited unseen may then show as PID -1',
  loss: true,
};
