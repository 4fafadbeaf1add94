// socket-trace's indenter: syscall enter/exit and the sock_*_length events
// nested in them → call/return rows per thread, as SystemTap's thread_indent()
// numbers and indents them. Pure, unit tested without root.
//
// thread_indent(delta): the time is µs since the thread's outermost open call
// (reset whenever its depth returns to 0); a call at depth d (1 = outermost) and
// its return are indented by d-1 spaces. sock_send_length / sock_recv_length
// fire inside sock_sendmsg / sock_recvmsg (net/socket.c) once they are done, so
// each becomes a call and a return of that function at one instant, one level
// inside the syscall that made it (or at the top for write()/read() on a socket).

import type { SockRow } from './definition.ts';

export type TraceEvent =
  | { readonly kind: 'enter'; readonly tsNs: number; readonly tid: number; readonly func: string }
  | { readonly kind: 'exit'; readonly tsNs: number; readonly tid: number; readonly func: string; readonly ret?: number }
  | { readonly kind: 'inner'; readonly tsNs: number; readonly tid: number; readonly func: string };

export interface Who {
  readonly pid: number;
  readonly command: string;
}

interface Thread {
  depth: number;
  startNs: number;
  /** Functions open on this thread, innermost last. */
  stack: string[];
  /** The outermost call was shed by the rate limit: shed everything until it returns. */
  shedding: boolean;
  lastNs: number;
}

export interface IndentCounters {
  rows: number;
  /** Top-level calls (and all within them) shed by the rate limit. */
  rateShed: number;
  /** Returns whose call began before the probe started (or was never seen): skipped. */
  unmatched: number;
  /** Threads forgotten because the table of threads was full. */
  threadsEvicted: number;
  /**
   * Syscalls whose return event never came (lost in the kernel, counted there): a thread cannot enter a syscall while
   * in one, so an open one is closed, without a row, when the thread's next syscall begins.
   */
  unreturned: number;
}

export const MAX_THREADS = 10_000;
const MAX_DEPTH = 64;

export class Indenter {
  private readonly threads = new Map<number, Thread>();
  readonly counts: IndentCounters = { rows: 0, rateShed: 0, unmatched: 0, threadsEvicted: 0, unreturned: 0 };
  private tokens: number;
  private lastRefillNs = -1;

  /** `ratePerSec`: most top-level calls admitted per second (a token bucket with one second of burst); 0 = no limit. */
  constructor(
    private readonly who: (tid: number, tsNs: number) => Who,
    private readonly epochUs: (tsNs: number) => number,
    private readonly ratePerSec: number,
  ) {
    this.tokens = ratePerSec;
  }

  process(events: readonly TraceEvent[]): SockRow[] {
    const rows: SockRow[] = [];
    for (const e of events) {
      if (e.kind === 'enter') {
        this.closeLostSyscall(e.tid);
        this.enter(e.tid, e.func, e.tsNs, rows);
      }
      else if (e.kind === 'exit') this.exit(e.tid, e.func, e.tsNs, rows, e.ret ?? 0);
      else {
        this.enter(e.tid, e.func, e.tsNs, rows);
        this.exit(e.tid, e.func, e.tsNs, rows);
      }
    }
    return rows;
  }

  /** A syscall begins: if the thread is still inside one, that one's return was lost. */
  private closeLostSyscall(tid: number): void {
    const t = this.threads.get(tid);
    if (!t || t.depth === 0) return;
    const open = t.stack.findIndex((f) => f.startsWith('sys_'));
    if (open < 0) return;
    this.counts.unreturned++;
    t.depth -= t.stack.length - open;
    t.stack.length = open;
    if (t.depth === 0) t.shedding = false;
  }

  private admit(tsNs: number): boolean {
    if (this.ratePerSec <= 0) return true;
    if (this.lastRefillNs >= 0) this.tokens = Math.min(this.ratePerSec, this.tokens + ((tsNs - this.lastRefillNs) / 1e9) * this.ratePerSec);
    this.lastRefillNs = tsNs;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  private thread(tid: number, tsNs: number): Thread {
    let t = this.threads.get(tid);
    if (!t) {
      if (this.threads.size >= MAX_THREADS) {
        // Forget the thread idle longest.
        let oldest = -1;
        let at = Infinity;
        for (const [id, th] of this.threads) if (th.lastNs < at) [oldest, at] = [id, th.lastNs];
        this.threads.delete(oldest);
        this.counts.threadsEvicted++;
      }
      t = { depth: 0, startNs: tsNs, stack: [], shedding: false, lastNs: tsNs };
      this.threads.set(tid, t);
    }
    t.lastNs = tsNs;
    return t;
  }

  private enter(tid: number, func: string, tsNs: number, rows: SockRow[]): void {
    const t = this.thread(tid, tsNs);
    if (t.depth === 0) {
      t.startNs = tsNs;
      t.shedding = !this.admit(tsNs);
      if (t.shedding) this.counts.rateShed++;
    }
    if (t.depth >= MAX_DEPTH) return;
    t.depth++;
    t.stack.push(func);
    if (!t.shedding) rows.push(this.row(tid, t, tsNs, t.depth, 'call', func));
  }

  private exit(tid: number, func: string, tsNs: number, rows: SockRow[], ret = 0): void {
    const t = this.threads.get(tid);
    if (!t || t.depth === 0 || !t.stack.includes(func)) {
      this.counts.unmatched++;
      return;
    }
    t.lastNs = tsNs;
    // Close anything opened inside that never returned (cannot happen with syscalls; defensive).
    while (t.stack.length && t.stack[t.stack.length - 1] !== func) {
      t.stack.pop();
      t.depth--;
    }
    const depth = t.depth;
    t.stack.pop();
    t.depth--;
    if (!t.shedding) rows.push(this.row(tid, t, tsNs, depth, 'return', func, ret));
    if (t.depth === 0) t.shedding = false;
  }

  private row(tid: number, t: Thread, tsNs: number, depth: number, direction: 'call' | 'return', func: string, ret = 0): SockRow {
    this.counts.rows++;
    const w = this.who(tid, tsNs);
    return {
      time: this.epochUs(tsNs),
      relUs: Math.floor((tsNs - t.startNs) / 1000),
      comm: w.command,
      pid: w.pid,
      tid,
      depth,
      direction,
      func,
      ret,
    };
  }
}
