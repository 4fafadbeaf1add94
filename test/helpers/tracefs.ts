// Helpers for the tracefs probes' root tests: run a source and collect what it
// emits, look at the tracing state the tests promise to leave unchanged.

import { existsSync, readdirSync, readFileSync } from 'node:fs';
import type { ProbeSource, RunningProbe } from '../../runtime/source.ts';

export const TRACEFS = '/sys/kernel/tracing';

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Names of this process's NetProbes instances present now (other processes —
 * concurrent test files, a running collector — may have their own).
 */
export function netprobesInstances(pid = process.pid): string[] {
  if (!existsSync(`${TRACEFS}/instances`)) return [];
  return readdirSync(`${TRACEFS}/instances`).filter((n) => n.startsWith(`netprobes-${pid}-`));
}

/** A probe's own instances of process `pid`, without the helper instance that follows task events (tasks.node.ts). */
export function probeInstances(pid = process.pid): string[] {
  return netprobesInstances(pid).filter((n) => !n.endsWith('-tasks'));
}

/** NetProbes instances whose owner process is gone: what a start must have removed. */
export function staleInstances(): string[] {
  if (!existsSync(`${TRACEFS}/instances`)) return [];
  return readdirSync(`${TRACEFS}/instances`).filter((n) => {
    const m = /^netprobes-(\d+)-/.exec(n);
    return m !== null && !existsSync(`/proc/${m[1]}`);
  });
}

/** The global tracing switches a probe must not touch. */
export function globalTracingState(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of ['tracing_on', 'current_tracer', 'set_event', 'trace_clock', 'buffer_size_kb', 'events/skb/kfree_skb/enable', 'events/sock/inet_sock_set_state/enable', 'events/syscalls/enable']) {
    try {
      out[f] = readFileSync(`${TRACEFS}/${f}`, 'utf8');
    } catch {
      out[f] = '(absent)';
    }
  }
  return out;
}

export interface Collected<Row> {
  readonly running: RunningProbe;
  readonly batches: Row[][];
  readonly rows: () => Row[];
  readonly errors: Error[];
}

export async function startSource<O, Row>(source: ProbeSource<O, Row>, options: O): Promise<Collected<Row>> {
  const batches: Row[][] = [];
  const errors: Error[] = [];
  const running = await source(options, { row: (r) => batches.push([r]), rows: (r) => batches.push(r), fail: (e) => errors.push(e) });
  return { running, batches, errors, rows: () => batches.flat() };
}

/** Waits until `ok()` holds, polling, or throws after `ms`. */
export async function until(ok: () => boolean, ms: number, what: string, everyMs = 50): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}
