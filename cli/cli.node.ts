// `netprobes`: the command-line front door. Each probe by name, `serve` (the
// GUI in a browser), `app` (the desktop app, or `serve` where it cannot run).

import { PROBES, PROBE_IDS, type ProbeId } from '../probes/registry.ts';
import { parseProbeArgs, probeHelp, UsageError } from './args.ts';
import { runProbe } from './run-probe.node.ts';
import { parseServeArgs, serve, SERVE_HELP } from './serve.node.ts';
import { startApp } from './app.node.ts';
import { historyWriterChild, runHistory } from './history.node.ts';
import { HISTORY_HELP, parseHistoryArgs } from './history-args.ts';
import { EXPORTER_HELP, parseExporterArgs, runExporter } from './exporter.node.ts';
import { readFileSync } from 'node:fs';
import path from 'node:path';

const HELP = `netprobes — see what the Linux network stack is doing, per process

usage:
  npx netprobes <probe> [options]      run a probe here and print its rows
  npx netprobes serve [options]        serve the GUI to a browser (127.0.0.1, with a token)
  npx netprobes app                    start the desktop app (or serve, without a display or Electron)
  npx netprobes exporter [options]     run probes headless, serving Prometheus metrics (see exporter --help)
  npx netprobes <probe> --help         a probe's options and columns
  npx netprobes history [options]      what was recorded, over a time range (see history --help)

probes:
${PROBE_IDS.map((id) => `  ${id.padEnd(17)} ${PROBES[id].summary}`).join('\n')}

common probe options:
  --duration SECONDS   stop after this many seconds (default: until Ctrl-C)
  --format FORMAT      table (the seed script's layout), csv or json (one object a line)
  --record             also record to the history database (--history-db PATH: another file)

Probes need root (libpcap capture, tracefs): run with sudo, or as root.
A summary (seen, shown, lost) is printed on stderr when a probe ends.`;

async function main(argv: string[]): Promise<void> {
  const [cmd, ...rest] = argv;
  if (!cmd || cmd === '--help' || cmd === '-h' || cmd === 'help') {
    process.stdout.write(HELP + '\n');
    return;
  }
  try {
    if (cmd === 'serve') {
      if (rest.includes('--help')) return void process.stdout.write(SERVE_HELP + '\n');
      await serve(parseServeArgs(rest));
      return;
    }
    if (cmd === 'history') {
      const args = parseHistoryArgs(rest);
      if (args.help) return void process.stdout.write(HISTORY_HELP + '\n');
      runHistory(args);
      return;
    }
    if (cmd === '__history-writer') return historyWriterChild(rest);
    if (cmd === 'exporter') {
      if (rest.includes('--help')) return void process.stdout.write(EXPORTER_HELP + '\n');
      // dist/cli.js and cli/cli.node.ts are both one level below the package.
      const { version } = JSON.parse(readFileSync(path.join(__dirname, '..', 'package.json'), 'utf8')) as { version: string };
      await runExporter(parseExporterArgs(rest), version);
      return;
    }
    if (cmd === 'app') {
      await startApp(rest);
      return;
    }
    if ((PROBE_IDS as readonly string[]).includes(cmd)) {
      const probe = PROBES[cmd as ProbeId];
      const args = parseProbeArgs(probe, rest);
      if (args.help) return void process.stdout.write(probeHelp(probe) + '\n');
      await runProbe(probe.id, args);
      return;
    }
    throw new UsageError(`unknown command '${cmd}' (see netprobes --help)`);
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`netprobes: ${e.message}\n`);
      process.exit(2);
    }
    throw e;
  }
}

void main(process.argv.slice(2));
