// dropwatch's source: skb:kfree_skb in a private tracefs instance, read in
// binary from every CPU's trace_pipe_raw, counted in Node, one table per interval.

import type { ProbeSource } from '../../runtime/source.ts';
import { TracefsInstance } from '../../kernel/tracefs/instance.node.ts';
import { loadKernelSymbols } from '../../kernel/tracefs/kallsyms.node.ts';
import { field, parseSymbolic } from '../../core/tracefs/format.ts';
import { RawReader } from '../../kernel/tracefs/raw-reader.node.ts';
import { epochMicrosConverter } from '../../kernel/tracefs/clock.node.ts';
import { DropAggregator } from './aggregate.ts';
import type { DropRow, DropwatchOptions } from './definition.ts';

const POLL_MS = 100;

export const dropwatchSource: ProbeSource<DropwatchOptions, DropRow> = async (options, sink) => {
  const inst = TracefsInstance.create();
  try {
    const fmt = inst.eventFormat('skb', 'kfree_skb');
    const typeF = field(fmt, 'common_type');
    const locF = field(fmt, 'location');
    const reasonF = fmt.fields.get('reason') ?? null; // 5.17+
    const protoF = fmt.fields.get('protocol') ?? null;
    const reasons = parseSymbolic(fmt.printFmt, 'reason');
    const syms = loadKernelSymbols();
    const toEpoch = epochMicrosConverter();
    const agg = new DropAggregator();

    inst.write('trace_clock', 'mono');
    inst.write('buffer_size_kb', '4096');
    inst.enable('skb', 'kfree_skb');
    const reader = new RawReader<{ tsNs: number }>(
      inst,
      (buf, off) => {
        if (buf.readUInt16LE(off + typeF.offset) !== fmt.id) return undefined;
        const o = off + locF.offset;
        agg.add(
          buf.readUInt32LE(o + 4),
          buf.readUInt32LE(o),
          reasonF ? buf.readUInt32LE(off + reasonF.offset) : -1,
          protoF ? buf.readUInt16LE(off + protoF.offset) : 0,
        );
        return undefined;
      },
      { ordered: false },
    );

    const reasonName = (r: number) => reasons.get(r) ?? String(r);
    const table = () => agg.snapshot(toEpoch(Number(process.hrtime.bigint())), (a) => syms.resolve(a), reasonName);
    let failed = false;
    const poll = () => {
      if (failed) return;
      try {
        reader.poll();
      } catch (e) {
        failed = true;
        sink.fail(e as Error);
      }
    };
    const pollTimer = setInterval(poll, POLL_MS);
    const tableTimer = setInterval(() => {
      poll();
      sink.rows(table());
    }, options.interval * 1000);

    return {
      description: `tracefs tracepoint skb:kfree_skb, binary per-CPU ring buffers (${syms.size ? `${syms.size} kernel symbols` : 'no kernel symbols: addresses shown'}${reasonF ? '' : ', no drop reasons on this kernel'})`,
      counters: () => ({ drops: agg.total, overruns: reader.overruns(), shedKeys: agg.shedKeys, corrupt: reader.corruptPages }),
      stop: async () => {
        clearInterval(pollTimer);
        clearInterval(tableTimer);
        poll();
        reader.overruns(); // keep the final count past close
        reader.close();
        inst.close();
        const last = table();
        if (last.length) sink.rows(last);
      },
    };
  } catch (e) {
    inst.close();
    throw e;
  }
};
