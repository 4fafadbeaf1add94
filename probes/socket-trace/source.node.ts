// socket-trace's source. The seed's view needs the function tracer limited to
// net/socket.c; it is tried first and, where the kernel refuses it (EPERM here),
// the source is the syscall tracepoints of the socket syscalls (all defined in
// net/socket.c) with sock:sock_send_length / sock_recv_length nested inside.
// Filters go into the kernel: set_event_pid (with event-fork) for --pid/--tid,
// event filters for --comm; the collector's own threads are filtered out.

import { readdirSync, existsSync } from 'node:fs';
import type { ProbeSource } from '../../runtime/source.ts';
import { TracefsInstance } from '../../kernel/tracefs/instance.node.ts';
import { field, readInt } from '../../core/tracefs/format.ts';
import { pollRows } from '../../runtime/tracefs-poll.node.ts';
import { RawReader } from '../../kernel/tracefs/raw-reader.node.ts';
import { epochMicrosConverter } from '../../kernel/tracefs/clock.node.ts';
import { TaskTracker } from '../../kernel/tracefs/tasks.node.ts';
import { ProbeError } from '../../core/probe-error.ts';
import { Indenter, type TraceEvent } from './indent.ts';
import type { SockRow, SocketTraceOptions } from './definition.ts';

const POLL_MS = 50;
/**
 * Per-CPU ring size. Every socket call is 3–4 events of 16–72 bytes, so at 40k calls/s a CPU writes ~6 MB/s: 8 MiB
 * per CPU rides out ~1 s of the reader not being scheduled (it was 2 MiB, and overran under load). Bounded in total
 * for machines with many CPUs.
 */
export function bufferKbPerCpu(cpus: number): number {
  return Math.max(2048, Math.min(8192, Math.floor(65536 / Math.max(1, cpus))));
}

/** The socket syscalls, all defined in net/socket.c. */
export const SOCKET_SYSCALLS = [
  'socket', 'bind', 'connect', 'listen', 'accept', 'accept4', 'sendto', 'recvfrom', 'sendmsg', 'recvmsg',
  'sendmmsg', 'recvmmsg', 'shutdown', 'setsockopt', 'getsockopt', 'getsockname', 'getpeername', 'socketpair',
] as const;

/** Whether this kernel lets the instance use the function tracer, in words for the source line. */
function functionTracer(inst: TracefsInstance): string {
  let available = '';
  try {
    available = inst.read('available_tracers');
  } catch {
    return 'function tracer not available';
  }
  if (!/\bfunction\b/.test(available)) return 'function tracer not available';
  try {
    inst.write('set_ftrace_filter', 'sock_sendmsg');
    inst.write('current_tracer', 'function');
  } catch (e) {
    return `function tracer not permitted (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`;
  }
  try {
    inst.write('current_tracer', 'nop');
  } catch {
    /* removed with the instance */
  }
  return 'function tracer permitted, but its source is not built yet';
}

function threadsOf(pid: number): number[] {
  try {
    return readdirSync(`/proc/${pid}/task`).map(Number).filter((n) => n > 0);
  } catch {
    return [];
  }
}

export const socketTraceSource: ProbeSource<SocketTraceOptions, SockRow> = async (options, sink) => {
  const inst = TracefsInstance.create();
  try {
    const why = functionTracer(inst);
    const events = new Map<number, (tsNs: number, tid: number, buf: Buffer, off: number) => TraceEvent>();
    const enabled: [string, string][] = [];
    let pidField: ReturnType<typeof field> | null = null;
    let typeField: ReturnType<typeof field> | null = null;
    for (const name of SOCKET_SYSCALLS) {
      if (!inst.hasEvent('syscalls', `sys_enter_${name}`)) continue; // e.g. no accept on some architectures
      const func = `sys_${name}`;
      for (const kind of ['enter', 'exit'] as const) {
        const fmt = inst.eventFormat('syscalls', `sys_${kind}_${name}`);
        pidField ??= field(fmt, 'common_pid');
        typeField ??= field(fmt, 'common_type');
        if (kind === 'exit') {
          const ret = field(fmt, 'ret');
          events.set(fmt.id, (tsNs, tid, buf, off) => ({ kind, tsNs, tid, func, ret: readInt(buf, off, ret) }));
        } else events.set(fmt.id, (tsNs, tid) => ({ kind, tsNs, tid, func }));
        enabled.push(['syscalls', `sys_${kind}_${name}`]);
      }
    }
    if (!enabled.length) inst.eventFormat('syscalls', 'sys_enter_socket'); // throws the ProbeError naming it
    for (const [event, func] of [['sock_send_length', 'sock_sendmsg'], ['sock_recv_length', 'sock_recvmsg']] as const) {
      const fmt = inst.eventFormat('sock', event);
      events.set(fmt.id, (tsNs, tid) => ({ kind: 'inner', tsNs, tid, func }));
      enabled.push(['sock', event]);
    }
    const pidF = pidField!;
    const typeF = typeField!;

    // Filters, in the kernel.
    const filters: string[] = [];
    const described: string[] = [];
    if (options.tid || options.pid) {
      const tids = options.tid ? [options.tid] : threadsOf(options.pid);
      if (options.tid && !existsSync(`/proc/${options.tid}`)) throw new ProbeError('input', `no thread ${options.tid}`);
      if (!tids.length) throw new ProbeError('input', `no process ${options.pid}`);
      inst.write('set_event_pid', tids.join(' '));
      if (!options.tid) inst.write('options/event-fork', '1');
      described.push(options.tid ? `tid ${options.tid}` : `pid ${options.pid}`);
    } else {
      for (const t of threadsOf(process.pid)) filters.push(`common_pid != ${t}`);
    }
    if (options.comm) {
      filters.push(`comm == "${options.comm}"`);
      described.push(`comm ${options.comm}`);
    }
    if (filters.length) for (const [sys, ev] of enabled) inst.setFilter(sys, ev, filters.join(' && '));

    const tasks = TaskTracker.open(inst);
    const toEpoch = epochMicrosConverter();
    const indenter = new Indenter((tid, tsNs) => tasks.get(tid, tsNs), toEpoch, options.rate);

    inst.write('trace_clock', 'mono');
    inst.write('buffer_size_kb', String(bufferKbPerCpu(inst.cpus().length)));
    for (const [sys, ev] of enabled) inst.enable(sys, ev);
    const reader = new RawReader<TraceEvent>(
      inst,
      (buf, off, _len, ts) => events.get(buf.readUInt16LE(off + typeF.offset))?.(ts, readInt(buf, off, pidF), buf, off),
      { ordered: true },
    );

    const loop = pollRows(reader, (events) => indenter.process(events), sink, POLL_MS, tasks);
    return {
      description:
        `tracefs syscall tracepoints of net/socket.c's ${enabled.length / 2 - 1} socket syscalls with sock:sock_send_length/sock_recv_length nested (${why})` +
        (described.length ? `, ${described.join(', ')}` : '') +
        (options.rate ? `, at most ${options.rate} calls/s` : ''),
      counters: () => {
        const l = reader.losses();
        return { ...indenter.counts, overruns: l.overrun + l.commitOverrun + l.dropped, unparsed: l.unparsed, heldShed: reader.shed, taskEventsLost: tasks.lost() };
      },
      stop: async () => {
        const rows = loop.finish();
        reader.close(); // keeps the final loss counts
        inst.close();
        if (rows.length) sink.rows(rows);
      },
    };
  } catch (e) {
    inst.close();
    throw e;
  }
};
