// Coverage feedback from V8 itself: block coverage through the inspector
// protocol (the same counters `node --experimental-test-coverage` and c8 read),
// taken after each input during a target's exploration phase. An input that
// reaches a block of the target's modules not reached before joins the corpus.
// (Hit counts, AFL's buckets of how often a block ran, would guide loops too,
// but V8's counts vary from run to run with when functions get optimized, and
// a run must repeat exactly from its seed; which blocks are reached does not
// vary.) Taking coverage costs about a millisecond, so it guides the first
// inputs of a run; the bulk of the inputs are then mutated from the corpus it
// grew, with coverage off.

import { Session } from 'node:inspector';

interface Range {
  startOffset: number;
  endOffset: number;
  count: number;
}
interface ScriptCoverage {
  url: string;
  functions: { ranges: Range[] }[];
}

export class Coverage {
  private readonly session = new Session();
  private readonly blocks = new Set<string>();
  private readonly reached = new Set<string>();
  private running = false;

  /** files: paths (or path suffixes) of the modules whose blocks count, e.g. "core/packet.ts". */
  constructor(private readonly files: readonly string[]) {}

  start(): void {
    this.session.connect();
    this.post('Profiler.enable');
    this.post('Profiler.startPreciseCoverage', { callCount: true, detailed: true });
    this.running = true;
    this.post('Profiler.takePreciseCoverage'); // start from zero
  }

  stop(): void {
    if (!this.running) return;
    this.post('Profiler.stopPreciseCoverage');
    this.post('Profiler.disable');
    this.session.disconnect();
    this.running = false;
  }

  /** Takes (and resets) the counts since the last call; returns how many blocks were reached for the first time. */
  collect(): number {
    const { result } = this.post('Profiler.takePreciseCoverage') as { result: ScriptCoverage[] };
    let fresh = 0;
    for (const script of result) {
      const f = this.files.findIndex((x) => script.url.endsWith(x));
      if (f < 0) continue;
      for (const fn of script.functions) {
        for (const r of fn.ranges) {
          const block = `${f}:${r.startOffset}:${r.endOffset}`;
          this.blocks.add(block);
          if (r.count <= 0 || this.reached.has(block)) continue;
          this.reached.add(block);
          fresh++;
        }
      }
    }
    return fresh;
  }

  /** Blocks of the target's modules reached at least once, of those V8 reported (compiled functions only). */
  get summary(): { reached: number; blocks: number } {
    return { reached: this.reached.size, blocks: this.blocks.size };
  }

  private post(method: string, params: object = {}): unknown {
    let out: unknown;
    let err: Error | null = null;
    // The in-thread inspector session answers synchronously.
    this.session.post(method, params, (e, r) => {
      err = e;
      out = r;
    });
    if (err) throw err;
    return out;
  }
}
