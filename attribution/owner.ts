// The owners a packet can have besides a process, shared by every probe that
// attributes packets (nettop per interval, tcpdump per packet). Pure.

import type { Owner } from '../core/procfs/proc-net.ts';

export type { Owner };

/** Traffic that no local socket owns (ARP, ICMP, closed ports, forwarded packets). */
export const KERNEL_PID = 0;
export const KERNEL_COMMAND = 'kernel';
/** Traffic whose owner existed but could not be found. */
export const UNKNOWN_PID = -1;
export const UNKNOWN_COMMAND = 'unknown';

export const KERNEL: Owner = Object.freeze({ pid: KERNEL_PID, uid: 0, command: KERNEL_COMMAND });
export const UNKNOWN: Owner = Object.freeze({ pid: UNKNOWN_PID, uid: -1, command: UNKNOWN_COMMAND });
