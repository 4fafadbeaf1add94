// A capture filter is checked before libpcap compiles it for real, because
// compiling is native code that can run for seconds on one expression (its
// optimizer grows much faster than the expression's length; a host name is a
// DNS lookup). The check compiles it in a child process for the capture's link
// type (pcap_open_dead: no capture, no privilege needed) and kills it past a
// time bound. Not a worker thread: terminate() cannot stop a thread inside
// native code (measured: a terminate after 0.16 s waited for the whole 22 s
// compile), and cap, not context-aware, does not load in a worker once the
// main thread has it.

import { spawn } from 'node:child_process';
import { MAX_FILTER_CHARS } from '../../core/probe-options.ts';
import { ProbeError } from '../../core/probe-error.ts';

/** How long the compile itself may take (from the child's "loaded" signal). */
export const FILTER_COMPILE_TIMEOUT_MS = 2000;
/** How long the child may take to start and load the binding (a busy machine). */
const STARTUP_TIMEOUT_MS = 10_000;

// Reads its job on stdin, says "\n" once loaded, compiles, then answers in JSON.
const CHILD = `
let input = '';
process.stdin.setEncoding('utf8').on('data', (d) => (input += d)).on('end', () => {
  const job = JSON.parse(input);
  const cap = require(job.cap);
  process.stdout.write('\\n');
  const error = cap.checkFilter(job.filter, job.linkType, job.snaplen, job.device);
  process.stdout.write(JSON.stringify({ error }));
});
`;

export interface FilterTarget {
  linkType: number;
  snaplen: number;
  /** For the netmask ("ip broadcast"); '' when none. */
  device: string;
}

/** Refuses what must not reach libpcap at all: too long, or a NUL (C would see a shorter expression). */
export function refuseFilter(filter: string): ProbeError | null {
  if (filter.length > MAX_FILTER_CHARS) {
    return new ProbeError('input', `the filter expression is ${filter.length} characters long; at most ${MAX_FILTER_CHARS} are accepted`);
  }
  if (filter.includes('\0')) return new ProbeError('input', 'the filter expression contains a NUL character');
  return null;
}

/** Resolves if libpcap compiles `filter` for the target within timeoutMs; rejects with a ProbeError saying why not. */
export async function checkFilter(filter: string, target: FilterTarget, timeoutMs = FILTER_COMPILE_TIMEOUT_MS): Promise<void> {
  const refused = refuseFilter(filter);
  if (refused) throw refused;
  const env: NodeJS.ProcessEnv = { ...process.env, ELECTRON_RUN_AS_NODE: '1' };
  delete env.NODE_OPTIONS;
  const child = spawn(process.execPath, ['-e', CHILD], { stdio: ['pipe', 'pipe', 'pipe'], env });
  child.stdin.on('error', () => {}); // a child that died at once: its exit says why
  child.stdin.end(JSON.stringify({ cap: require.resolve('cap'), filter, ...target }));

  let out = '';
  let err = '';
  let timedOut: 'startup' | 'compile' | null = null;
  const kill = (why: 'startup' | 'compile') => {
    timedOut = why;
    child.kill('SIGKILL');
  };
  let timer = setTimeout(() => kill('startup'), STARTUP_TIMEOUT_MS);
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    if (!out.includes('\n') && d.includes('\n')) {
      clearTimeout(timer);
      timer = setTimeout(() => kill('compile'), timeoutMs);
    }
    out += d;
  });
  child.stderr.setEncoding('utf8').on('data', (d: string) => (err = (err + d).slice(-2000)));

  const exit = await new Promise<{ code: number | null; signal: NodeJS.Signals | null; error?: Error }>((resolve) => {
    child.on('error', (error) => resolve({ code: null, signal: null, error }));
    child.on('close', (code, signal) => resolve({ code, signal }));
  });
  clearTimeout(timer);

  if (timedOut === 'compile') {
    throw new ProbeError(
      'input',
      `the filter expression took longer than ${timeoutMs / 1000} s to compile (libpcap's optimizer slows down fast on long lists of alternatives): shorten it, e.g. portrange instead of many ports`,
    );
  }
  if (exit.error || timedOut || exit.code !== 0) {
    const why = exit.error?.message ?? (timedOut ? `it did not start within ${STARTUP_TIMEOUT_MS / 1000} s` : `it exited with ${exit.signal ?? `code ${exit.code}`}${err ? `: ${err.trim().split('\n').pop()}` : ''}`);
    throw new ProbeError('feature', `could not check the filter expression in a child process: ${why}`);
  }
  let answer: { error?: unknown };
  try {
    answer = JSON.parse(out.slice(out.indexOf('\n') + 1)) as { error?: unknown };
  } catch {
    throw new ProbeError('feature', `could not check the filter expression in a child process: it answered '${out.slice(0, 200)}'`);
  }
  if (typeof answer.error === 'string') throw badFilter(filter, answer.error);
}

/** libpcap refused the expression: its words, and the expression (a long one cut). */
export function badFilter(filter: string, libpcapSaid: string): ProbeError {
  const shown = filter.length > 100 ? `${filter.slice(0, 100)}…` : filter;
  return new ProbeError('input', `bad filter expression '${shown}': ${libpcapSaid}`);
}
