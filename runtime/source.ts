// The node-side half of a probe: a source that turns a kernel facility into rows.

import type { PcapngInterface, PcapngPacket } from '../core/pcapng.ts';

export interface ProbeSink<Row> {
  /** A stream probe's row as it happens. The consumer is the one batching stage (the runner's flush, the CLI's write). */
  row(row: Row): void;
  /** Rows the source already holds together: an interval probe's whole table, or the events of one tracefs poll. */
  rows(rows: Row[]): void;
  /** The source stopped on its own (an interface vanished, the kernel refused). */
  fail(error: Error): void;
  /** Resolves when the consumer can take more rows: a source that can wait (a file read) waits for it. */
  ready?(): Promise<void>;
}

/** Something a source would use but cannot, what it does instead, and why: data, not words to parse. */
export interface Lack {
  /** What is missing, e.g. "tracepoints for short-lived sockets". */
  readonly feature: string;
  /** What the source does instead, e.g. "socket owners from /proc only". */
  readonly fallback: string;
  /** Why, as the kernel or the system said it, e.g. "tracefs not permitted (EPERM)". */
  readonly reason: string;
}

/** What a running source uses: its kernel facility, and what it lacks (empty when it runs whole). */
export interface SourceUse {
  /** "libpcap" or "tracefs". */
  readonly facility: 'libpcap' | 'tracefs';
  readonly lacks: readonly Lack[];
}

export interface RunningProbe {
  /** What the probe runs on, named for the UI: "libpcap on any (LINUX_SLL2)". */
  readonly description: string;
  /** The same as data, for the GUI's and CLI's degradation notes. */
  readonly use: SourceUse;
  /** Cumulative counts since start, keyed as the definition's counters. */
  counters(): Record<string, number>;
  stop(): Promise<void>;
  /** Resolves when the source has given every row it has (a file read to its end); absent for live sources. */
  readonly finished?: Promise<void>;
  /** Packet probes: the frames most recently captured (bounded), for a pcapng export; still answers after stop(). */
  capturedFrames?(): { interfaces: PcapngInterface[]; packets: PcapngPacket[] };
}

export type ProbeSource<Options, Row> = (options: Options, sink: ProbeSink<Row>) => Promise<RunningProbe>;
