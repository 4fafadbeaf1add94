// Runs probes for one consumer: starts and stops sources, and turns what they
// produce into bounded messages — stream rows gathered and sent at most every
// FLUSH_MS, at most MAX_ROWS_PER_MESSAGE at a time, the excess shed and
// counted; interval tables sent as they come, truncated (and counted) if huge.

import { PROBES } from '../probes/registry.ts';
import { SOURCES } from '../probes/sources.node.ts';
import type { ProbeId } from '../probes/registry.ts';
import { ProbeError } from '../core/probe-error.ts';
import { MAX_ROWS_PER_MESSAGE, PCAPNG_PART_BYTES, type CollectorMessage, type Problem, type Query } from '../ipc/protocol.ts';
import { writePcapng } from '../core/pcapng.ts';
import type { RunningProbe } from '../runtime/source.ts';
import { rowEncoder, type RowTuple } from '../core/probe.ts';
import { processSockets } from '../kernel/procfs/process-sockets.node.ts';

export const FLUSH_MS = 250;

/** Each probe's rows become tuples in column order here, once, for the wire. */
const ENCODERS = Object.fromEntries(Object.values(PROBES).map((p) => [p.id, rowEncoder<object>(p.columns as never)])) as Record<ProbeId, (row: object) => RowTuple>;

/** One run of a probe's source, from the moment it is asked to open until it is stopped. */
interface Active {
  /** Which start request this run serves. */
  readonly generation: number;
  running: RunningProbe | null;
  pending: object[];
  shed: number;
  timer: NodeJS.Timeout;
  /** Set once stopping begins; every later stop waits on the same promise. */
  closing: Promise<void> | null;
  /** The source stopped on its own (an interface vanished, the kernel refused). */
  problem: Problem | null;
}

/**
 * One probe's lifecycle. Requests only say what the host wants (`desired`);
 * one reconcile loop at a time moves `current` towards it, a step at a time,
 * so whatever burst of start/stop requests arrives, at most one source per
 * probe exists, a stop always stops what runs, and a burst collapses to its
 * last word instead of opening a capture per request.
 */
interface Slot {
  desired: { options: object; generation: number } | null;
  current: Active | null;
  reconciling: Promise<void> | null;
  /** The host believes the probe runs (it was asked to start, or told it started) until told `stopped`. */
  hostThinksRunning: boolean;
}

export function toProblem(e: unknown): Problem {
  if (e instanceof ProbeError) return { kind: e.kind, message: e.message };
  return { kind: 'internal', message: e instanceof Error ? e.message : String(e) };
}

export class ProbeRunner {
  private readonly slots = new Map<ProbeId, Slot>();
  private generation = 0;
  /** The newest run of each packet probe that keeps frames, still there after it stops: for a pcapng export. */
  private readonly frames = new Map<ProbeId, NonNullable<RunningProbe['capturedFrames']>>();
  /** The pcapng export being handed out in parts. */
  private pcapng: { bytes: Uint8Array; packets: number } | null = null;

  /** `send` returns false when the consumer is not keeping up: rows are then shed. */
  constructor(private readonly send: (m: CollectorMessage, droppable: boolean) => boolean) {}

  /** Asks for the probe to run with these options, replacing a run that is starting or running. */
  start(probe: ProbeId, options: object): Promise<void> {
    const slot = this.slot(probe);
    slot.desired = { options, generation: ++this.generation };
    slot.hostThinksRunning = true;
    return this.reconcile(probe, slot);
  }

