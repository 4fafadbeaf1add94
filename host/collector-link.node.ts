// The host's end of the collector: a Unix socket in a private 0700 directory
// that this process owns, the collector launched (directly when we are root,
// through the elevation prompt otherwise), and every message it sends
// validated. If the collector dies, `exit` says why; nothing is left behind.

import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { encodeFrame, FrameDecoder } from '../core/framing.ts';
import { ANSWERS, parseCollectorMessage, PROTOCOL_VERSION, type Answer, type CollectorMessage, type Command, type Query } from '../ipc/protocol.ts';

const MAX_QUESTIONS = 16;
const QUESTION_TIMEOUT_MS = 10_000;

export interface LaunchPlan {
  /** Absolute paths only: pkexec loses the environment and the working directory. */
  node: string;
  collectorScript: string;
  socket: string;
  ownerUid: number;
}

/**
 * Starts the collector; `exited` resolves when it has exited (null for a clean
 * exit, else a user-facing reason: why it could not start, or why it stopped).
 * `connected` is told once the collector said hello, so later reasons can say
 * "stopped" rather than "failed to start".
 */
export type Launcher = (
  plan: LaunchPlan,
  log: (line: string) => void,
) => { exited: Promise<string | null>; kill(): void; connected?(): void };

/**
 * The environment of a collector we start ourselves: ours, as Node (for
 * Electron's binary), without what would name another user as the asker — as
 * root under `sudo`, SUDO_UID is the user's, but the socket is ours (root's).
 */
export function directEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = { ...env, ELECTRON_RUN_AS_NODE: '1' };
  for (const k of ['SUDO_UID', 'SUDO_GID', 'SUDO_USER', 'PKEXEC_UID', 'NODE_OPTIONS']) delete out[k];
  return out;
}

/** As root already: a plain child process. */
export const directLauncher: Launcher = (plan, log) => {
  const child: ChildProcess = spawn(plan.node, [plan.collectorScript, '--socket', plan.socket, '--owner-uid', String(plan.ownerUid)], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: directEnv(process.env),
  });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => {
    stderr = (stderr + d).slice(-4000);
    for (const line of d.split('\n')) if (line) log(line);
  });
  const exited = new Promise<string | null>((resolve) => {
    child.on('error', (e) => resolve(`could not start the collector: ${e.message}`));
    child.on('exit', (code, signal) =>
      resolve(
        code === 0 || signal === 'SIGTERM'
          ? null
          : `the collector ${signal ? `was killed (${signal})` : `exited with code ${code}`}${stderr ? `: ${stderr.trim().split('\n').pop()}` : ''}`,
      ),
    );
  });
  return { exited, kill: () => child.kill('SIGTERM') };
};

