// `netprobes exporter`: the chosen probes, headless, their rows summed into
// Prometheus metrics served at /metrics. The probes run as the CLI runs them —
// in this process, through the probe registry's sources (as root) — or, with
// `--via collector`, through the same confined collector and host session as
// the app. Nothing here runs a probe another way; the metrics are metrics/.

import path from 'node:path';
import { DIST_DIR } from './serve.node.ts';
import { PROBES, type ProbeId } from '../probes/registry.ts';
import { SOURCES } from '../probes/sources.node.ts';
import { rowDecoder } from '../core/probe.ts';
import { ProbeError } from '../core/probe-error.ts';
import { exitNow, onExit } from '../runtime/exit.node.ts';
import type { RunningProbe } from '../runtime/source.ts';
import { Session } from '../host/session.node.ts';
import { EXPORTABLE } from '../metrics/families.ts';
import { Exporter } from '../metrics/exporter.node.ts';
import { AccessError, parseListen, type Listen } from '../metrics/access.ts';
import { startMetricsServer } from '../metrics/server.node.ts';
import type { SeriesLimits } from '../metrics/series.ts';
import { UsageError } from './args.ts';

export const EXPORTER_HELP = `usage: npx netprobes exporter [--listen ADDR:PORT] [--probes LIST] [--interval S] [options]

Runs probes headless and serves their counts at /metrics for Prometheus.
  --listen ADDR:PORT        where to serve (default 127.0.0.1:9464). Beyond loopback, a
                            bearer token file or TLS (--web-config) is required
  --probes LIST             comma-separated, of ${EXPORTABLE.join(', ')} (default: all three)
  --interval S              seconds per nettop/dropwatch table, 1-60 (default 5)
  --top N                   label sets per probe with a series of their own, the busiest by
                            recent traffic (default 100); the rest are summed in 'other' series
  --series-ttl S            a series with no traffic for S seconds (an exited process) is
                            removed (default 300)
  --bearer-token-file FILE  scrapes must send "Authorization: Bearer <the file's token>"
  --web-config FILE         Prometheus' web.config.yml: tls_server_config, basic_auth_users
  --via in-process|collector
                            run the probes in this process (default; needs root or the probes'
                            capabilities), or through NetProbes' confined collector (needs root)

Metrics: netprobes_process_{transmit,receive}_{bytes,packets}_total{pid,comm,uid,device},
netprobes_drops_total{location,reason,protocol}, netprobes_tcp_accepts_total{port,comm},
netprobes_lost_total{probe,cause}, netprobes_probe_up{probe}, netprobes_build_info, and the
exporter's own process_* and nodejs_* metrics. HTTP serves GET and HEAD of /metrics, nothing else.`;

export interface ExporterArgs {
  listen: Listen;
  probes: ProbeId[];
  interval: number;
  limits: SeriesLimits;
  bearerTokenFile: string | null;
  webConfig: string | null;
  via: 'in-process' | 'collector';
}

export function parseExporterArgs(argv: readonly string[]): ExporterArgs {
  const o: ExporterArgs = {
    listen: { host: '127.0.0.1', port: 9464 },
    probes: [...EXPORTABLE],
    interval: 5,
    limits: { maxSeries: 100, maxOther: 16, ttlMs: 300_000, halfLifeMs: 60_000 },
    bearerTokenFile: null,
    webConfig: null,
    via: 'in-process',
  };
  const int = (flag: string, v: string, min: number, max: number) => {
    if (!/^\d{1,9}$/.test(v) || Number(v) < min || Number(v) > max) throw new UsageError(`${flag} must be a whole number in ${min}..${max}, not '${v}'`);
    return Number(v);
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const eq = arg.indexOf('=');
    const flag = eq > 0 ? arg.slice(0, eq) : arg;
    const v = eq > 0 ? arg.slice(eq + 1) : argv[++i];
    if (v === undefined) throw new UsageError(`${flag} needs a value (see netprobes exporter --help)`);
    switch (flag) {
      case '--listen':
        try {
          o.listen = parseListen(v);
        } catch (e) {
          throw new UsageError((e as Error).message);
        }
        break;
      case '--probes': {
        const ids = v.split(',').filter(Boolean);
        const bad = ids.find((id) => !(EXPORTABLE as string[]).includes(id));
        if (!ids.length || bad !== undefined) throw new UsageError(`--probes takes a list of ${EXPORTABLE.join(', ')}${bad ? `, not '${bad}'` : ''}`);
        o.probes = [...new Set(ids as ProbeId[])];
        break;
      }
      case '--interval':
        o.interval = int(flag, v, 1, 60);
        break;
      case '--top':
        o.limits = { ...o.limits, maxSeries: int(flag, v, 1, 10_000) };
        break;
      case '--series-ttl':
        o.limits = { ...o.limits, ttlMs: int(flag, v, 1, 86_400) * 1000 };
        break;
      case '--bearer-token-file':
        o.bearerTokenFile = v;
        break;
      case '--web-config':
        o.webConfig = v;
        break;
      case '--via':
        if (v !== 'in-process' && v !== 'collector') throw new UsageError(`--via takes in-process or collector, not '${v}'`);
        o.via = v;
        break;
      default:
        throw new UsageError(`unknown exporter option ${flag} (see netprobes exporter --help)`);
    }
  }
  return o;
}

