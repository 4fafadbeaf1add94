// One user's session with the collector, shared by both front doors (Electron
// main and `netprobes serve`): it owns the collector's lifetime, keeps the
// state the renderer shows, answers the renderer's validated requests and fans
// the collector's messages out to every subscribed front end.

import { cliOnlyFlagSet } from '../core/probe.ts';
import { PROBES } from '../probes/registry.ts';
import type { HostEvent, HostState, InterfaceInfo, Reply, Request } from '../ipc/api.ts';
import { PROBE_IDS, type ProbeId } from '../probes/registry.ts';
import type { CollectorMessage } from '../ipc/protocol.ts';
import { listInterfaces } from '../kernel/interfaces.node.ts';
import { CollectorLink, directLauncher, type Launcher } from './collector-link.node.ts';
import { NameCache } from './names.node.ts';
import { rowDecoder, type Column, type RowTuple } from '../core/probe.ts';
import { KIND_OF_PROBE } from '../history/plan.ts';
import { queryRange } from '../history/query.node.ts';
import { recordingSetting, saveRecordingSetting, saveRetention } from '../history/settings.node.ts';
import { HistoryWriter, historyTarget } from '../history/writer.node.ts';
import { OwnActivityTracker, type WindowClients } from './own-activity.node.ts';

export interface SessionOptions {
  collectorScript: string;
  frontEnd: HostState['frontEnd'];
  /** How to get a root collector when we are not root (the elevation prompt); null: we cannot. */
  elevatedLauncher: Launcher | null;
  /** Electron: a save dialog that writes the file; null where the renderer saves for itself. */
  saveFile: ((suggestedName: string, content: string, encoding: 'utf8' | 'base64') => Promise<string | null>) | null;
  log?: (line: string) => void;
  /**
   * History: the database (default: the user's data directory; under sudo, that user's) and whether to record
   * (default: the remembered switch, on unless turned off); null: no history at all.
   */
  history?: { path?: string | null; recording?: boolean } | null;
}

const HELLO_TIMEOUT_DIRECT_MS = 15_000;
/** A person may take a while with the password dialog. */
const HELLO_TIMEOUT_PROMPT_MS = 120_000;

export class Session {
  private link: CollectorLink | null = null;
  private starting: Promise<void> | null = null;
  private readonly listeners = new Set<(e: HostEvent) => void>();
  private readonly names = new NameCache();
  /** Per probe, the last start/stop in line: each waits for the one before, so the collector gets them in the order asked. */
  private readonly lanes = new Map<ProbeId, Promise<unknown>>();
  readonly state: HostState;
  /** The history database, open for the session (recording or not: the History view reads it either way). */
  private history: HistoryWriter | null = null;
  private historyOwner: { uid: number; gid: number } | null = null;
  private readonly decoders = new Map<ProbeId, (t: RowTuple) => Record<string, unknown>>();
  /** NetProbes' own processes and ports, in the state so every window can label and hide them. */
  private readonly own = new OwnActivityTracker((own) => {
    this.state.own = own;
    this.broadcast({ type: 'state', state: this.state });
  });

  constructor(private readonly opts: SessionOptions) {
    this.state = {
      collector: { status: 'not-running', elevated: false, pid: null, problem: null },
      elevation: process.getuid?.() === 0 ? 'direct' : opts.elevatedLauncher ? 'prompt' : 'none',
      frontEnd: opts.frontEnd,
      probes: Object.fromEntries(PROBE_IDS.map((id) => [id, { running: false, source: null, use: null, problem: null }])) as HostState['probes'],
      history: { recording: false, path: null, problem: 'history is off for this session', notice: null, retention: null },
      own: { pids: [], ports: [] },
    };
    if (opts.history !== null) this.openHistory(opts.history ?? {});
    this.own.start();
  }

  /** `serve`: its port and its browser clients' ports, so their connection and their browser count as NetProbes' own. */
  setWindowClients(clients: WindowClients | null): void {
    this.own.setClients(clients);
  }

