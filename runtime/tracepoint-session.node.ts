// One tracefs session for a probe: the private instance (created, its clock set
// to mono, its buffer sized), the events the probe asks for with a decoder per
// event id (each built from the event's `format` as the kernel gives it), the
// task tracker when the probe names tasks, the read of every CPU's pages, the
// loss counts (page flags on every read, the per-CPU stats once a second), its
// timers, and cleanup on every path: close() is idempotent, clears the timers,
// closes the fds and removes the instance (and the tasks' instance with it).
// A probe's source then says only which events, which filters, and what to do
// with each decoded event.

import { TracefsInstance } from '../kernel/tracefs/instance.node.ts';
import { PageVisitor, type RawLosses } from '../kernel/tracefs/page-visitor.node.ts';
import { OrderedCollector } from '../kernel/tracefs/ordered-collector.ts';
import { TaskTracker } from '../kernel/tracefs/tasks.node.ts';
import { monoNowNs } from '../kernel/tracefs/clock.node.ts';
import type { EventFormat } from '../core/tracefs/format.ts';

/** Decodes one event record (common_type at `offset`); return undefined to keep nothing (aggregated in place). */
export type EventDecoder<E> = (buf: Buffer, offset: number, length: number, tsNs: number, cpu: number) => E | undefined | void;

export interface SessionOptions {
  /** Per-CPU ring buffer, KiB, or from the number of CPUs; the kernel's default when absent. */
  readonly bufferKb?: number | ((cpus: number) => number);
  /** A kernel that refuses the buffer size keeps its default (the overruns are counted). */
  readonly bufferOptional?: boolean;
  /** Collect decoded events across CPUs and hand them out in time order (poll()), holding at most this many. */
  readonly ordered?: { readonly maxHeld?: number };
}

export class TracepointSession<E extends { tsNs: number } = { tsNs: number }> {
  readonly instance: TracefsInstance;
  /** The task tracker, once trackTasks() opened it. */
  tasks: TaskTracker | null = null;
  private readonly decoders = new Map<number, EventDecoder<E>>();
  private readonly events: [string, string][] = [];
  private readonly collector: OrderedCollector<E> | null;
  private readonly timers: ReturnType<typeof setInterval>[] = [];
  private visitor: PageVisitor | null = null;
  private lastReadNs = -Infinity;

  /** Creates the instance; throws a ProbeError without tracefs. Close it on every path (see run()). */
  constructor(private readonly options: SessionOptions = {}) {
    this.instance = TracefsInstance.create();
    this.collector = options.ordered ? new OrderedCollector<E>(options.ordered.maxHeld) : null;
  }

  /** Runs `setUp` on a new session; whatever it throws, the session is closed first. */
  static run<E extends { tsNs: number }, R>(options: SessionOptions, setUp: (session: TracepointSession<E>) => R): R {
    const session = new TracepointSession<E>(options);
    try {
      return setUp(session);
    } catch (e) {
      session.close();
      throw e;
    }
  }

  has(system: string, event: string): boolean {
    return this.instance.hasEvent(system, event);
  }

  /** The event's format from the kernel, or a ProbeError naming the missing tracepoint. */
  format(system: string, event: string): EventFormat {
    return this.instance.eventFormat(system, event);
  }

  /** Asks for an event, decoded by `decode` (built from its format); enabled by start(). Returns the format. */
  on(system: string, event: string, decode: (format: EventFormat) => EventDecoder<E>): EventFormat {
    const format = this.format(system, event);
    this.decoders.set(format.id, decode(format));
    this.events.push([system, event]);
    return format;
  }

  /** The events asked for, as [system, event]. */
  get tracepoints(): readonly (readonly [string, string])[] {
    return this.events;
  }

  /** A kernel-side filter on an event; one the kernel refuses is an input error with its reason. */
  filter(system: string, event: string, filter: string): void {
    this.instance.setFilter(system, event, filter);
  }