/** The probe's options: its defaults, with the exporter's interval where the probe has one. */
function probeOptions(id: ProbeId, interval: number): object {
  const defaults = PROBES[id].defaults as Record<string, unknown>;
  return PROBES[id].options.parse('interval' in defaults ? { ...defaults, interval } : defaults, 'options') as object;
}

const log = (line: string) => void process.stderr.write(`netprobes exporter: ${line}\n`);

/** Where probes run: each gives its rows to the exporter and answers with its counters while it runs. */
interface Runner {
  counters(probe: ProbeId): Record<string, number> | null;
  start(exporter: Exporter): Promise<void>;
  stop(): Promise<void>;
}

/** As the CLI: the registry's sources in this process. A probe that fails is logged and shown down; none left, the exporter exits. */
function inProcess(args: ExporterArgs): Runner {
  const running = new Map<ProbeId, RunningProbe>();
  return {
    counters: (p) => running.get(p)?.counters() ?? null,
    async start(exporter) {
      for (const id of args.probes) {
        const source = SOURCES[id];
        const r = await source(probeOptions(id, args.interval), {
          row: (row) => exporter.rows(id, [row]),
          rows: (rows) => exporter.rows(id, rows),
          fail: (e) => {
            log(`${id} stopped: ${e.message}`);
            const stopped = running.get(id);
            running.delete(id);
            void stopped?.stop();
            if (!running.size) void exitNow(1);
          },
        });
        running.set(id, r);
        for (const l of r.use.lacks) log(`${id}: without ${l.feature}: ${l.fallback} (${l.reason})`);
        log(`${id}: ${r.description}`);
      }
    },
    async stop() {
      await Promise.all([...running.values()].map((r) => r.stop()));
      running.clear();
    },
  };
}

/** As the app: the host session starts NetProbes' confined collector and relays its rows and counters. */
function viaCollector(args: ExporterArgs): Runner {
  const session = new Session({
    collectorScript: path.join(DIST_DIR, 'collector.js'),
    frontEnd: 'browser',
    elevatedLauncher: null,
    saveFile: null,
    log: (line) => log(`collector: ${line}`),
  });
  const counters = new Map<ProbeId, Record<string, number>>();
  const decoders = new Map(args.probes.map((id) => [id, rowDecoder<object>(PROBES[id].columns as never)]));
  const said = new Map<ProbeId, string>();
  return {
    counters: (p) => (session.state.probes[p].running ? (counters.get(p) ?? {}) : null),
    async start(exporter) {
      session.subscribe((e) => {
        if (e.type === 'rows') {
          const decode = decoders.get(e.probe);
          if (decode) exporter.rows(e.probe, e.rows.map(decode));
        } else if (e.type === 'counters') counters.set(e.probe, e.counters);
        else if (e.type === 'state') {
          for (const id of args.probes) {
            const p = e.state.probes[id];
            if (!p.running && p.problem && said.get(id) !== p.problem.message) log(`${id} stopped: ${p.problem.message}`);
            if (p.problem) said.set(id, p.problem.message);
          }
          if (e.state.collector.status === 'crashed') {
            log(`the collector stopped: ${e.state.collector.problem ?? 'no reason given'}`);
            void exitNow(1);
          }
        }
      });
      for (const id of args.probes) await session.handle({ type: 'start', probe: id, options: probeOptions(id, args.interval) });
    },
    async stop() {
      session.shutdown();
    },
  };
}

export async function runExporter(args: ExporterArgs, version: string): Promise<void> {
  const runner = args.via === 'collector' ? viaCollector(args) : inProcess(args);
  const exporter = new Exporter({ probes: args.probes, limits: args.limits, version, counters: (p) => runner.counters(p) });
  let server;
  try {
    // The server first: a refused configuration is said before any probe starts.
    server = await startMetricsServer({ listen: args.listen, webConfig: args.webConfig, bearerTokenFile: args.bearerTokenFile }, exporter, log);
  } catch (e) {
    if (e instanceof AccessError) throw new UsageError(e.message);
    throw e;
  }
  onExit(async () => {
    await server.close();
    await runner.stop();
  });
  try {
    await runner.start(exporter);
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    log(msg);
    await exitNow(e instanceof ProbeError && e.kind === 'input' ? 2 : 1);
  }
  // On stdout once every probe runs: a script (or a test) that waits for it knows the counts have begun.
  process.stdout.write(`netprobes exporter: serving ${args.probes.join(', ')} at ${server.url}\n`);
}
