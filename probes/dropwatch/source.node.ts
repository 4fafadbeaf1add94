// dropwatch's source: skb:kfree_skb in a tracepoint session, read in binary
// from every CPU's ring, counted in Node, one table per interval.

import type { ProbeSource } from '../../runtime/source.ts';
import { TracepointSession } from '../../runtime/tracepoint-session.node.ts';
import { loadKernelSymbols } from '../../kernel/tracefs/kallsyms.node.ts';
import { field, parseSymbolic } from '../../core/tracefs/format.ts';
import { epochMicrosConverter } from '../../kernel/tracefs/clock.node.ts';
import { DropAggregator } from './aggregate.ts';
import type { DropRow, DropwatchOptions } from './definition.ts';

const POLL_MS = 100;

export const dropwatchSource: ProbeSource<DropwatchOptions, DropRow> = async (options, sink) =>
  TracepointSession.run({ bufferKb: 4096 }, (session) => {
    const agg = new DropAggregator();
    const fmt = session.on('skb', 'kfree_skb', (format) => {
      const locF = field(format, 'location');
      const reasonF = format.fields.get('reason') ?? null; // 5.17+
      const protoF = format.fields.get('protocol') ?? null;
      return (buf, off) => {
        const loc = off + locF.offset;
        agg.add(
          buf.readUInt32LE(loc + 4),
          buf.readUInt32LE(loc),
          reasonF ? buf.readUInt32LE(off + reasonF.offset) : -1,
          protoF ? buf.readUInt16LE(off + protoF.offset) : 0,
        );
      };
    });
    const hasReasons = fmt.fields.has('reason');
    const reasons = parseSymbolic(fmt.printFmt, 'reason');
    const syms = loadKernelSymbols();
    const toEpoch = epochMicrosConverter();
    session.start();

    const reasonName = (r: number) => reasons.get(r) ?? String(r);
    const table = () => agg.snapshot(toEpoch(Number(process.hrtime.bigint())), (a) => syms.resolve(a), reasonName);
    let failed = false;
    const poll = () => {
      if (failed) return;
      try {
        session.read();
      } catch (e) {
        failed = true;
        sink.fail(e as Error);
      }
    };
    const fail = (e: Error) => sink.fail(e);
    session.every(POLL_MS, poll, fail);
    session.every(
      options.interval * 1000,
      () => {
        poll();
        sink.rows(table());
      },
      fail,
    );

    return {
      description: `tracefs tracepoint skb:kfree_skb, binary per-CPU ring buffers (${syms.size ? `${syms.size} kernel symbols` : 'no kernel symbols: addresses shown'}${hasReasons ? '' : ', no drop reasons on this kernel'})`,
      use: {
        facility: 'tracefs',
        lacks: [
          ...(syms.size ? [] : [{ feature: 'kernel symbols', fallback: 'addresses shown', reason: '/proc/kallsyms gave no symbols' }]),
          ...(hasReasons ? [] : [{ feature: 'drop reasons', fallback: 'no reason shown', reason: 'not on this kernel' }]),
        ],
      },
      counters: () => ({ drops: agg.total, overruns: session.overruns(), shedKeys: agg.shedKeys, corrupt: session.corruptPages }),
      stop: async () => {
        session.stopTimers();
        poll();
        session.close(); // keeps the final loss counts
        const last = table();
        if (last.length) sink.rows(last);
      },
    };
  });
