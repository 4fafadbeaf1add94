// `netprobes serve`: the renderer bundle in a browser, talking to the same
// session as the desktop app over a WebSocket. Bound to 127.0.0.1 by default;
// every request must carry the random token from the printed URL (as ?token=
// or as the cookie the first page load sets); Host and Origin are checked so a
// web page elsewhere cannot reach it (DNS rebinding, cross-site WebSockets).

import { randomBytes, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { WebSocketServer, type WebSocket } from 'ws';
import { requestSchema, type HostEvent } from '../shared/api.ts';
import { Session } from '../host/session.node.ts';
import { onExit } from '../collector/exit.node.ts';
import { UsageError } from './args.ts';

export const SERVE_HELP = `usage: npx netprobes serve [--host ADDR] [--port N] [--token TOKEN]

Serves the NetProbes GUI to a browser. Open the printed URL (it carries the
access token). The collector starts as root on the first probe start: run serve
as root (sudo), since a browser cannot show the administrator prompt.
  --host ADDR    address to bind (default 127.0.0.1; anything else exposes the GUI)
  --port N       port (default: a free one)
  --token TOKEN  access token (default: random; for scripts)`;

export interface ServeOptions {
  host: string;
  port: number;
  token: string;
}

export function parseServeArgs(argv: string[]): ServeOptions {
  const o: ServeOptions = { host: '127.0.0.1', port: 0, token: randomBytes(24).toString('hex') };
  for (let i = 0; i < argv.length; i++) {
    const [flag, v] = [argv[i], argv[i + 1]];
    if (v === undefined) throw new UsageError(`${flag} needs a value (see netprobes serve --help)`);
    if (flag === '--host') o.host = v;
    else if (flag === '--port' && /^\d{1,5}$/.test(v) && Number(v) < 65536) o.port = Number(v);
    else if (flag === '--token' && /^[A-Za-z0-9_-]{16,128}$/.test(v)) o.token = v;
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
  close(): Promise<void>;
}

export async function startServer(o: ServeOptions, session: Session, rendererDir: string): Promise<Served> {
  const tokenBuf = Buffer.from(o.token);
  const tokenOk = (t: string | null | undefined) => !!t && t.length === o.token.length && timingSafeEqual(Buffer.from(t), tokenBuf);
  const cookieToken = (req: http.IncomingMessage) => /(?:^|;\s*)netprobes_token=([A-Za-z0-9_-]+)/.exec(req.headers.cookie ?? '')?.[1];
  let origin = '';
  const hostOk = (req: http.IncomingMessage) => {
    const port = new URL(origin).port;
    return [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`, `${o.host}:${port}`].includes(req.headers.host ?? '');
  };

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const asset = ASSETS[url.pathname];
    if (req.method !== 'GET' || !hostOk(req)) return void res.writeHead(400).end();
    const queryToken = url.searchParams.get('token');
    if (!tokenOk(queryToken) && !tokenOk(cookieToken(req))) {
      res.writeHead(403, { 'content-type': 'text/plain' }).end('NetProbes: open the URL that `netprobes serve` printed (it carries the access token).\n');
      return;
    }
    if (!asset) return void res.writeHead(404).end();
    res.writeHead(200, {
      'content-type': asset.type,
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
      'content-security-policy': `default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self' ws://${req.headers.host}; frame-ancestors 'none'; base-uri 'none'; form-action 'none'`,
      ...(queryToken ? { 'set-cookie': `netprobes_token=${o.token}; HttpOnly; SameSite=Strict; Path=/` } : {}),
    });
    res.end(readFileSync(path.join(rendererDir, asset.file)));
  });

  const wss = new WebSocketServer({ noServer: true, maxPayload: 1 << 20 });
  server.on('upgrade', (req, socket, head) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const originOk = req.headers.origin === undefined || req.headers.origin === origin || req.headers.origin === origin.replace('127.0.0.1', 'localhost');
    if (url.pathname !== '/ws' || !hostOk(req) || !originOk || !(tokenOk(url.searchParams.get('token')) || tokenOk(cookieToken(req)))) {
      socket.end('HTTP/1.1 403 Forbidden\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => attach(ws));
  });

  const attach = (ws: WebSocket) => {
    const send = (m: unknown) => ws.send(JSON.stringify(m));
    const unsubscribe = session.subscribe((event: HostEvent) => {
      if (event.type === 'rows' && ws.bufferedAmount > MAX_WS_BACKLOG) {
        send({ event: { type: 'undelivered', probe: event.probe, rows: event.rows.length } });
        return;
      }
      send({ event });
    });
    ws.on('close', unsubscribe);
    ws.on('message', async (data) => {
      let id = 0;
      try {
        const msg = JSON.parse(String(data)) as { id?: unknown; request?: unknown };
        if (typeof msg.id !== 'number' || !Number.isInteger(msg.id) || msg.id < 0) throw new Error('request without an id');
        id = msg.id;
        const request = requestSchema.parse(msg.request, 'request');
        send({ id, ok: true, value: await session.handle(request), error: null });
      } catch (e) {
        send({ id, ok: false, value: null, error: (e as Error).message });
      }
    });
  };

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host, resolve);
  });
  const port = (server.address() as { port: number }).port;
  const hostPart = o.host.includes(':') ? `[${o.host}]` : o.host;
  origin = `http://${hostPart}:${port}`;
  return {
    url: `${origin}/?token=${o.token}`,
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
  });
  const served = await startServer(o, session, path.join(DIST_DIR, 'renderer'));
  onExit(async () => {
    session.shutdown();
    await served.close();
  });
  if (o.host !== '127.0.0.1' && o.host !== '::1' && o.host !== 'localhost') {
    process.stderr.write(`netprobes serve: warning: bound to ${o.host}, reachable from other machines (the token still guards it)\n`);
  }
  if (process.getuid?.() !== 0) {
    process.stderr.write('netprobes serve: not root — probes cannot start. Run `sudo npx netprobes serve` to capture.\n');
  }
  process.stdout.write(`${banner}NetProbes is served at ${served.url}\n`);
  process.stdout.write('Open that URL in a browser; Ctrl-C stops.\n');
}
