// The fuzz loop: seeds first, then inputs generated from scratch (structure
// aware) or mutated from the corpus; each one run through the target, whose
// checks throw a Violation when an invariant breaks. Any other exception is a
// finding too, unless the target declares it the module's own error. Findings
// are grouped by kind (error class, message with numbers elided, and the
// throwing frame) and keep the first input that produced them.
//
// Pure of I/O: the worker (worker.ts), the CLI (run.ts) and the unit test
// (test/unit/fuzz.test.ts) all drive targets through runTarget.

import { Coverage } from './coverage.ts';
import { Rng } from './rng.ts';

/** An invariant that did not hold. */
export class Violation extends Error {
  override name = 'Violation';
}

/** The harness itself failed (a generator or mutator threw). */
export class HarnessError extends Error {
  override name = 'HarnessError';
  constructor(cause: unknown) {
    super(`making an input failed: ${cause instanceof Error ? `${cause.name}: ${cause.message}` : String(cause)}`);
    if (cause instanceof Error) this.stack = `${this.name}: ${this.message}\n${(cause.stack ?? '').split('\n').slice(1).join('\n')}`;
  }
}

export function check(cond: unknown, message: string | (() => string)): asserts cond {
  if (!cond) throw new Violation(typeof message === 'string' ? message : message());
}

export interface RunContext {
  /** Records a non-fatal observation (something worth a look, not an invariant), grouped by kind. */
  note(kind: string, detail?: string): void;
}

export interface Target<I> {
  readonly name: string;
  /** One line for the report: what is driven and what is checked. */
  readonly what: string;
  /** Path suffixes of the modules whose block coverage guides exploration. */
  readonly coverage: readonly string[];
  /** Share of inputs generated from scratch rather than mutated from the corpus (default 0.25). */
  readonly generateRate?: number;
  seeds(rng: Rng): I[];
  generate(rng: Rng): I;
  mutate(rng: Rng, input: I, other: () => I): I;
  /** Runs one input and checks the invariants; returns an outcome label for the histogram. */
  run(input: I, ctx: RunContext): string;
  /** The input, printable (hex for bytes), shortened when huge. */
  show(input: I): string;
  /** After the last input: checks over the whole run, and lines for the report. */
  finish?(): string[];
}

export interface Finding {
  kind: string;
  count: number;
  iteration: number;
  error: string;
  stack: string;
  input: string;
}

export interface Note {
  kind: string;
  count: number;
  iteration: number;
  detail: string;
  input: string;
}

export interface TargetResult {
  name: string;
  what: string;
  seed: string;
  inputs: number;
  explored: number;
  corpus: number;
  coverage: { reached: number; blocks: number } | null;
  ms: number;
  outcomes: Record<string, number>;
  findings: Finding[];
  notes: Note[];
  slowest: { iteration: number; ms: number; input: string } | null;
  /** Inputs slower than RunOptions.slowMs. */
  slow: number;
  extra: string[];
  /** Set when a run was stopped to print one input (--dump). */
  dumped?: string;
}

export interface RunOptions {
  seed: string;
  /** Inputs in all, seeds included. */
  iterations: number;
  /** How many of the first inputs are coverage-guided (0: none). */
  explore: number;
  /** Called every 1024 inputs with the count so far (the CLI's watchdog and progress line). */
  progress?: (done: number) => void;
  /** Called before each input runs, with its number (the CLI's watchdog names the input that hung). */
  onInput?: (iteration: number) => void;
  /** Stops before running input number `dump` and returns it, shown (to reproduce one input of a run). */
  dump?: number;
  maxCorpus?: number;
  maxFindingKinds?: number;
  /** Inputs slower than this are counted (default 100 ms). */
  slowMs?: number;
}

const now = () => performance.now();

