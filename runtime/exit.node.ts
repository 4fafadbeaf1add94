// The one process-exit hook. Every way out of a process that runs probes —
// a normal exit, SIGINT, SIGTERM, SIGHUP, an uncaught exception or rejection —
// disposes what the process holds, so whatever a probe enabled in the kernel is
// disabled. Two stores, disposed in this order:
//  - the runs' cleanups (`onExit`: a probe's stop, which reads what is left and
//    prints its summary; a server's close), async and bounded in time;
//  - core's `processStore`, where the kernel registers what it holds (tracefs
//    instances), disposed again synchronously on 'exit' as the backstop.
// SIGKILL cannot be caught: the collector's supervisor or the CLI's reaper
// removes the instances at once, and the next start removes what is left.

import { DisposableStore, processStore, toDisposable } from '../core/lifecycle.ts';

const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
/** How long the runs' cleanups may take before the process exits anyway: ms. */
const CLEANUP_BOUND_MS = 3000;

const runs = new DisposableStore();
let installed = false;
let cleaning: Promise<unknown> | null = null;

function report(error: unknown): void {
  process.stderr.write(`netprobes: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
}

/**
 * Installs the hook (once). A process with a run to finish (one that called `onExit`) ends normally on a signal,
 * with exit code 0; one that only holds kernel resources gives them back and dies of the signal, as it would have
 * without the hook (unless another handler of that signal decides).
 */
export function installExitHook(): void {
  if (installed) return;
  installed = true;
  runs.onError = report;
  processStore.onError = report;
  for (const signal of SIGNALS) {
    const handler = () => {
      if (runs.size || runs.isDisposed) return void exitNow(0); // being told to stop is how a run normally ends
      void disposeAll().then(() => {
        if (process.listenerCount(signal) > 1) return; // someone else decides how this process ends
        process.removeListener(signal, handler);
        process.kill(process.pid, signal);
      });
    };
    process.on(signal, handler);
  }
  process.on('uncaughtException', (error) => {
    report(error);
    void exitNow(1);
  });
  process.on('unhandledRejection', (error) => {
    report(error);
    void exitNow(1);
  });
  process.on('exit', () => processStore.disposeNow());
}

/** Registers a cleanup to run on the way out, and installs the hook. */
export function onExit(cleanup: () => Promise<void> | void): void {
  installExitHook();
  runs.add(toDisposable(cleanup));
}

/** The runs' cleanups, then the process store; once, however often asked, bounded in time. */
function disposeAll(): Promise<unknown> {
  cleaning ??= Promise.race([
    runs.dispose().then(() => processStore.dispose()),
    new Promise((resolve) => setTimeout(resolve, CLEANUP_BOUND_MS).unref()),
  ]);
  return cleaning;
}

/** Disposes everything (bounded in time) and exits with `code`. */
export async function exitNow(code: number): Promise<never> {
  installExitHook();
  await disposeAll();
  process.exit(code);
}
