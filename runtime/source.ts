// The node-side half of a probe: a source that turns a kernel facility into rows.

import type { PcapngInterface, PcapngPacket } from '../core/pcapng.ts';

export interface ProbeSink<Row> {
  /** Stream probes: rows as they happen. Interval probes: one whole table per interval. */
  rows(rows: Row[]): void;
  /** The source stopped on its own (an interface vanished, the kernel refused). */
  fail(error: Error): void;
}

export interface RunningProbe {
  /** What the probe runs on, named for the UI: "libpcap on any (LINUX_SLL2)". */
  readonly description: string;
  /** Cumulative counts since start, keyed as the definition's counters. */
  counters(): Record<string, number>;
  stop(): Promise<void>;
  /** Packet probes: the frames most recently captured (bounded), for a pcapng export; still answers after stop(). */
  capturedFrames?(): { interfaces: PcapngInterface[]; packets: PcapngPacket[] };
}

export type ProbeSource<Options, Row> = (options: Options, sink: ProbeSink<Row>) => Promise<RunningProbe>;
