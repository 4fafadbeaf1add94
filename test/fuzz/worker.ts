// One target in a worker thread, so that the CLI can run targets side by side
// and stop one that hangs: before each input the worker writes the input's
// number into shared memory, which is how a hang is traced to its input.

import { parentPort, workerData } from 'node:worker_threads';
import { runTarget, type RunOptions } from './engine.ts';
import { allTargets, type TargetOptions } from './targets/index.ts';

interface Job {
  target: string;
  run: Omit<RunOptions, 'progress' | 'onInput'>;
  targets: TargetOptions;
  /** [inputs done, input running] */
  shared: SharedArrayBuffer;
}

const job = workerData as Job;
const state = new Int32Array(job.shared);
const target = allTargets(job.targets).find((t) => t.name === job.target);
if (!target) throw new Error(`no fuzz target ${job.target}`);
const result = runTarget(target, {
  ...job.run,
  progress: (done) => Atomics.store(state, 0, done),
  onInput: (i) => {
    state[1] = i;
  },
});
parentPort!.postMessage(result);
