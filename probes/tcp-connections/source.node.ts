// tcp-connections' source: sock:inet_sock_set_state (TCP only, filtered in the
// kernel) and the accept syscalls' enter/exit tracepoints in a private tracefs
// instance, read in binary, merged in time order across CPUs, and matched by
// the tracker; the listener's port and the accepting task from /proc.

import type { ProbeSource } from '../../runtime/source.ts';
import { TracefsInstance } from '../../kernel/tracefs/instance.node.ts';
import { field, readInt, type EventFormat } from '../../core/tracefs/format.ts';
import { pollRows } from '../../runtime/tracefs-poll.node.ts';
import { RawReader } from '../../kernel/tracefs/raw-reader.node.ts';
import { epochMicrosConverter } from '../../kernel/tracefs/clock.node.ts';
import { TaskTracker, socketInode, tcpLocalPort } from '../../kernel/tracefs/tasks.node.ts';
import { ConnTracker, sockAddr, type ConnEvent } from './tracker.ts';
import type { ConnRow, TcpConnectionsOptions } from './definition.ts';

const POLL_MS = 50;
/** common_flags bits: hardirq, softirq, NMI (kernel/trace/trace.h, TRACE_FLAG_*). */
const IRQ_FLAGS = 0x08 | 0x10 | 0x40;

type Dec = (buf: Buffer, off: number, ts: number) => ConnEvent;

export const tcpConnectionsSource: ProbeSource<TcpConnectionsOptions, ConnRow> = async (options, sink) => {
  const inst = TracefsInstance.create();
  try {
    const decoders = new Map<number, Dec>();
    const st = inst.eventFormat('sock', 'inet_sock_set_state');
    const c = {
      type: field(st, 'common_type'),
      flags: field(st, 'common_flags'),
      pid: field(st, 'common_pid'),
    };
    const f = (n: string) => field(st, n);
    const [skF, oldF, newF, spF, dpF, famF, saF, daF, sa6F, da6F] = ['skaddr', 'oldstate', 'newstate', 'sport', 'dport', 'family', 'saddr', 'daddr', 'saddr_v6', 'daddr_v6'].map(f) as [
      ...ReturnType<typeof f>[],
    ];
    decoders.set(st.id, (buf, off, ts) => {
      const fam = readInt(buf, off, famF!);
      const at = (fl: typeof saF) => buf.subarray(off + fl!.offset, off + fl!.offset + fl!.size);
      return {
        kind: 'state',
        tsNs: ts,
        tid: readInt(buf, off, c.pid),
        irq: (readInt(buf, off, c.flags) & IRQ_FLAGS) !== 0,
        sk: buf.readBigUInt64LE(off + skF!.offset).toString(16),
        oldstate: readInt(buf, off, oldF!),
        newstate: readInt(buf, off, newF!),
        sport: readInt(buf, off, spF!),
        dport: readInt(buf, off, dpF!),
        saddr: sockAddr(fam, at(saF), at(sa6F)),
        daddr: sockAddr(fam, at(daF), at(da6F)),
      };
    });
    const syscalls: string[] = [];
    for (const name of ['accept4', 'accept']) {
      if (!inst.hasEvent('syscalls', `sys_enter_${name}`)) continue;
      const enter: EventFormat = inst.eventFormat('syscalls', `sys_enter_${name}`);
      const exit: EventFormat = inst.eventFormat('syscalls', `sys_exit_${name}`);
      const fdF = field(enter, 'fd');
      const retF = field(exit, 'ret');
      decoders.set(enter.id, (buf, off, ts) => ({ kind: 'acceptEnter', tsNs: ts, tid: readInt(buf, off, c.pid), fd: readInt(buf, off, fdF) }));
      decoders.set(exit.id, (buf, off, ts) => ({ kind: 'acceptExit', tsNs: ts, tid: readInt(buf, off, c.pid), ret: readInt(buf, off, retF) }));
      syscalls.push(name);
    }
    if (!syscalls.includes('accept4')) inst.eventFormat('syscalls', 'sys_enter_accept4'); // throws the ProbeError naming it

    const tasks = TaskTracker.open(inst);
    const listenerPorts = new Map<number, number>(); // socket inode → port
    const toEpoch = epochMicrosConverter();
    const tracker = new ConnTracker(
      {
        owner: (tid, tsNs) => tasks.get(tid, tsNs),
        epochUs: toEpoch,
        listenerPort: (tid, fd) => {
          const inode = socketInode(tid, fd);
          if (inode === null) return null;
          const known = listenerPorts.get(inode);
          if (known !== undefined) return known;
          const port = tcpLocalPort(tid, inode);
          if (port !== null) {
            if (listenerPorts.size >= 4096) listenerPorts.clear();
            listenerPorts.set(inode, port);
          }
          return port;
        },
      },
      { outbound: options.outbound },
    );

    inst.write('trace_clock', 'mono');
    inst.setFilter('sock', 'inet_sock_set_state', 'protocol == 6');
    inst.enable('sock', 'inet_sock_set_state');
    for (const name of syscalls) {
      inst.enable('syscalls', `sys_enter_${name}`);
      inst.enable('syscalls', `sys_exit_${name}`);
    }
    const reader = new RawReader<ConnEvent>(
      inst,
      (buf, off, _len, ts) => decoders.get(buf.readUInt16LE(off + c.type.offset))?.(buf, off, ts),
      { ordered: true },
    );

    const loop = pollRows(reader, (events) => tracker.process(events), sink, POLL_MS, tasks);
    return {
      description: `tracefs tracepoints sock:inet_sock_set_state and ${syscalls.map((s) => `syscalls:sys_exit_${s}`).join(', ')} (acceptor found at accept time), binary per-CPU ring buffers`,
      counters: () => {
        const { shed, ...counts } = tracker.counts;
        return { ...counts, shedEvents: shed + reader.shed, overruns: reader.overruns(), taskEventsLost: tasks.lost() };
      },
      stop: async () => {
        const rows = loop.finish();
        tracker.finish();
        reader.overruns();
        reader.close();
        inst.close();
        if (rows.length) sink.rows(rows);
      },
    };
  } catch (e) {
    inst.close();
    throw e;
  }
};
