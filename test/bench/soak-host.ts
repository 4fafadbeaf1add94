// The soak's host process: the app's host session (host/session.node.ts, as Electron main and `netprobes
// serve` use it) with the real collector, running nettop. Bundled by soak.ts with esbuild and run in plain Node, so
// its RSS is a host's, not the bench's.
//
//   node soak-host.js COLLECTOR_SCRIPT INTERVAL IFACE
//
// Stdout, one JSON object a line: {ev:'started', collectorPid, source}, then {ev:'counters', counters} for each
// counters event the host gets (every 250 ms), then {ev:'stopped', ...totals} after stdin closes (or SIGTERM) and the
// probe has stopped. Rows are handled as a front end's transport would: each event serialised once (JSON), then
// dropped; per PID only the packet totals are kept (a handful of numbers: the bench checks attribution with them).

import { Session } from '../../host/session.node.ts';
import type { HostEvent } from '../../ipc/api.ts';
import { rowDecoder } from '../../core/probe.ts';
import { nettop } from '../../probes/nettop/definition.ts';

const [collectorScript, interval, iface] = process.argv.slice(2);
if (!collectorScript) {
  process.stderr.write('usage: soak-host COLLECTOR_SCRIPT INTERVAL IFACE\n');
  process.exit(2);
}

const say = (o: object) => process.stdout.write(JSON.stringify(o) + '\n');
const log: string[] = [];

const session = new Session({
  collectorScript,
  frontEnd: 'browser',
  elevatedLauncher: null,
  saveFile: null,
  log: (line) => {
    log.push(line);
    if (log.length > 50) log.shift();
    process.stderr.write(`collector: ${line}\n`);
  },
});

let rows = 0;
let tables = 0;
let serialisedBytes = 0;
/** Packets (sent + received) per PID over the run. */
const packets = new Map<number, number>();
let counters: Record<string, number> = {};
let stoppedProblem: unknown = null;
let stopped: (() => void) | null = null;

const decodeNettop = rowDecoder(nettop.columns);
session.subscribe((e: HostEvent) => {
  serialisedBytes += JSON.stringify(e).length;
  if (e.type === 'counters' && e.probe === 'nettop') {
    counters = e.counters;
    say({ ev: 'counters', counters });
  } else if (e.type === 'rows' && e.probe === 'nettop') {
    tables++;
    for (const tuple of e.rows) {
      const r = decodeNettop(tuple);
      rows++;
      packets.set(r.pid, (packets.get(r.pid) ?? 0) + r.xmitPk + r.recvPk);
    }
  } else if (e.type === 'state' && !e.state.probes.nettop.running && stopped) {
    stoppedProblem = e.state.probes.nettop.problem;
    stopped();
  }
});

let ending = false;
async function end(): Promise<void> {
  if (ending) return;
  ending = true;
  const done = new Promise<void>((r) => (stopped = r));
  await session.handle({ type: 'stop', probe: 'nettop' });
  await Promise.race([done, new Promise((r) => setTimeout(r, 15_000))]);
  say({ ev: 'stopped', counters, rows, tables, serialisedBytes, packets: Object.fromEntries(packets), problem: stoppedProblem, collector: session.state.collector });
  session.shutdown();
  setTimeout(() => process.exit(0), 500);
}

process.stdin.resume();
process.stdin.on('end', () => void end());
process.on('SIGTERM', () => void end());
process.on('SIGINT', () => void end());

async function main(): Promise<void> {
  await session.handle({ type: 'start', probe: 'nettop', options: { interval: Number(interval ?? 1), ifaces: iface ? [iface] : [] } });
  const until = Date.now() + 20_000;
  while (!session.state.probes.nettop.source && Date.now() < until) {
    if (!session.state.probes.nettop.running) throw new Error(`nettop did not start: ${JSON.stringify(session.state.probes.nettop.problem)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  if (!session.state.probes.nettop.source) throw new Error('nettop did not say it started within 20 s');
  say({ ev: 'started', collectorPid: session.state.collector.pid, source: session.state.probes.nettop.source });
}

main().catch((e: unknown) => {
  process.stderr.write(`soak-host: ${e instanceof Error ? e.message : String(e)}\n${log.join('\n')}\n`);
  session.shutdown();
  process.exit(1);
});
