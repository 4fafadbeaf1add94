// socket-trace's source. The seed's view needs the function tracer limited to
// net/socket.c; it is tried first and, where the kernel refuses it (EPERM here),
// the source is the syscall tracepoints of the socket syscalls (all defined in
// net/socket.c) with sock:sock_send_length / sock_recv_length nested inside.
// Filters go into the kernel: set_event_pid (with event-fork) for --pid/--tid,
// event filters for --comm; the collector's own threads are filtered out.

import { readdirSync, existsSync } from 'node:fs';
import type { ProbeSource } from '../../runtime/source.ts';
import { field, readInt } from '../../core/tracefs/format.ts';
import { pollRows } from '../../runtime/tracefs-poll.node.ts';
import { TracepointSession } from '../../runtime/tracepoint-session.node.ts';
import { epochMicrosConverter } from '../../kernel/tracefs/clock.node.ts';
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
function functionTracer(inst: TracepointSession['instance']): string {
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

export const socketTraceSource: ProbeSource<SocketTraceOptions, SockRow> = async (options, sink) =>
  TracepointSession.run({ ordered: {}, bufferKb: bufferKbPerCpu }, (session: TracepointSession<TraceEvent>) => {
    const inst = session.instance;
    const why = functionTracer(inst);
    let calls = 0;
    for (const name of SOCKET_SYSCALLS) {
      if (!session.has('syscalls', `sys_enter_${name}`)) continue; // e.g. no accept on some architectures
      const func = `sys_${name}`;
      session.on('syscalls', `sys_enter_${name}`, (fmt) => {
        const pidF = field(fmt, 'common_pid');
        return (buf, off, _len, tsNs) => ({ kind: 'enter', tsNs, tid: readInt(buf, off, pidF), func });
      });
      session.on('syscalls', `sys_exit_${name}`, (fmt) => {
        const pidF = field(fmt, 'common_pid');
        const ret = field(fmt, 'ret');
        return (buf, off, _len, tsNs) => ({ kind: 'exit', tsNs, tid: readInt(buf, off, pidF), func, ret: readInt(buf, off, ret) });
      });
      calls++;
    }
    if (!calls) session.format('syscalls', 'sys_enter_socket'); // throws the ProbeError naming it
    for (const [event, func] of [['sock_send_length', 'sock_sendmsg'], ['sock_recv_length', 'sock_recvmsg']] as const) {
      session.on('sock', event, (fmt) => {
        const pidF = field(fmt, 'common_pid');
        return (buf, off, _len, tsNs) => ({ kind: 'inner', tsNs, tid: readInt(buf, off, pidF), func });
      });
    }

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
    if (filters.length) for (const [sys, ev] of session.tracepoints) session.filter(sys, ev, filters.join(' && '));

    const tasks = session.trackTasks();
    const toEpoch = epochMicrosConverter();
    const indenter = new Indenter((tid, tsNs) => tasks.get(tid, tsNs), toEpoch, options.rate);
    session.start();

    const loop = pollRows(session, (events) => indenter.process(events), sink, POLL_MS);
    return {
      description:
        `tracefs syscall tracepoints of net/socket.c's ${calls} socket syscalls with sock:sock_send_length/sock_recv_length nested (${why})` +
        (described.length ? `, ${described.join(', ')}` : '') +
        (options.rate ? `, at most ${options.rate} calls/s` : ''),
      use: {
        facility: 'tracefs',
        lacks: [{ feature: 'the function tracer (socket functions inside the kernel)', fallback: 'the socket syscalls\' tracepoints', reason: why }],
      },
      counters: () => {
        const losses = session.losses();
        return {
          ...indenter.counts,
          overruns: losses.overrun + losses.commitOverrun + losses.dropped,
          unparsed: losses.unparsed,
          heldShed: session.shed,
          taskEventsLost: session.taskEventsLost(),
        };
      },
      stop: async () => {
        const rows = loop.finish();
        session.close(); // keeps the final loss counts
        if (rows.length) sink.rows(rows);
      },
    };
  });
