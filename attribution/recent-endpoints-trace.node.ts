// Feeds a RecentEndpoints table (recent-endpoints.ts) from tracepoints that
// run in the context of the task using a socket and carry its ports, in a
// private tracefs instance read in binary per CPU:
//
//   fib:fib_table_lookup     IPv4 route lookups: every sendmsg of an unconnected
//                            UDP socket, connect() (TCP, UDP), with proto, src,
//                            sport, dst, dport (src 0.0.0.0 before the source
//                            address is chosen)
//   fib6:fib6_table_lookup   the same for IPv6 (src :: when not chosen)
//   sock:inet_sock_set_state TCP state changes; those in task context
//                            (connect, close) name the socket's process
//
// Only events in task context are used: softirq, hardirq and NMI events
// (common_flags) run in whatever task the CPU was in — on lo, the SYN-ACK of a
// server is looked up in the connecting client's context. Events with port 0
// (connect's first lookup, before the port is chosen; listen()) are filtered
// in the kernel. This file is the tracefs wiring, through a tracepoint session;
// the decoding, dedup, resolution, horizon and loss spans are pure, in
// endpoint-trace-logic.ts.
//
// Who the task was comes from a TaskTracker (tracefs/tasks.node.ts) fed by the
// kernel's fork/rename/exit events in an instance of its own: its process and
// command even when it has exited before its event is read; its uid when it
// was still there to ask (else -1). Events are resolved after each read of
// every CPU's buffer, once the task events of that read are in too. An event
// whose process cannot be told is dropped (counted: `unresolved`).
//
// Tracepoints are global, /proc's socket tables per network namespace: an
// event from a task of another namespace (a container's, a test namespace's)
// is skipped (`foreign`) when the task is still there to tell; one that had
// exited is kept — it only matters if its exact ports and peer meet ours.
//
// After each read that emptied every buffer the table is complete up to the
// read's start (its horizon, less a margin for events being committed). When
// the kernel overwrote events the span since the previous read is marked lost.
// A repeat of the previous event on the same CPU (same task, same addresses)
// only updates its entry's time: a UDP flood costs one buffer compare per
// datagram.

import { readCgroupName } from '../kernel/procfs/cgroup.node.ts';
import { TracepointSession } from '../runtime/tracepoint-session.node.ts';
import { epochMicrosConverter } from '../kernel/tracefs/clock.node.ts';
import { readlinkSync } from 'node:fs';
import { RecentEndpoints, type RecentEndpointLimits } from './recent-endpoints.ts';
import { ENDPOINT_EVENTS, EndpointTraceLogic, endpointFilters, type EndpointTracerCounts } from './endpoint-trace-logic.ts';

export type { EndpointTracerCounts } from './endpoint-trace-logic.ts';

/** Per-CPU ring buffer, KiB: ~50k events, ~80 ms of a 600k/s UDP flood between two polls. */
const BUFFER_KB = 4096;

export interface EndpointTracer {
  readonly table: RecentEndpoints;
  /** The tracepoints in use, as system:event. */
  readonly tracepoints: readonly string[];
  readonly counts: EndpointTracerCounts;
  /**
   * Reads what the kernel has now into the table; true if the table is now complete up to a later time. `last`:
   * no event is left for a next read.
   */
  poll(last?: boolean): boolean;
  /** Events the kernel lost (ring buffer overwritten), summed over CPUs. */
  overruns(): number;
  close(): void;
}

/**
 * Starts the tracer, or returns why it cannot run (no tracefs, not root, none
 * of the tracepoints on this kernel). Never leaves an instance behind on failure.
 */
export function startEndpointTracer(limits: Partial<RecentEndpointLimits> = {}): EndpointTracer | { unavailable: string } {
  let session: TracepointSession;
  try {
    session = new TracepointSession({ bufferKb: BUFFER_KB, bufferOptional: true });
  } catch (e) {
    return { unavailable: e instanceof Error ? e.message : String(e) };
  }
  try {
    const tracer = setUp(session, limits);
    if ('unavailable' in tracer) session.close();
    return tracer;
  } catch (e) {
    session.close();
    return { unavailable: e instanceof Error ? e.message : String(e) };
  }
}

