// Runs probes for one consumer: starts and stops sources, and turns what they
// produce into bounded messages — stream rows gathered and sent at most every
// FLUSH_MS, at most MAX_ROWS_PER_MESSAGE at a time, the excess shed and
// counted; interval tables sent as they come, truncated (and counted) if huge.

import { PROBES } from '../probes/registry.ts';
import { SOURCES } from '../probes/sources.node.ts';
import type { ProbeId } from '../shared/probe.ts';
import { ProbeError } from '../shared/probe-error.ts';
import { MAX_ROWS_PER_MESSAGE, type CollectorMessage, type Problem, type Query } from '../shared/protocol.ts';
import { writePcapng } from '../shared/pcapng.ts';
import type { RunningProbe } from './source.ts';
import { processSockets } from './attribution/process-sockets.node.ts';

export const FLUSH_MS = 250;

interface Active {
  running: RunningProbe | null;
  pending: object[];
  shed: number;
  timer: NodeJS.Timeout;
  stopping: boolean;
}

export function toProblem(e: unknown): Problem {
  if (e instanceof ProbeError) return { kind: e.kind, message: e.message };
  return { kind: 'internal', message: e instanceof Error ? e.message : String(e) };
}

export class ProbeRunner {
  private readonly active = new Map<ProbeId, Active>();
  /** The newest run of each packet probe that keeps frames, still there after it stops: for a pcapng export. */
  private readonly frames = new Map<ProbeId, NonNullable<RunningProbe['capturedFrames']>>();

  /** `send` returns false when the consumer is not keeping up: rows are then shed. */
  constructor(private readonly send: (m: CollectorMessage, droppable: boolean) => boolean) {}

  async start(probe: ProbeId, options: object): Promise<void> {
    await this.stop(probe);
    const source = SOURCES[probe];
    const a: Active = {
      running: null,
      pending: [],
      shed: 0,
      stopping: false,
      timer: setInterval(() => this.flush(probe, a), FLUSH_MS),
    };
    this.active.set(probe, a);
    const interval = PROBES[probe].kind === 'interval';
    try {
      a.running = await source(options, {
        rows: (rows) => {
          if (interval) {
            this.flush(probe, a); // counters first, so a table and its counts arrive together
            this.emitRows(probe, a, rows);
          } else if (a.pending.length + rows.length <= MAX_ROWS_PER_MESSAGE) {
            for (const r of rows) a.pending.push(r);
          } else {
            const room = MAX_ROWS_PER_MESSAGE - a.pending.length;
            for (let i = 0; i < room; i++) a.pending.push(rows[i]!);
            a.shed += rows.length - room;
          }
        },
        fail: (e) => void this.finish(probe, a, toProblem(e)),
      });
    } catch (e) {
      clearInterval(a.timer);
      this.active.delete(probe);
      this.send({ type: 'stopped', probe, problem: toProblem(e) }, false);
      return;
    }
    if (a.running.capturedFrames) this.frames.set(probe, a.running.capturedFrames);
    if (a.stopping) return; // stopped while starting
    this.send({ type: 'started', probe, source: a.running.description }, false);
  }

  async stop(probe: ProbeId): Promise<void> {
    const a = this.active.get(probe);
    if (a) await this.finish(probe, a, null);
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.active.keys()].map((p) => this.stop(p)));
  }

  /** Answers a host's question; every question gets exactly one answer. */
  answer(id: number, q: Query): void {
    let value: unknown = null;
    let problem: Problem | null = null;
    try {
      if (q.type === 'pcapng') {
        const frames = this.frames.get('tcpdump')?.();
        if (!frames) throw new ProbeError('input', 'no packets captured yet: start the packet probe first');
        const bytes = writePcapng(frames.interfaces, frames.packets);
        value = { base64: Buffer.from(bytes).toString('base64'), packets: frames.packets.length };
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
    return [...this.active.keys()];
  }

  private async finish(probe: ProbeId, a: Active, problem: Problem | null): Promise<void> {
    if (a.stopping) return;
    a.stopping = true;
    clearInterval(a.timer);
    try {
      await a.running?.stop();
    } catch (e) {
      problem ??= toProblem(e);
    }
    this.flush(probe, a);
    this.active.delete(probe);
    this.send({ type: 'stopped', probe, problem }, false);
  }

  private emitRows(probe: ProbeId, a: Active, rows: object[]): void {
    const kept = rows.length > MAX_ROWS_PER_MESSAGE ? rows.slice(0, MAX_ROWS_PER_MESSAGE) : rows;
    a.shed += rows.length - kept.length;
    if (!this.send({ type: 'rows', probe, rows: kept }, true)) a.shed += kept.length;
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