  /** Asks for the probe to stop; resolves once nothing of it runs (unless a later start asked again). */
  stop(probe: ProbeId): Promise<void> {
    const slot = this.slot(probe);
    slot.desired = null;
    return this.reconcile(probe, slot);
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.slots.keys()].map((p) => this.stop(p)));
  }

  /** Answers a host's question; every question gets exactly one answer. */
  answer(id: number, q: Query): void {
    let value: unknown = null;
    let problem: Problem | null = null;
    try {
      if (q.type === 'pcapng') {
        // Part 0 makes the file (kept until the next export), later parts are slices of it.
        const part = q.part ?? 0;
        if (part === 0) {
          const frames = this.frames.get('tcpdump')?.();
          if (!frames) throw new ProbeError('input', 'no packets captured yet: start the packet probe first');
          this.pcapng = { bytes: writePcapng(frames.interfaces, frames.packets), packets: frames.packets.length };
        }
        const file = this.pcapng;
        const parts = file ? Math.max(1, Math.ceil(file.bytes.length / PCAPNG_PART_BYTES)) : 0;
        if (!file || part >= parts) throw new ProbeError('input', `no part ${part} of a pcapng export`);
        const slice = file.bytes.subarray(part * PCAPNG_PART_BYTES, (part + 1) * PCAPNG_PART_BYTES);
        value = { base64: Buffer.from(slice.buffer, slice.byteOffset, slice.byteLength).toString('base64'), packets: file.packets, parts };
        if (part === parts - 1) this.pcapng = null;
      } else {
        const seen = new Set<string>();
        value = processSockets(q.pid)
          .map((s) => ({ proto: s.proto, port: s.localPort }))
          .filter((p) => !seen.has(`${p.proto} ${p.port}`) && seen.add(`${p.proto} ${p.port}`));
      }
    } catch (e) {
      problem = toProblem(e);
    }
    this.send({ type: 'answer', id, value, problem }, false);
  }

  running(): ProbeId[] {
    return [...this.slots].filter(([, slot]) => slot.current).map(([id]) => id);
  }

  private slot(probe: ProbeId): Slot {
    let slot = this.slots.get(probe);
    if (!slot) {
      slot = { desired: null, current: null, reconciling: null, hostThinksRunning: false };
      this.slots.set(probe, slot);
    }
    return slot;
  }

  /** Starts the slot's reconcile loop unless one is already running (which will see the new wish). */
  private reconcile(probe: ProbeId, slot: Slot): Promise<void> {
    slot.reconciling ??= this.converge(probe, slot).finally(() => (slot.reconciling = null));
    return slot.reconciling;
  }

  private async converge(probe: ProbeId, slot: Slot): Promise<void> {
    for (;;) {
      const want = slot.desired;
      const have = slot.current;
      if (have && have.generation !== want?.generation) await this.finish(probe, slot, have);
      else if (!have && want) await this.open(probe, slot, want);
      else break;
    }
    if (!slot.current && slot.hostThinksRunning) this.announceStopped(probe, slot, null);
  }

  private announceStopped(probe: ProbeId, slot: Slot, problem: Problem | null): void {
    slot.hostThinksRunning = false;
    this.send({ type: 'stopped', probe, problem }, false);
  }

  /** Opens the source for one start request; on failure the wish is dropped (no retry loop) and the problem told. */
  private async open(probe: ProbeId, slot: Slot, want: NonNullable<Slot['desired']>): Promise<void> {
    const a: Active = {
      generation: want.generation,
      running: null,
      pending: [],
      shed: 0,
      closing: null,
      problem: null,
      timer: setInterval(() => this.flush(probe, a), FLUSH_MS),
    };
    slot.current = a;
    const interval = PROBES[probe].kind === 'interval';
    try {
      // The one batching stage of the row path: rows wait here until the next flush.
      a.running = await SOURCES[probe](want.options, {
        row: (row) => {
          if (a.closing) return;
          if (a.pending.length < MAX_ROWS_PER_MESSAGE) a.pending.push(row);
          else a.shed++;
        },
        rows: (rows) => {
          if (a.closing) return;
          if (interval) {
            this.flush(probe, a); // counters first, so a table and its counts arrive together
            this.emitRows(probe, a, rows);
          } else {
            const room = Math.min(rows.length, MAX_ROWS_PER_MESSAGE - a.pending.length);
            for (let i = 0; i < room; i++) a.pending.push(rows[i]!);
            a.shed += rows.length - room;
          }
        },
        fail: (e) => this.failed(probe, slot, a, toProblem(e)),
      });
    } catch (e) {
      a.problem ??= toProblem(e);
    }
    if (a.running?.capturedFrames) this.frames.set(probe, a.running.capturedFrames);
    if (a.problem) {
      if (slot.desired?.generation === a.generation) slot.desired = null;
      await this.finish(probe, slot, a);
      return;
    }
    if (slot.desired?.generation !== a.generation) return; // replaced or stopped while opening: the loop stops it unannounced
    slot.hostThinksRunning = true;
    this.send({ type: 'started', probe, source: a.running!.description, use: a.running!.use }, false);
  }

  /** The source stopped on its own: the reconcile loop stops what is left of it, and it is not restarted. */
  private failed(probe: ProbeId, slot: Slot, a: Active, problem: Problem): void {
    a.problem ??= problem;
    if (!a.running) return; // still opening: open() sees the problem
    if (slot.desired?.generation === a.generation) slot.desired = null;
    void this.reconcile(probe, slot);
  }

  /** Stops a run once, however often asked, and tells the host (with the run's problem, if it had one). */
  private finish(probe: ProbeId, slot: Slot, a: Active): Promise<void> {
    a.closing ??= (async () => {
      clearInterval(a.timer);
      try {
        await a.running?.stop();
      } catch (e) {
        a.problem ??= toProblem(e);
      }
      this.flush(probe, a);
      if (slot.current === a) slot.current = null;
      this.announceStopped(probe, slot, a.problem);
    })();
    return a.closing;
  }

  private emitRows(probe: ProbeId, a: Active, rows: object[]): void {
    const kept = rows.length > MAX_ROWS_PER_MESSAGE ? rows.slice(0, MAX_ROWS_PER_MESSAGE) : rows;
    a.shed += rows.length - kept.length;
    const encode = ENCODERS[probe];
    const tuples = new Array<RowTuple>(kept.length);
    for (let i = 0; i < kept.length; i++) tuples[i] = encode(kept[i]!);
    if (!this.send({ type: 'rows', probe, rows: tuples }, true)) a.shed += kept.length;
  }

  private flush(probe: ProbeId, a: Active): void {
    if (a.pending.length) {
      const rows = a.pending;
      a.pending = [];
      this.emitRows(probe, a, rows);
    }
    if (a.running) this.send({ type: 'counters', probe, counters: { ...a.running.counters(), shed: a.shed } }, false);
  }
}
