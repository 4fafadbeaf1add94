// The collector: the only privileged process. It connects to the Unix socket
// that its host (Electron main, or `netprobes serve`) owns in a private 0700
// directory, checks that socket belongs to the user who asked, takes a closed
// set of validated commands, and exits when the socket closes.
//
//   collector --socket /abs/path/collector.sock [--owner-uid UID]

import { lstatSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { encodeFrame, FrameDecoder } from '../core/framing.ts';
import { parseCommand, PROTOCOL_VERSION, type CollectorMessage } from '../ipc/protocol.ts';
import { ProbeRunner } from './runner.node.ts';
import { exitNow, onExit } from '../runtime/exit.node.ts';
import { confinementTool, CONFINED_FLAG, CONNECTION_FD, superviseConfined } from './confine.node.ts';

/** Bytes queued on the socket beyond which row messages are shed, not queued. */
const MAX_QUEUED_BYTES = 32 << 20;

function fail(message: string): never {
  process.stderr.write(`netprobes collector: ${message}\n`);
  process.exit(2);
}

function parseArgs(argv: string[]): { socket: string; ownerUid: number } {
  let socket = '';
  let ownerUid: number | null = null;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const v = argv[i + 1];
    if (a === CONFINED_FLAG) continue; // no value; see confine.node.ts
    if (a === '--socket' && v) socket = v;
    else if (a === '--owner-uid' && v && /^\d{1,10}$/.test(v)) ownerUid = Number(v);
    else fail(`unknown argument ${a}`);
    i++;
  }
  if (!path.isAbsolute(socket)) fail('--socket must be an absolute path');
  return { socket, ownerUid: askingUser(ownerUid, process.env) };
}

/**
 * Who asked for this collector. pkexec and sudo say so in the environment
 * (PKEXEC_UID, SUDO_UID), which the caller cannot forge: that is authoritative,
 * and --owner-uid (what the host believes it is) must agree with it. Without
 * either variable (the host is root and started us itself), --owner-uid, or
 * ourselves.
 */
function askingUser(argUid: number | null, env: NodeJS.ProcessEnv): number {
  const name = env.PKEXEC_UID !== undefined ? 'PKEXEC_UID' : env.SUDO_UID !== undefined ? 'SUDO_UID' : null;
  if (name) {
    const v = env[name]!;
    if (!/^\d{1,10}$/.test(v)) fail(`${name} is not a uid: ${JSON.stringify(v)}`);
    if (argUid !== null && argUid !== Number(v)) fail(`--owner-uid ${argUid} is not the user who asked for administrator rights (${name} ${v})`);
    return Number(v);
  }
  return argUid ?? process.getuid!();
}

/** The socket and its directory must belong to the asking user and the directory be private. */
function checkSocket(socket: string, ownerUid: number): void {
  const dir = lstatSync(path.dirname(socket));
  const sock = lstatSync(socket);
  if (!dir.isDirectory() || dir.uid !== ownerUid || (dir.mode & 0o077) !== 0) {
    fail(`refusing ${path.dirname(socket)}: not a private (0700) directory of uid ${ownerUid}`);
  }
  if (!sock.isSocket() || sock.uid !== ownerUid) fail(`refusing ${socket}: not a socket of uid ${ownerUid}`);
}

function main(): void {
  // SIGUSR1 would open Node's inspector on 127.0.0.1:9229, where any local user could run code with our privileges;
  // a listener of our own replaces that (Node 20 has no --disable-sigusr1). The confined child inherits nothing of
  // this, so each stage sets it.
  process.on('SIGUSR1', () => {});
  const argv = process.argv.slice(2);
  const { socket, ownerUid } = parseArgs(argv);
  if (argv.includes(CONFINED_FLAG)) return serve(new net.Socket({ fd: CONNECTION_FD, readable: true, writable: true }), true);
  try {
    checkSocket(socket, ownerUid);
  } catch (e) {
    fail(`cannot use ${socket}: ${(e as Error).message}`);
  }
  const conn = net.createConnection(socket);
  const setpriv = confinementTool(log);
  if (!setpriv) return serve(conn, false);
  conn.on('error', (e) => fail(`cannot connect to ${socket}: ${e.message}`));
  conn.on('connect', () => superviseConfined(setpriv, argv, conn, log));
}

const log = (line: string) => process.stderr.write(`netprobes collector: ${line}\n`);

/** Serves the host on its connection until it closes. */
function serve(conn: net.Socket, connected: boolean): void {
  const send = (m: CollectorMessage, droppable: boolean): boolean => {
    if (conn.destroyed) return false;
    if (droppable && conn.writableLength > MAX_QUEUED_BYTES) return false;
    conn.write(encodeFrame(m));
    return true;
  };
  const runner = new ProbeRunner(send);
  onExit(() => runner.stopAll());

  const decoder = new FrameDecoder(1 << 20);
  /** A host that breaks the protocol is cut off, and the exit code says so. */
  let violated = false;
  const reject = (why: string) => {
    process.stderr.write(`netprobes collector: ${why}\n`);
    violated = true;
    conn.destroy();
  };
  const hello = () => send({ type: 'hello', protocol: PROTOCOL_VERSION, pid: process.pid, uid: process.getuid!() }, false);
  if (connected) hello();
  else conn.on('connect', hello);
  conn.on('data', (chunk) => {
    let commands: unknown[];
    try {
      commands = decoder.push(chunk);
    } catch (e) {
      return reject(`broken stream from host: ${(e as Error).message}`);
    }
    for (const raw of commands) {
      let cmd;
      try {
        cmd = parseCommand(raw);
      } catch (e) {
        return reject(`rejected command: ${(e as Error).message}`);
      }
      if (cmd.type === 'start') void runner.start(cmd.probe, cmd.options as object);
      else if (cmd.type === 'stop') void runner.stop(cmd.probe);
      else runner.answer(cmd.id, cmd.query);
    }
  });
  // Main gone = collector gone.
  conn.on('close', () => void exitNow(violated ? 2 : 0));
  conn.on('error', () => conn.destroy());
}

main();
