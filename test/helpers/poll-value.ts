// Waiting for a value the product shows (a count in the page, a file it exports) by polling it with a deadline,
// instead of sleeping a guessed time: as fast as the product, and a slow machine only makes it slower.

/**
 * Reads `read()` every `everyMs` until `done(value)` or the deadline (`timeoutMs`), and returns the last value read
 * either way, so the caller's exact assertion on it reports what was seen when the deadline passed.
 */
export async function pollValue<T>(read: () => Promise<T> | T, done: (value: T) => boolean, opts: { timeoutMs?: number; everyMs?: number } = {}): Promise<T> {
  const deadline = Date.now() + (opts.timeoutMs ?? 10_000);
  for (;;) {
    const value = await read();
    if (done(value) || Date.now() >= deadline) return value;
    await new Promise((r) => setTimeout(r, opts.everyMs ?? 200));
  }
}