/** A live process's cgroup name, read at most once a second per process (the trace asks on every read). */
const cgroups = new Map<number, { name: string; atMs: number }>();
function cgroupOf(pid: number): string {
  const now = Date.now();
  const known = cgroups.get(pid);
  if (known && now - known.atMs < 1000) return known.name;
  if (cgroups.size >= 4096) cgroups.clear();
  const name = readCgroupName(pid);
  cgroups.set(pid, { name, atMs: now });
  return name;
}

function setUp(session: TracepointSession, limits: Partial<RecentEndpointLimits>): EndpointTracer | { unavailable: string } {
  const table = new RecentEndpoints(limits);
  const tasks = session.trackTasks();
  if (tasks.missing.length) return { unavailable: `no ${tasks.missing.join(', ')} on this kernel: exited senders could not be named` };
  const logic = new EndpointTraceLogic(
    table,
    { lifeAt: (tid, tsNs) => tasks.ledger.at(tid, tsNs), get: (tid, tsNs) => tasks.get(tid, tsNs), netns: (tid, tsNs) => tasks.netns(tid, tsNs), cgroup: cgroupOf },
    epochMicrosConverter(),
    netns('self'),
  );
  for (const { system, event, filter } of ENDPOINT_EVENTS) {
    if (!session.has(system, event)) continue;
    session.on(system, event, (format) => logic.decoder(system, format));
    // Only TCP and UDP, only with both ports known, only in task context: the rest never reaches user space. (On lo
    // most route lookups are the softirq's, for replies, resets and TIME_WAIT: they would fill the buffer.) A kernel
    // that refuses the context test keeps the rest; the decoder checks the same.
    for (const tried of endpointFilters(filter)) {
      try {
        session.filter(system, event, tried);
        break;
      } catch {
        /* the next, simpler filter; or none */
      }
    }
  }
  if (!session.tracepoints.length) {
    return { unavailable: 'none of fib:fib_table_lookup, fib6:fib6_table_lookup, sock:inet_sock_set_state on this kernel' };
  }
  session.start();

  let closed = false;
  let lastOverruns = 0;
  let statsSeen = session.statsReads;
  const poll = (last = false): boolean => {
    if (closed) return false;
    const before = session.completeUntilNs;
    session.read(); // then the task events: the forks of the tasks whose events were just read are in
    logic.resolve(last);
    if (session.completeUntilNs === before) return false;
    // A page flagged as following overwritten events tells of a loss at no cost; the kernel's per-CPU stats (a file
    // read per CPU) also catch commit overruns, and are read once a second.
    const statsRead = session.statsReads !== statsSeen;
    statsSeen = session.statsReads;
    logic.completeRead(session.completeUntilNs, { missedPages: session.missedPages, statsOverruns: statsRead ? session.overruns() : undefined });
    return true;
  };
  const overruns = () => (lastOverruns = Math.max(lastOverruns, session.overruns() + session.taskEventsLost()));
  return {
    table,
    tracepoints: [...session.tracepoints, ['task', 'task_newtask'], ['task', 'task_rename'], ['sched', 'sched_process_exit']].map(([system, event]) => `${system}:${event}`),
    counts: logic.counts,
    poll,
    overruns: () => (closed ? lastOverruns : overruns()),
    close: () => {
      if (closed) return;
      session.close(); // reads the final loss counts
      overruns();
      closed = true;
    },
  };
}

/** The network namespace of /proc/<pid> ("net:[4026531840]"), or null when it is gone. */
function netns(pid: string): string | null {
  try {
    return readlinkSync(`/proc/${pid}/ns/net`);
  } catch {
    return null;
  }
}
