// socket-trace — after socket-trace.stp: calls and returns of the socket
// layer's kernel functions, per thread, indented as thread_indent() prints them.
// Where the function tracer is not permitted (as on the development machines),
// the source is the syscall tracepoints of net/socket.c's syscalls with
// sock:sock_send_length / sock_recv_length nested inside (sock_sendmsg / sock_recvmsg).

import { defineColumns, defineProbe, type RowOf } from '../../core/probe.ts';
import { TASK_EVENTS_LOST } from '../../core/probe-options.ts';
import { int, obj, str, type Infer } from '../../core/schema.ts';

const columns = defineColumns([
  { key: 'time', csv: 'TIME', title: 'Time', type: 'time', width: 210, description: 'when the call or return happened, ISO 8601 UTC' },
  { key: 'relUs', csv: 'REL_US', title: 'µs', type: 'int', width: 70, description: 'µs since the thread\'s outermost open call began (thread_indent\'s number)' },
  { key: 'comm', csv: 'COMM', title: 'Command', type: 'text', width: 130, description: 'thread name' },
  { key: 'pid', csv: 'PID', title: 'PID', type: 'int', width: 70, description: 'process id' },
  { key: 'tid', csv: 'TID', title: 'TID', type: 'int', width: 70, description: 'thread id' },
  { key: 'depth', csv: 'DEPTH', title: 'Depth', type: 'int', width: 56, description: 'nesting level, 1 = outermost' },
  { key: 'direction', csv: 'DIRECTION', title: 'Dir', type: 'text', width: 60, description: 'call or return' },
  { key: 'func', csv: 'FUNCTION', title: 'Function', type: 'text', width: 180, description: 'the net/socket.c function (sys_* for the syscalls; sock_sendmsg/sock_recvmsg from their tracepoints)' },
  { key: 'ret', csv: 'RET', title: 'Return', type: 'int', width: 70, notInCsv: true, description: "a syscall's return value on its return row (negative: -errno, an error); 0 on calls and on sock_sendmsg/sock_recvmsg" },
]);
/** A row: one field per column, in column order on the wire. */
export type SockRow = RowOf<typeof columns>;

const options = obj({
  pid: int({ min: 0, max: 4_194_304 }),
  tid: int({ min: 0, max: 4_194_304 }),
  comm: str({ max: 15, pattern: /^[^"\\\n]*$/ }),
  rate: int({ min: 0, max: 1_000_000 }),
});
export type SocketTraceOptions = Infer<typeof options>;

export const socketTrace = defineProbe<SockRow, SocketTraceOptions>()({
  id: 'socket-trace',
  title: 'Socket calls',
  seedScript: 'socket-trace.stp',
  summary: 'calls and returns of the socket layer (net/socket.c), per thread, indented as thread_indent prints them',
  kind: 'stream',
  columns,
  options,
  defaults: { pid: 0, tid: 0, comm: '', rate: 2000 },
  flags: [
    { name: 'pid', option: 'pid', kind: 'int', value: 'N', help: 'only this process (its threads, and those it starts; filtered in the kernel)' },
    { name: 'tid', option: 'tid', kind: 'int', value: 'N', help: 'only this thread (filtered in the kernel)' },
    { name: 'comm', option: 'comm', kind: 'string', value: 'NAME', help: 'only threads with this name (filtered in the kernel, exact match, at most 15 bytes)' },
    { name: 'rate', option: 'rate', kind: 'int', value: 'N', help: 'most top-level calls shown per second (default 2000, 0 = no limit); the rest are counted as shed' },
  ],
  seen: { counters: ['rows'], what: 'calls and returns' },
  counters: [
    { key: 'rows', label: 'rows', description: 'call and return rows produced', loss: false },
    { key: 'rateShed', label: 'rate-limited', description: 'top-level calls (with everything inside them) not shown because of --rate', loss: true },
    { key: 'unmatched', label: 'unmatched', description: 'returns whose call was not seen (it began before the probe started, or its event was lost, counted under ring overruns): skipped', loss: false },
    { key: 'unreturned', label: 'unreturned', description: 'calls whose return event was lost (counted under ring overruns): closed when the thread made its next syscall', loss: false },
    { key: 'threadsEvicted', label: 'threads evicted', description: 'threads forgotten because 10000 were being followed', loss: true },
    { key: 'overruns', label: 'ring overruns', description: "events the kernel lost because the tracing ring buffer was full (per CPU: overrun + commit overrun + dropped events): each is a syscall's call or return, or a sock_sendmsg/sock_recvmsg, not shown", loss: true },
    { key: 'unparsed', label: 'unparsed', description: 'events the kernel handed over on pages that could not be read to their end', loss: true },
    TASK_EVENTS_LOST,
    { key: 'heldShed', label: 'reorder shed', description: 'events dropped while waiting to be put in time order (bounded)', loss: true },
  ],
  rate: { unit: 'rows/s' },
  notes:
    'Needs: root and tracefs; tracepoints syscalls:sys_enter_*/sys_exit_* of the socket syscalls and sock:sock_send_length,\n' +
    'sock:sock_recv_length. The seed traces every function of net/socket.c with kprobes; where the function tracer is not\n' +
    'permitted this shows the socket syscalls with sock_sendmsg/sock_recvmsg nested inside (named in the source line).\n' +
    'The probe\'s own process is left out. Without filters a busy machine makes many rows: --rate bounds them.',
});
