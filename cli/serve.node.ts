// `netprobes serve`: the renderer bundle in a browser, talking to the same
// session as the desktop app over a WebSocket. Bound to 127.0.0.1 by default;
// every request must carry the random token from the printed URL (as ?token=
// or as the cookie the first page load sets); Host and Origin are checked so a
// web page elsewhere cannot reach it (DNS rebinding, cross-site WebSockets).
// No client can take it down: every socket error is handled, a client that
// breaks the protocol or its limits (client-limits.ts) is disconnected and
// counted, and the other clients and the collector carry on.

import { randomBytes, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { requestSchema, type HostEvent, type Request } from '../ipc/api.ts';
import { Session } from '../host/session.node.ts';
import { onExit } from '../runtime/exit.node.ts';
import { UsageError } from './args.ts';
import {
  allowedHosts,
  allowedOrigins,
  CLOSE_GRACE_MS,
  connectSrc,
  MAX_CLIENT_BACKLOG,
  MAX_CONNECTIONS,
  MAX_IN_FLIGHT,
  MAX_PAYLOAD,
  newClientStats,
  protocolErrorCause,
  RATE_BURST,
  RATE_PER_SECOND,
  STATS_LOG_MS,
  TokenBucket,
  type ClientStats,
  type DisconnectCause,
} from './client-limits.ts';

export const SERVE_HELP = `usage: npx netprobes serve [--host ADDR] [--port N] [--token TOKEN] [--history-db PATH] [--no-history]

Serves the NetProbes GUI to a browser. Open the printed URL (it carries the
access token). The collector starts as root on the first probe start: run serve
as root (sudo), since a browser cannot show the administrator prompt.
  --host ADDR    address to bind (default 127.0.0.1; anything else exposes the GUI)
  --port N       port (default: a free one)
  --token TOKEN  access token (default: random; for scripts)
  --history-db PATH  record history to this database (default: the user's data directory; under sudo,
                 the user who ran sudo's, and the file is theirs)
  --no-history   do not record this time (the window's switch does the same, and is remembered)`;

export interface ServeOptions {
  host: string;
  port: number;
  token: string;
  /** --history-db. */
  historyDb?: string | null;
  /** --no-history: false; otherwise undefined (the remembered switch decides). */
  recording?: false;
}

export function parseServeArgs(argv: string[]): ServeOptions {
  const o: ServeOptions = { host: '127.0.0.1', port: 0, token: randomBytes(24).toString('hex'), historyDb: null };
  for (let i = 0; i < argv.length; i++) {
    const [flag, v] = [argv[i], argv[i + 1]];
    if (flag === '--no-history') {
      o.recording = false;
      continue;
    }
    if (v === undefined) throw new UsageError(`${flag} needs a value (see netprobes serve --help)`);
    if (flag === '--host') o.host = v;
    else if (flag === '--port' && /^\d{1,5}$/.test(v) && Number(v) < 65536) o.port = Number(v);
    else if (flag === '--token' && /^[A-Za-z0-9_-]{16,128}$/.test(v)) o.token = v;
    else if (flag === '--history-db') o.historyDb = v;
    else throw new UsageError(`bad serve option ${flag} ${v} (see netprobes serve --help)`);
    i++;
  }
  return o;
}

const ASSETS: Record<string, { file: string; type: string }> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/app.js': { file: 'app.js', type: 'text/javascript; charset=utf-8' },
  '/app.css': { file: 'app.css', type: 'text/css; charset=utf-8' },
  '/icon.svg': { file: 'icon.svg', type: 'image/svg+xml' },
};
/** A browser tab that falls this far behind gets no rows until it catches up (counted). */
const MAX_WS_BACKLOG = 16 << 20;

export interface Served {
  url: string;
  /** Clients connected now, and those refused and disconnected so far, by cause. */
  stats(): ClientStats;
  close(): Promise<void>;
}

const logToStderr = (line: string) => void process.stderr.write(`netprobes serve: ${line}\n`);