  /** Follows the kernel's task events (in an instance of its own, closed with this one) to name tasks that exited. */
  trackTasks(): TaskTracker {
    return (this.tasks ??= TaskTracker.open(this.instance));
  }

  /** Sets the clock and the buffer size, enables the events and opens every CPU's ring. */
  start(): void {
    const inst = this.instance;
    inst.write('trace_clock', 'mono');
    const { bufferKb, bufferOptional } = this.options;
    if (bufferKb !== undefined) {
      const kb = typeof bufferKb === 'number' ? bufferKb : bufferKb(inst.cpus().length);
      try {
        inst.write('buffer_size_kb', String(kb));
      } catch (e) {
        if (!bufferOptional) throw e;
      }
    }
    for (const [system, event] of this.events) inst.enable(system, event);
    const decoders = this.decoders;
    const collector = this.collector;
    // common_type is the first field of every record.
    this.visitor = new PageVisitor(inst, (buf, off, len, tsNs, cpu) => {
      const event = decoders.get(buf.readUInt16LE(off))?.(buf, off, len, tsNs, cpu);
      if (event && collector) collector.add(event);
    });
  }

  private get reader(): PageVisitor {
    if (!this.visitor) throw new Error('tracepoint session read before start()');
    return this.visitor;
  }

  /**
   * Reads every CPU's buffer (decoders run), then the task events (the forks of the tasks just read are in); true
   * if every buffer was emptied, and so completeUntilNs moved on.
   */
  read(): boolean {
    this.lastReadNs = monoNowNs();
    const emptied = this.reader.read();
    this.tasks?.poll();
    return emptied;
  }

  /** Ordered sessions: reads, and returns the events up to the read's start in time order (all once closed). */
  poll(): E[] {
    this.read();
    return this.ordered.take(this.reader.isClosed ? Infinity : this.lastReadNs);
  }

  /** Ordered sessions: every event still held (at stop). */
  drain(): E[] {
    return this.ordered.drain();
  }

  private get ordered(): OrderedCollector<E> {
    if (!this.collector) throw new Error('poll() and drain() are for ordered sessions; read() decodes in place');
    return this.collector;
  }

  /** Every event before this trace-clock time (ns) has been read. */
  get completeUntilNs(): number {
    return this.reader.completeUntilNs;
  }

  /** Times the per-CPU stats were read (once a second): a caller can tell whether the last read refreshed them. */
  get statsReads(): number {
    return this.reader.statsReads;
  }

  /** Pages flagged as following overwritten events. */
  get missedPages(): number {
    return this.reader.missedPages;
  }

  get corruptPages(): number {
    return this.reader.corruptPages;
  }

  /** Events shed because too many were held back (ordered sessions). */
  get shed(): number {
    return this.collector?.shed ?? 0;
  }

  losses(): RawLosses {
    return this.visitor?.losses() ?? { overrun: 0, commitOverrun: 0, dropped: 0, unparsed: 0 };
  }

  /** Every event lost before reaching us: overwritten, refused, or unreadable. */
  overruns(): number {
    return this.visitor?.overruns() ?? 0;
  }

  /** Task events lost (0 without a task tracker). */
  taskEventsLost(): number {
    return this.tasks?.lost() ?? 0;
  }

  /** Runs `tick` every `everyMs` until close(); the first error stops it and goes to `fail`. */
  every(everyMs: number, tick: () => void, fail: (e: Error) => void): void {
    let failed = false;
    this.timers.push(
      setInterval(() => {
        if (failed) return;
        try {
          tick();
        } catch (e) {
          failed = true;
          fail(e as Error);
        }
      }, everyMs),
    );
  }

  /** Stops the timers without closing (a last read may follow). */
  stopTimers(): void {
    for (const timer of this.timers.splice(0)) clearInterval(timer);
  }

  /** Stops the timers, keeps the final loss counts, closes the fds and removes the instances. Idempotent. */
  close(): void {
    this.stopTimers();
    this.visitor?.close();
    this.tasks?.close();
    this.instance.close();
  }
}
