// A process that starts a tracefs probe and then dies the way it is told to:
// `wait` (the test kills it: SIGKILL, SIGTERM, SIGINT) or `throw` (an uncaught
// exception). Prints "ready <instance names>" once the probe runs.

import { readdirSync } from 'node:fs';
import { SOURCES } from '../../probes/sources.node.ts';
import { PROBES } from '../../probes/registry.ts';
import type { ProbeId } from '../../probes/registry.ts';
import { installExitHook } from '../../runtime/exit.node.ts';

installExitHook(); // as every process that runs probes does (the CLI and the collector through onExit)

const [probe = 'dropwatch', mode = 'wait'] = process.argv.slice(2);
const source = SOURCES[probe as ProbeId];
if (!source) throw new Error(`no source for ${probe}`);
void source(PROBES[probe as ProbeId].defaults, { row: () => {}, rows: () => {}, fail: () => {} }).then(() => {
  const mine = readdirSync('/sys/kernel/tracing/instances').filter((n) => n.startsWith(`netprobes-${process.pid}-`));
  process.stdout.write(`ready ${mine.join(' ')}\n`);
  if (mode === 'throw') setTimeout(() => { throw new Error('boom (on purpose)'); }, 50);
  else setInterval(() => {}, 1000);
});