  private openHistory(o: { path?: string | null; recording?: boolean }): void {
    let file: string | null = null;
    try {
      const target = historyTarget(o.path ?? null);
      file = target.path;
      this.historyOwner = target.owner;
      this.history = HistoryWriter.open(file, { owner: target.owner, log: (l) => this.opts.log?.(l) });
      const recording = o.recording ?? recordingSetting(file);
      this.state.history = { recording, path: file, problem: recording ? null : 'recording is turned off', notice: this.history.notice, retention: this.history.store.retention };
    } catch (e) {
      this.state.history = { recording: false, path: file, problem: `history cannot be recorded: ${(e as Error).message}`, notice: null, retention: null };
    }
  }

  /** Writes what history holds and closes it (at quit). */
  close(): void {
    this.shutdown();
    this.history?.close();
    this.history = null;
  }

  private historyOf(): HistoryWriter {
    if (!this.history) throw new Error(this.state.history.problem ?? 'no history database');
    return this.history;
  }

  subscribe(listener: (e: HostEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async handle<R extends Request>(req: R): Promise<Reply<R['type']>> {
    const reply = req.type === 'start' || req.type === 'stop' ? await this.inLane(req.probe, () => this.dispatch(req)) : await this.dispatch(req);
    return reply as Reply<R['type']>;
  }

  /** Runs `work` after every earlier start/stop of the probe has been handled (whether it failed or not). */
  private inLane<T>(probe: ProbeId, work: () => Promise<T>): Promise<T> {
    const next = (this.lanes.get(probe) ?? Promise.resolve()).then(work, work);
    const settled = next.catch(() => undefined);
    this.lanes.set(probe, settled);
    void settled.then(() => this.lanes.get(probe) === settled && this.lanes.delete(probe));
    return next;
  }

  private async dispatch(req: Request): Promise<unknown> {
    switch (req.type) {
      case 'getState':
        return this.state;
      case 'listInterfaces':
        return listInterfaces().map((i): InterfaceInfo => ({ name: i.name, up: i.up }));
      case 'start': {
        const options = PROBES[req.probe].options.parse(req.options, 'options');
        const cliOnly = cliOnlyFlagSet(PROBES[req.probe], options);
        if (cliOnly) throw new Error(`--${cliOnly.name} is the command line's only (the collector runs as root and opens no file by its path)`);
        await this.ensureCollector();
        this.setProbe(req.probe, { running: true, source: null, use: null, problem: null });
        this.history?.recorder.started(req.probe, options);
        this.link!.send({ type: 'start', probe: req.probe, options });
        return { ok: true };
      }
      case 'stop':
        if (this.link) this.link.send({ type: 'stop', probe: req.probe });
        return { ok: true };
      case 'restartCollector':
        this.shutdown();
        await this.ensureCollector();
        return { ok: true };
      case 'resolveNames':
        return this.names.resolve(req.ips);
      case 'saveFile':
        if (!this.opts.saveFile) throw new Error('this front end saves files itself');
        return { path: await this.opts.saveFile(req.suggestedName, req.content, req.encoding ?? 'utf8') };
      case 'exportPcapng':
        if (!this.link) throw new Error('no packets captured yet: start the packet probe first');
        return this.exportPcapng(this.link);
      case 'processPorts':
        await this.ensureCollector();
        return this.link!.query({ type: 'ports', pid: req.pid });
      case 'historyQuery': {
        const h = this.historyOf();
        h.writeNow(); // what waits for the next write is part of the answer
        // A file found damaged while in use was moved aside and a new one started: said in the window. So is a
        // retention another program saved (`netprobes history --keep-raw`), read again by the writer each minute.
        if (h.notice !== this.state.history.notice || JSON.stringify(h.store.retention) !== JSON.stringify(this.state.history.retention)) this.setHistory({ ...this.state.history, notice: h.notice, retention: h.store.retention });
        return queryRange(h.store.db, req);
      }
      case 'setHistory': {
        const h = this.historyOf();
        saveRecordingSetting(h.path, req.recording, this.historyOwner);
        this.setHistory({ ...this.state.history, recording: req.recording, problem: req.recording ? h.problem : 'recording is turned off' });
        return { ok: true };
      }
      case 'setRetention': {
        const h = this.historyOf();
        const { type: _type, maxBytes, ...keep } = req;
        h.store.retention = saveRetention(h.path, { keep, maxBytes }, this.historyOwner);
        h.store.enforce();
        this.setHistory({ ...this.state.history, retention: h.store.retention });
        return { ok: true };
      }
      case 'clearHistory':
        this.historyOf().clear();
        return { ok: true };
    }
  }

  /** The collector's pcapng export, asked for part by part (each within one message), as one file. */
  private async exportPcapng(link: CollectorLink): Promise<Reply<'exportPcapng'>> {
    const first = await link.query({ type: 'pcapng' });
    const parts = [Buffer.from(first.base64, 'base64')];
    for (let part = 1; part < first.parts; part++) parts.push(Buffer.from((await link.query({ type: 'pcapng', part })).base64, 'base64'));
    return { base64: Buffer.concat(parts).toString('base64'), packets: first.packets };
  }

  /** Starts the collector once; concurrent callers share the attempt. */
  ensureCollector(): Promise<void> {
    if (this.link) return Promise.resolve();
    this.starting ??= this.launch().finally(() => (this.starting = null));
    return this.starting;
  }

  shutdown(): void {
    const link = this.link;
    this.link = null;
    link?.close();
    for (const id of PROBE_IDS) this.state.probes[id] = { running: false, source: null, use: null, problem: null };
    this.setCollector({ status: 'not-running', elevated: false, pid: null, problem: null });
  }

  private async launch(): Promise<void> {
    const root = process.getuid?.() === 0;
    const launcher = root ? directLauncher : this.opts.elevatedLauncher;
    if (!launcher) {
      const problem = 'the collector needs root: run as root, or use the app, which asks for administrator rights';
      this.setCollector({ status: 'not-running', elevated: false, pid: null, problem });
      throw new Error(problem);
    }
    this.setCollector({ status: 'starting', elevated: false, pid: null, problem: null });
    const link = new CollectorLink(launcher, this.opts.collectorScript, this.opts.log);
    try {
      await link.start(root ? HELLO_TIMEOUT_DIRECT_MS : HELLO_TIMEOUT_PROMPT_MS);
    } catch (e) {
      const problem = (e as Error).message;
      this.setCollector({ status: 'not-running', elevated: false, pid: null, problem });
      throw e;
    }
    this.link = link;
    link.on('message', (m) => this.onMessage(m));
    link.on('exit', (why) => {
      if (this.link !== link) return;
      this.link = null;
      for (const id of PROBE_IDS) {
        if (this.state.probes[id].running) this.setProbe(id, { running: false, source: null, use: null, problem: { kind: 'internal', message: 'the collector stopped' } });
      }
      this.setCollector({ status: 'crashed', elevated: false, pid: null, problem: why });
    });
    this.setCollector({ status: 'running', elevated: link.uid === 0, pid: link.pid, problem: null });
    this.own.refresh();
  }

  private onMessage(m: CollectorMessage): void {
    switch (m.type) {
      case 'hello':
        return;
      case 'started':
        return this.setProbe(m.probe, { running: true, source: m.source, use: m.use, problem: null });
      case 'stopped':
        return this.setProbe(m.probe, { ...this.state.probes[m.probe], running: false, problem: m.problem });
      case 'rows':
        this.record(m.probe, m.rows);
        return this.broadcast({ type: 'rows', probe: m.probe, rows: m.rows });
      case 'counters':
        if (this.history && this.state.history.recording) this.history.recorder.counters(m.probe, m.counters);
        return this.broadcast({ type: 'counters', probe: m.probe, counters: m.counters });
    }
  }

  /** A recorded probe's rows, into history's sums for this second (written once a second, off this path). */
  private record(probe: ProbeId, rows: RowTuple[]): void {
    if (!this.history || !this.state.history.recording || !KIND_OF_PROBE[probe]) return;
    let decode = this.decoders.get(probe);
    if (!decode) this.decoders.set(probe, (decode = rowDecoder(PROBES[probe].columns as readonly Column<Record<string, unknown>>[])));
    this.history.recorder.rows(probe, rows.map(decode));
  }

  private setHistory(h: HostState['history']): void {
    this.state.history = h;
    this.broadcast({ type: 'state', state: this.state });
  }

  private setProbe(id: ProbeId, s: HostState['probes'][ProbeId]): void {
    this.state.probes[id] = s;
    this.broadcast({ type: 'state', state: this.state });
  }

  private setCollector(c: HostState['collector']): void {
    this.state.collector = c;
    this.broadcast({ type: 'state', state: this.state });
  }

  private broadcast(e: HostEvent): void {
    for (const l of this.listeners) l(e);
  }
}
