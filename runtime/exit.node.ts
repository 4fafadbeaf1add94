// Every way out of a process that runs probes goes through here, so whatever a
// probe enabled in the kernel is disabled: a normal exit, SIGINT, SIGTERM,
// SIGHUP, an uncaught exception or rejection. (SIGKILL cannot be caught: the
// next start removes what a killed run left behind.)

type Cleanup = () => Promise<void> | void;

const cleanups: Cleanup[] = [];
let cleaning: Promise<unknown> | null = null;
let installed = false;

/** Registers a cleanup and, on first use, the process handlers that run it. */
export function onExit(cleanup: Cleanup): void {
  cleanups.push(cleanup);
  if (installed) return;
  installed = true;
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(sig, () => void exitNow(0)); // being told to stop is how a run normally ends
  }
  process.on('uncaughtException', (e) => {
    process.stderr.write(`netprobes: ${e.stack ?? e.message}\n`);
    void exitNow(1);
  });
  process.on('unhandledRejection', (e) => {
    process.stderr.write(`netprobes: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    void exitNow(1);
  });
}

/** Runs every cleanup (once, bounded in time, however often it is asked) and exits. */
export async function exitNow(code: number): Promise<never> {
  cleaning ??= Promise.race([
    Promise.allSettled(cleanups.splice(0).map(async (c) => c())),
    new Promise((r) => setTimeout(r, 3000).unref()),
  ]);
  await cleaning;
  process.exit(code);
}