export function runTarget<I>(target: Target<I>, opts: RunOptions): TargetResult {
  const rng = new Rng(`${opts.seed}:${target.name}`);
  const seeds = target.seeds(rng.fork('seeds'));
  const corpus: I[] = [...seeds];
  const maxCorpus = opts.maxCorpus ?? 20_000;
  const maxKinds = opts.maxFindingKinds ?? 25;
  const outcomes = new Map<string, number>();
  const findings = new Map<string, Finding>();
  const notes = new Map<string, Note>();
  const genRate = target.generateRate ?? 0.25;
  const other = () => corpus[rng.int(corpus.length)]!;
  let slowest: TargetResult['slowest'] = null;
  let slow = 0;
  const slowMs = opts.slowMs ?? 100;
  let current: I;
  let iteration = 0;
  const ctx: RunContext = {
    note(kind, detail = '') {
      const n = notes.get(kind);
      if (n) n.count++;
      else if (notes.size < 50) notes.set(kind, { kind, count: 1, iteration, detail, input: target.show(current) });
    },
  };

  const explore = Math.min(opts.explore, opts.iterations);
  const coverage = explore > 0 ? new Coverage(target.coverage) : null;
  coverage?.start();
  const t0 = now();
  try {
    for (iteration = 0; iteration < opts.iterations; iteration++) {
      try {
        if (iteration < seeds.length) current = seeds[iteration]!;
        else if (rng.chance(genRate)) current = target.generate(rng);
        else current = target.mutate(rng, corpus[rng.int(corpus.length)]!, other);
      } catch (e) {
        // The harness's own generator or mutator failed: a bug here, not in the target.
        record(findings, maxKinds, new HarnessError(e), iteration, () => '(no input: making it failed)');
        continue;
      }
      if (iteration === opts.dump) {
        return { ...emptyResult(target, opts), dumped: target.show(current) };
      }

      opts.onInput?.(iteration);
      const start = now();
      let label: string;
      try {
        label = target.run(current, ctx);
      } catch (e) {
        label = 'FINDING';
        record(findings, maxKinds, e, iteration, () => target.show(current));
      }
      const ms = now() - start;
      if (ms > slowMs) slow++;
      if (ms > (slowest?.ms ?? 1)) slowest = { iteration, ms, input: '' };
      if (slowest?.iteration === iteration) slowest.input = target.show(current);

      const seen = outcomes.get(label);
      outcomes.set(label, (seen ?? 0) + 1);
      let keep = false;
      if (coverage && iteration < explore) keep = coverage.collect() > 0;
      else keep = seen === undefined; // a new outcome: cheap feedback once coverage is off
      if (keep && label !== 'FINDING' && iteration >= seeds.length) {
        if (corpus.length < maxCorpus) corpus.push(current);
        else corpus[rng.int(corpus.length)] = current;
      }
      if (coverage && iteration === explore - 1) coverage.stop();
      if ((iteration & 1023) === 1023) opts.progress?.(iteration + 1);
    }
  } finally {
    coverage?.stop();
  }
  const ms = now() - t0;
  let extra: string[] = [];
  try {
    extra = target.finish?.() ?? [];
  } catch (e) {
    record(findings, maxKinds, e, opts.iterations, () => '(whole run)');
  }
  return {
    name: target.name,
    what: target.what,
    seed: opts.seed,
    inputs: opts.iterations,
    explored: explore,
    corpus: corpus.length,
    coverage: coverage?.summary ?? null,
    ms,
    outcomes: Object.fromEntries([...outcomes].sort((a, b) => b[1] - a[1])),
    findings: [...findings.values()],
    notes: [...notes.values()],
    slowest,
    slow,
    extra,
  };
}

function emptyResult(target: Target<unknown>, opts: RunOptions): TargetResult {
  return { name: target.name, what: target.what, seed: opts.seed, inputs: 0, explored: 0, corpus: 0, coverage: null, ms: 0, outcomes: {}, findings: [], notes: [], slowest: null, slow: 0, extra: [] };
}

function record(findings: Map<string, Finding>, maxKinds: number, e: unknown, iteration: number, show: () => string): void {
  const err = e instanceof Error ? e : new Error(`non-Error thrown: ${String(e)}`);
  const frame = err instanceof Violation ? '' : (err.stack?.split('\n').find((l) => l.trim().startsWith('at ')) ?? '').trim();
  // Grouped by the message's first line, numbers elided (details go on later lines), and the throwing frame.
  const kind = `${err.name}: ${err.message.split('\n')[0]!.replace(/\d+/g, '#').slice(0, 200)}${frame ? ` ${frame.replace(/:\d+:\d+\)?$/, '')}` : ''}`;
  const f = findings.get(kind);
  if (f) {
    f.count++;
    return;
  }
  if (findings.size >= maxKinds) return;
  findings.set(kind, {
    kind,
    count: 1,
    iteration,
    error: `${err.name}: ${err.message}`.slice(0, 2000),
    stack: (err.stack ?? '')
      .split('\n')
      .filter((l) => l.startsWith('    at ') && !l.includes('data:text/javascript') && !l.includes('node:internal'))
      .slice(0, 5)
      .map((l) => l.slice(0, 300))
      .join('\n'),
    input: show(),
  });
}

/** Bytes as hex, shortened in the middle when long. */
export function hex(b: Uint8Array, max = 512): string {
  const h = Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
  return h.length <= max * 2 ? h : `${h.slice(0, max)}…(${b.length} bytes)…${h.slice(-max)}`;
}