export class CollectorLink extends EventEmitter<{
  message: [CollectorMessage];
  exit: [string | null];
}> {
  private server: net.Server | null = null;
  private conn: net.Socket | null = null;
  private dir: string | null = null;
  private handle: ReturnType<Launcher> | null = null;
  private closed = false;
  private losing = false;
  private readonly questions = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();
  private nextQuestion = 1;
  pid: number | null = null;
  uid: number | null = null;

  constructor(
    private readonly launcher: Launcher,
    private readonly collectorScript: string,
    private readonly log: (line: string) => void = () => {},
  ) {
    super();
  }

  /** Resolves once the collector said hello; rejects with a user-facing reason otherwise. */
  async start(helloTimeoutMs: number): Promise<void> {
    this.dir = mkdtempSync(path.join(os.tmpdir(), 'netprobes-')); // mode 0700
    const socket = path.join(this.dir, 'collector.sock');
    this.server = net.createServer();
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(socket, resolve);
    });

    const connected = new Promise<net.Socket>((resolve) => this.server!.once('connection', resolve));
    this.handle = this.launcher(
      { node: process.execPath, collectorScript: this.collectorScript, socket, ownerUid: process.getuid!() },
      this.log,
    );
    const exitedEarly = this.handle.exited.then((why) => {
      throw new Error(why ?? 'the collector exited before connecting');
    });
    const timeout = new Promise<never>((_, reject) =>
      setTimeout(() => reject(new Error(`the collector did not connect within ${helloTimeoutMs / 1000} s`)), helloTimeoutMs).unref(),
    );
    try {
      const conn = await Promise.race([connected, exitedEarly, timeout]);
      // Only one collector per socket: refuse anything after the first.
      this.server.on('connection', (extra) => extra.destroy());
      this.conn = conn;
      const hello = await Promise.race([this.attach(conn), exitedEarly, timeout]);
      if (hello.protocol !== PROTOCOL_VERSION) throw new Error(`collector speaks protocol ${hello.protocol}, expected ${PROTOCOL_VERSION}`);
      this.pid = hello.pid;
      this.uid = hello.uid;
      this.handle.connected?.();
    } catch (e) {
      this.close();
      throw e;
    }
    void this.handle.exited.then((why) => this.lost(why ?? 'the collector exited'));
  }

  /**
   * The collector is gone: say why once. The socket usually closes a moment
   * before the process is reaped, so wait briefly for the launcher's reason
   * (an exit code, a signal), which says more than "closed".
   */
  private lost(fallback: string): void {
    if (this.closed || this.losing) return;
    this.losing = true;
    const exited = this.handle?.exited ?? Promise.resolve(null);
    const patience = new Promise<null>((r) => setTimeout(() => r(null), 1000).unref());
    void Promise.race([exited, patience]).then((why) => {
      if (this.closed) return;
      this.close();
      this.emit('exit', why ?? fallback);
    });
  }

  send(command: Command): void {
    if (!this.conn || this.conn.destroyed) throw new Error('the collector is not running');
    this.conn.write(encodeFrame(command));
  }

  /** Asks the collector a question; its answer is checked against the question's shape. */
  query<Q extends Query>(q: Q): Promise<Answer<Q['type']>> {
    if (this.questions.size >= MAX_QUESTIONS) return Promise.reject(new Error('too many questions waiting for the collector'));
    const id = this.nextQuestion++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.questions.delete(id);
        reject(new Error('the collector did not answer within 10 s'));
      }, QUESTION_TIMEOUT_MS);
      this.questions.set(id, {
        resolve: (v) => resolve(ANSWERS[q.type].parse(v, 'answer') as Answer<Q['type']>),
        reject,
        timer,
      });
      try {
        this.send({ type: 'query', id, query: q });
      } catch (e) {
        clearTimeout(timer);
        this.questions.delete(id);
        reject(e as Error);
      }
    });
  }

  private onAnswer(m: Extract<CollectorMessage, { type: 'answer' }>): void {
    const q = this.questions.get(m.id);
    if (!q) return; // timed out already
    this.questions.delete(m.id);
    clearTimeout(q.timer);
    if (m.problem) q.reject(new Error(m.problem.message));
    else {
      try {
        q.resolve(m.value);
      } catch (e) {
        q.reject(e as Error);
      }
    }
  }

  /** Closing the socket is what ends the collector; the kill is for a collector that is wedged. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.conn?.destroy();
    this.server?.close();
    const handle = this.handle;
    if (handle) setTimeout(() => handle.kill(), 3000).unref();
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
    for (const q of this.questions.values()) {
      clearTimeout(q.timer);
      q.reject(new Error('the collector stopped'));
    }
    this.questions.clear();
  }

  private attach(conn: net.Socket): Promise<Extract<CollectorMessage, { type: 'hello' }>> {
    const decoder = new FrameDecoder();
    return new Promise((resolve, reject) => {
      let greeted = false;
      conn.on('data', (chunk) => {
        try {
          for (const raw of decoder.push(chunk)) {
            const m = parseCollectorMessage(raw);
            if (!greeted) {
              if (m.type !== 'hello') throw new Error(`collector sent ${m.type} before hello`);
              greeted = true;
              resolve(m);
            } else if (m.type === 'answer') this.onAnswer(m);
            else this.emit('message', m);
          }
        } catch (e) {
          const why = `invalid message from the collector: ${(e as Error).message}`;
          this.log(why);
          reject(new Error(why));
          if (!this.closed) {
            this.close();
            this.emit('exit', why);
          }
        }
      });
      conn.on('close', () => {
        reject(new Error('the collector closed its connection'));
        if (greeted) this.lost('the collector closed its connection');
      });
      conn.on('error', () => conn.destroy());
    });
  }
}