export async function startServer(o: ServeOptions, session: Session, rendererDir: string, log: (line: string) => void = logToStderr): Promise<Served> {
  const tokenBuf = Buffer.from(o.token);
  const tokenOk = (t: string | null | undefined) => !!t && t.length === o.token.length && timingSafeEqual(Buffer.from(t), tokenBuf);
  const cookieToken = (req: http.IncomingMessage) => /(?:^|;\s*)netprobes_token=([A-Za-z0-9_-]+)/.exec(req.headers.cookie ?? '')?.[1];
  // Set once listening, when the port is known. A page served under any allowed
  // Host may open its WebSocket: the allowed Origins are those Hosts.
  let hosts: string[] = [];
  let origins: string[] = [];
  const hostOk = (req: http.IncomingMessage) => hosts.includes((req.headers.host ?? '').toLowerCase());
  const originOk = (req: http.IncomingMessage) => req.headers.origin === undefined || origins.includes(req.headers.origin.toLowerCase());

  const stats = newClientStats();
  let statsTimer: NodeJS.Timeout | null = null;
  let statsLoggedAt = -STATS_LOG_MS;
  // A line at once, then at most one per STATS_LOG_MS, however fast clients misbehave.
  const logStats = () => {
    if (statsTimer) return;
    statsTimer = setTimeout(
      () => {
        statsTimer = null;
        statsLoggedAt = performance.now();
        log(`client stats: ${JSON.stringify(stats)}`);
      },
      Math.max(0, statsLoggedAt + STATS_LOG_MS - performance.now()),
    ).unref();
  };
  const refuse = (socket: Duplex, cause: keyof ClientStats['refused'], status: string) => {
    stats.refused[cause]++;
    logStats();
    socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
  };

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const asset = ASSETS[url.pathname];
    if (req.method !== 'GET' || !hostOk(req)) {
      stats.refused.forbidden++;
      logStats();
      return void res.writeHead(400).end();
    }
    const queryToken = url.searchParams.get('token');
    if (!tokenOk(queryToken) && !tokenOk(cookieToken(req))) {
      stats.refused.forbidden++;
      logStats();
      res.writeHead(403, { 'content-type': 'text/plain' }).end('NetProbes: open the URL that `netprobes serve` printed (it carries the access token).\n');
      return;
    }
    if (!asset) return void res.writeHead(404).end();
    res.writeHead(200, {
      'content-type': asset.type,
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
      'content-security-policy': `default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src ${connectSrc(req.headers.host!.toLowerCase())}; frame-ancestors 'none'; base-uri 'none'; form-action 'none'`,
      ...(queryToken ? { 'set-cookie': `netprobes_token=${o.token}; HttpOnly; SameSite=Strict; Path=/` } : {}),
    });
    res.end(readFileSync(path.join(rendererDir, asset.file)));
  });

  // Without an 'error' listener, a socket error (a client's reset, garbage
  // HTTP) would be an uncaught exception and end serve and its collector.
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    if (err.code === 'ECONNRESET' || !socket.writable) return void socket.destroy();
    refuse(socket, 'badHttp', '400 Bad Request');
  });

  // No compression: a small compressed message could inflate to MAX_PAYLOAD in
  // memory. Pings are answered below, under the rate limit (ws's own answer
  // cuts a ping flood off uncounted, without a close code).
  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_PAYLOAD, perMessageDeflate: false, autoPong: false });
  wss.on('error', (err) => log(`websocket server: ${err.message}`));
  wss.on('wsClientError', (_err, socket) => refuse(socket, 'badHandshake', '400 Bad Request'));
  server.on('upgrade', (req, socket: Duplex, head) => {
    // Until ws takes it over, the raw socket's errors (a client's reset) are ours.
    socket.on('error', () => socket.destroy());
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname !== '/ws' || !hostOk(req) || !originOk(req) || !(tokenOk(url.searchParams.get('token')) || tokenOk(cookieToken(req)))) {
      return refuse(socket, 'forbidden', '403 Forbidden');
    }
    if (wss.clients.size >= MAX_CONNECTIONS) return refuse(socket, 'tooMany', '503 Service Unavailable');
    wss.handleUpgrade(req, socket, head, (ws) => attach(ws, req.socket.remotePort));
  });

  // An event is serialized once, whatever the number of tabs it goes to.
  const serialized = new WeakMap<HostEvent, string>();
  const eventText = (event: HostEvent): string => {
    let text = serialized.get(event);
    if (text === undefined) serialized.set(event, (text = JSON.stringify({ event })));
    return text;
  };
  // The browsers' ends of these connections are NetProbes' own activity (labelled, hidden by default).
  const clientPorts = new Map<WebSocket, number>();
  const tellClients = () => {
    const address = server.address();
    if (address && typeof address === 'object') session.setWindowClients({ serverPort: address.port, clientPorts: [...new Set(clientPorts.values())] });
  };
  const attach = (ws: WebSocket, clientPort: number | undefined) => {
    stats.connected++;
    if (clientPort) clientPorts.set(ws, clientPort);
    tellClients();
    const bucket = new TokenBucket(RATE_PER_SECOND, RATE_BURST);
    let inFlight = 0;
    let dropped = false;
    // Counted once; whatever close frame it got, the socket goes after a grace
    // (ws would wait 30 s for a close frame a bad client may never send).
    const drop = (cause: DisconnectCause) => {
      if (dropped) return;
      dropped = true;
      stats.disconnected[cause]++;
      logStats();
      setTimeout(() => ws.terminate(), CLOSE_GRACE_MS).unref();
    };
    // A client that stopped reading would otherwise hold everything sent to it.
    const checkBacklog = () => {
      if (ws.bufferedAmount <= MAX_CLIENT_BACKLOG) return;
      drop('backlog');
      ws.terminate();
    };
    const send = (m: unknown) => sendText(JSON.stringify(m));
    const sendText = (text: string) => {
      if (dropped || ws.readyState !== ws.OPEN) return;
      ws.send(text);
      checkBacklog();
    };
    const reply = (id: number, error: string) => send({ id, ok: false, value: null, error });
    // Every frame the client sends costs a token, pings too (each is answered).
    const take = () => {
      if (dropped) return false;
      if (bucket.take()) return true;
      ws.close(1008, 'too many messages');
      drop('rate');
      return false;
    };

    const unsubscribe = session.subscribe((event: HostEvent) => {
      if (event.type === 'rows' && ws.bufferedAmount > MAX_WS_BACKLOG) {
        send({ event: { type: 'undelivered', probe: event.probe, rows: event.rows.length } });
        return;
      }
      sendText(eventText(event));
    });
    ws.on('close', () => {
      stats.connected--;
      clientPorts.delete(ws);
      tellClients();
      unsubscribe();
    });
    // A frame that breaks the protocol (oversized, unmasked, not UTF-8, reserved
    // opcode or bit): ws has already sent the matching close code.
    ws.on('error', (err: Error & { code?: string }) => drop(protocolErrorCause(err.code)));
    ws.on('ping', (data) => {
      if (!take() || ws.readyState !== ws.OPEN) return;
      ws.pong(data);
      checkBacklog();
    });
    ws.on('pong', take);
    ws.on('message', async (data, isBinary) => {
      if (!take()) return;
      if (isBinary) {
        ws.close(1003, 'binary messages are not accepted');
        return drop('binary');
      }
      let id = 0;
      let request: Request;
      try {
        const msg = JSON.parse(String(data)) as { id?: unknown; request?: unknown };
        if (typeof msg.id !== 'number' || !Number.isInteger(msg.id) || msg.id < 0) throw new Error('request without an id');
        id = msg.id;
        request = requestSchema.parse(msg.request, 'request');
      } catch (e) {
        stats.rejected.malformed++;
        logStats();
        return reply(id, (e as Error).message);
      }
      if (inFlight >= MAX_IN_FLIGHT) {
        stats.rejected.busy++;
        logStats();
        return reply(id, 'too many requests in flight');
      }
      inFlight++;
      try {
        send({ id, ok: true, value: await session.handle(request), error: null });
      } catch (e) {
        reply(id, (e as Error).message);
      } finally {
        inFlight--;
      }
    });
  };

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  // Listening: an error now (an accept that fails, say) is logged, not fatal.
  server.on('error', (err) => log(`server: ${err.message}`));
  const port = (server.address() as { port: number }).port;
  hosts = allowedHosts(o.host, port);
  origins = allowedOrigins(hosts);
  tellClients();
  const hostPart = o.host.includes(':') ? `[${o.host}]` : o.host;
  return {
    url: `http://${hostPart}:${port}/?token=${o.token}`,
    stats: () => structuredClone(stats),
    close: () =>
      new Promise((resolve) => {
        for (const c of wss.clients) c.terminate();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** Where the built bundles live: this file is bundled into dist/cli.js. */
export const DIST_DIR = __dirname;

export async function serve(o: ServeOptions, banner = ''): Promise<void> {
  const session = new Session({
    collectorScript: path.join(DIST_DIR, 'collector.js'),
    frontEnd: 'browser',
    elevatedLauncher: null,
    saveFile: null,
    log: (line) => process.stderr.write(`collector: ${line}\n`),
    history: { path: o.historyDb ?? null, ...(o.recording === false ? { recording: false } : {}) },
  });
  const served = await startServer(o, session, path.join(DIST_DIR, 'renderer'));
  onExit(async () => {
    session.close();
    await served.close();
  });
  if (o.host !== '127.0.0.1' && o.host !== '::1' && o.host !== 'localhost') {
    process.stderr.write(`netprobes serve: warning: bound to ${o.host}, reachable from other machines (the token still guards it)\n`);
  }
  if (process.getuid?.() !== 0) {
    process.stderr.write('netprobes serve: not root — probes cannot start. Run `sudo npx netprobes serve` to capture.\n');
  }
  const h = session.state.history;
  process.stderr.write(`netprobes serve: ${h.recording ? `recording history to ${h.path}` : `not recording history (${h.problem})`}\n`);
  process.stdout.write(`${banner}NetProbes is served at ${served.url}\n`);
  process.stdout.write('Open that URL in a browser; Ctrl-C stops.\n');
}
