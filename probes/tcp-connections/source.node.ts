// tcp-connections' source: sock:inet_sock_set_state (TCP only, filtered in the
// kernel) and the accept syscalls' enter/exit tracepoints in a private tracefs
// instance, read in binary, merged in time order across CPUs, and matched by
// the tracker; the listener's port and the accepting task from /proc.

import type { ProbeSource } from '../../runtime/source.ts';
import { field, readInt, type EventFormat, type FieldLayout } from '../../core/tracefs/format.ts';
import { pollRows } from '../../runtime/tracefs-poll.node.ts';
import { TracepointSession } from '../../runtime/tracepoint-session.node.ts';
import { epochMicrosConverter } from '../../kernel/tracefs/clock.node.ts';
import { fdSocketInode, tcpLocalPort } from '../../kernel/procfs/proc.node.ts';
import { IRQ_FLAGS } from '../../core/tracefs/common-flags.ts';
import { ConnTracker, sockAddr, type ConnEvent, type Trouble } from './tracker.ts';
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

    // --lifetimes: what happens to each connection, by its socket address.
    const trouble: string[] = [];
    if (options.lifetimes) {
      const skOf = (fmt: EventFormat, name: string) => {
        const f = field(fmt, name);
        return (buf: Buffer, off: number) => buf.readBigUInt64LE(off + f.offset).toString(16);
      };
      const on = (system: string, event: string, what: Trouble['what'], value: (fmt: EventFormat) => (buf: Buffer, off: number) => number | null, sk = 'skaddr') => {
        session.on(system, event, (fmt) => {
          const skAt = skOf(fmt, sk);
          const valueAt = value(fmt);
          return (buf, off, _len, tsNs): Trouble | undefined => {
            const v = valueAt(buf, off);
            return v === null ? undefined : { kind: 'trouble', tsNs, sk: skAt(buf, off), what, value: v };
          };
        });
        trouble.push(`${system}:${event}`);
      };
      // A retransmission the kernel could not send (err != 0) is not one (6.10+ says which).
      on('tcp', 'tcp_retransmit_skb', 'retrans', (fmt) => {
        const errF = fmt.fields.get('err');
        return (buf, off) => (errF && readInt(buf, off, errF) !== 0 ? null : 1);
      });
      on('tcp', 'tcp_send_reset', 'rstSent', () => () => 1);
      on('tcp', 'tcp_receive_reset', 'rstRecv', () => () => 1);
      on('tcp', 'tcp_probe', 'srtt', (fmt) => {
        const srttF = field(fmt, 'srtt');
        return (buf, off) => readInt(buf, off, srttF);
      });
      // Bytes through send and receive calls: the length returned, peeks (MSG_PEEK, 2) not counted.
      const length = (fmt: EventFormat) => {
        const retF = field(fmt, 'ret');
        const flagsF = field(fmt, 'flags');
        return (buf: Buffer, off: number) => {
          const n = readInt(buf, off, retF);
          return n > 0 && (readInt(buf, off, flagsF) & 2) === 0 ? n : null;
        };
      };
      on('sock', 'sock_send_length', 'tx', length, 'sk');
      on('sock', 'sock_recv_length', 'rx', length, 'sk');
      session.filter('sock', 'sock_send_length', 'protocol == 6');
      session.filter('sock', 'sock_recv_length', 'protocol == 6');
    }

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
      { outbound: options.outbound, lifetimes: options.lifetimes },
    );

    session.filter('sock', 'inet_sock_set_state', 'protocol == 6');
    session.start();

    const loop = pollRows(session, (events) => tracker.process(events), sink, POLL_MS);
    return {
      description: `tracefs tracepoints sock:inet_sock_set_state and ${syscalls.map((s) => `syscalls:sys_exit_${s}`).join(', ')} (acceptor found at accept time)${trouble.length ? `, ${trouble.join(', ')} (a row per closed connection)` : ''}, binary per-CPU ring buffers`,
      use: { facility: 'tracefs', lacks: [] },
      counters: () => {
        const { shed, ...counts } = tracker.counts;
        return { ...counts, shedEvents: shed + session.shed, overruns: session.overruns(), taskEventsLost: session.taskEventsLost() };
      },
      stop: async () => {
        const rows = loop.finish();
        rows.push(...tracker.finish());
        session.close(); // keeps the final loss counts
        if (rows.length) sink.rows(rows);
      },
    };
  });
