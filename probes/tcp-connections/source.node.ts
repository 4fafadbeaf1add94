// tcp-connections' source: sock:inet_sock_set_state (TCP only, filtered in the
// kernel) and the accept syscalls' enter/exit tracepoints in a private tracefs
// instance, read in binary, merged in time order across CPUs, and matched by
// the tracker; the listener's port and the accepting task from /proc.

import type { ProbeSource } from '../../runtime/source.ts';
import { field, readInt, type FieldLayout } from '../../core/tracefs/format.ts';
import { pollRows } from '../../runtime/tracefs-poll.node.ts';
import { TracepointSession } from '../../runtime/tracepoint-session.node.ts';
import { epochMicrosConverter } from '../../kernel/tracefs/clock.node.ts';
import { fdSocketInode, tcpLocalPort } from '../../kernel/procfs/proc.node.ts';
import { IRQ_FLAGS } from '../../core/tracefs/common-flags.ts';
import { ConnTracker, sockAddr, type ConnEvent } from './tracker.ts';
import type { ConnRow, TcpConnectionsOptions } from './definition.ts';

const POLL_MS = 50;

export const tcpConnectionsSource: ProbeSource<TcpConnectionsOptions, ConnRow> = async (options, sink) =>
  TracepointSession.run({ ordered: {} }, (session: TracepointSession<ConnEvent>) => {
    session.on('sock', 'inet_sock_set_state', (st) => {
      const flagsF = field(st, 'common_flags');
      const pidF = field(st, 'common_pid');
      const skF = field(st, 'skaddr');
      const oldF = field(st, 'oldstate');
      const newF = field(st, 'newstate');
      const sportF = field(st, 'sport');
      const dportF = field(st, 'dport');
      const familyF = field(st, 'family');
      const [saddrF, daddrF] = [field(st, 'saddr'), field(st, 'daddr')];
      const [saddr6F, daddr6F] = [field(st, 'saddr_v6'), field(st, 'daddr_v6')];
      return (buf, off, _len, tsNs): ConnEvent => {
        const family = readInt(buf, off, familyF);
        const bytes = (layout: FieldLayout) => buf.subarray(off + layout.offset, off + layout.offset + layout.size);
        return {
          kind: 'state',
          tsNs,
          tid: readInt(buf, off, pidF),
          irq: (readInt(buf, off, flagsF) & IRQ_FLAGS) !== 0,
          sk: buf.readBigUInt64LE(off + skF.offset).toString(16),
          oldstate: readInt(buf, off, oldF),
          newstate: readInt(buf, off, newF),
          sport: readInt(buf, off, sportF),
          dport: readInt(buf, off, dportF),
          saddr: sockAddr(family, bytes(saddrF), bytes(saddr6F)),
          daddr: sockAddr(family, bytes(daddrF), bytes(daddr6F)),
        };
      };
    });
    const syscalls: string[] = [];
    for (const name of ['accept4', 'accept']) {
      if (!session.has('syscalls', `sys_enter_${name}`)) continue;
      session.on('syscalls', `sys_enter_${name}`, (enter) => {
        const pidF = field(enter, 'common_pid');
        const fdF = field(enter, 'fd');
        return (buf, off, _len, tsNs) => ({ kind: 'acceptEnter', tsNs, tid: readInt(buf, off, pidF), fd: readInt(buf, off, fdF) });
      });
      session.on('syscalls', `sys_exit_${name}`, (exit) => {
        const pidF = field(exit, 'common_pid');
        const retF = field(exit, 'ret');
        return (buf, off, _len, tsNs) => ({ kind: 'acceptExit', tsNs, tid: readInt(buf, off, pidF), ret: readInt(buf, off, retF) });
      });
      syscalls.push(name);
    }
    if (!syscalls.includes('accept4')) session.format('syscalls', 'sys_enter_accept4'); // throws the ProbeError naming it

    const tasks = session.trackTasks();
    const listenerPorts = new Map<number, number>(); // socket inode → port
    const toEpoch = epochMicrosConverter();
    const tracker = new ConnTracker(
      {
        owner: (tid, tsNs) => tasks.get(tid, tsNs),
        epochUs: toEpoch,
        listenerPort: (tid, fd) => {
          const inode = fdSocketInode(tid, fd);
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

    session.filter('sock', 'inet_sock_set_state', 'protocol == 6');
    session.start();

    const loop = pollRows(session, (events) => tracker.process(events), sink, POLL_MS);
    return {
      description: `tracefs tracepoints sock:inet_sock_set_state and ${syscalls.map((s) => `syscalls:sys_exit_${s}`).join(', ')} (acceptor found at accept time), binary per-CPU ring buffers`,
      use: { facility: 'tracefs', lacks: [] },
      counters: () => {
        const { shed, ...counts } = tracker.counts;
        return { ...counts, shedEvents: shed + session.shed, overruns: session.overruns(), taskEventsLost: session.taskEventsLost() };
      },
      stop: async () => {
        const rows = loop.finish();
        tracker.finish();
        session.close(); // keeps the final loss counts
        if (rows.length) sink.rows(rows);
      },
    };
  });
