// Option schemas that several probes share.

import { int, str } from '../shared/schema.ts';

/** A Linux interface name: at most IFNAMSIZ-1 = 15 bytes, no slash or whitespace. */
export const IFACE_NAME = str({ min: 1, max: 15, pattern: /^[A-Za-z0-9_.:@-]+$/ });

/** Seconds per interval for the interval probes (nettop, dropwatch). */
export const INTERVAL_SECONDS = int({ min: 1, max: 60 });

export const FILTER_EXPR = str({ max: 2048 });
