// The exporter's HTTP(S) endpoint: GET /metrics and nothing that changes
// anything — no request body is read, no other method is served, so there is
// no command to send it. Who may read is access.ts's rule; the credentials and
// TLS files are read once, at start, and checked before the port opens.

import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { isIP } from 'node:net';
import path from 'node:path';
import bcrypt from 'bcryptjs';
import yaml from 'js-yaml';
import { SchemaError } from '../core/schema.ts';
import { AccessError, checkExposure, webConfigSchema, type Listen, type WebConfig } from './access.ts';

export interface ServerConfig {
  readonly listen: Listen;
  /** Prometheus-style web.config.yml, or null. */
  readonly webConfig: string | null;
  /** A file holding the bearer token, or null. */
  readonly bearerTokenFile: string | null;
}

/** What the server answers a scrape with. */
export interface MetricsSource {
  metrics(): Promise<string>;
  readonly contentType: string;
}

/** Limits: a scraper needs one connection; these keep a flood from costing more than a few. */
const MAX_CONNECTIONS = 32;
const MAX_WAITING_SCRAPES = 4;
const MAX_BCRYPT_IN_FLIGHT = 2;
const MIN_TOKEN_CHARS = 16;

export interface MetricsServer {
  readonly url: string;
  close(): Promise<void>;
}

/** Reads and checks the configuration (throws AccessError with the reason), then listens. */
export async function startMetricsServer(cfg: ServerConfig, source: MetricsSource, log: (line: string) => void): Promise<MetricsServer> {
  if (cfg.listen.host !== 'localhost' && !isIP(cfg.listen.host)) throw new AccessError(`--listen needs an IP address (or localhost), not '${cfg.listen.host}'`);
  const web = cfg.webConfig ? loadWebConfig(cfg.webConfig) : null;
  const token = cfg.bearerTokenFile ? readSecret(cfg.bearerTokenFile) : null;
  const tls = web?.tls_server_config ? tlsOptions(web.tls_server_config, path.dirname(path.resolve(cfg.webConfig!))) : null;
  const users = web?.basic_auth_users ?? null;
  const warning = checkExposure(cfg.listen, { tls: !!tls, bearer: !!token, basicAuth: !!users && Object.keys(users).length > 0 });
  if (warning) log(`warning: ${warning}`);

  const authorize = authorizer(token, users);
  const challenge = [token ? 'Bearer realm="netprobes"' : null, users ? 'Basic realm="netprobes"' : null].filter((x): x is string => !!x);

  // One scrape at a time: each takes a snapshot of the series (a new series shows 0 once), so two must not interleave.
  let chain: Promise<unknown> = Promise.resolve();
  let waiting = 0;
  const scrape = (): Promise<string> | null => {
    if (waiting >= MAX_WAITING_SCRAPES) return null;
    waiting++;
    const next = chain.then(() => source.metrics()).finally(() => waiting--);
    chain = next.catch(() => undefined);
    return next;
  };

  const handler = (req: http.IncomingMessage, res: http.ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const head = { 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' };
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { ...head, allow: 'GET, HEAD', connection: 'close' }).end();
      return;
    }
    if (url.pathname !== '/metrics' && url.pathname !== '/') return void res.writeHead(404, head).end();
    void authorize(req.headers.authorization).then(async (verdict) => {
      if (verdict === 'busy') return void res.writeHead(429, { ...head, 'retry-after': '1' }).end();
      if (verdict === 'denied') return void res.writeHead(401, { ...head, 'www-authenticate': challenge }).end();
      if (url.pathname === '/') {
        res.writeHead(200, { ...head, 'content-type': 'text/plain; charset=utf-8' }).end('NetProbes exporter: metrics at /metrics\n');
        return;
      }
      const text = scrape();
      if (!text) return void res.writeHead(503, { ...head, 'retry-after': '1' }).end();
      try {
        const body = await text;
        res.writeHead(200, { ...head, 'content-type': source.contentType });
        res.end(req.method === 'HEAD' ? undefined : body);
      } catch (e) {
        log(`scrape failed: ${(e as Error).message}`);
        res.writeHead(500, head).end();
      }
    });
  };

  const server: http.Server = tls ? https.createServer(tls, handler) : http.createServer(handler);
  server.maxConnections = MAX_CONNECTIONS;
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  server.keepAliveTimeout = 60_000; // a scraper keeps its connection between scrapes
  server.on('clientError', (_err, socket) => socket.destroy());
  if (tls) server.on('tlsClientError', (err) => log(`TLS handshake refused: ${err.message}`));

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(cfg.listen.port, cfg.listen.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', (err) => log(`server: ${err.message}`));
  const { address, port } = server.address() as { address: string; port: number };
  return {
    url: `${tls ? 'https' : 'http'}://${address.includes(':') ? `[${address}]` : address}:${port}/metrics`,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function loadWebConfig(file: string): WebConfig {
  let parsed: unknown;
  try {
    parsed = yaml.load(readFileSync(file, 'utf8'), { schema: yaml.CORE_SCHEMA, filename: file }) ?? {};
  } catch (e) {
    throw new AccessError(`--web-config ${file}: ${(e as Error).message}`);
  }
  try {
    return webConfigSchema.parse(parsed, 'web config');
  } catch (e) {
    if (e instanceof SchemaError) throw new AccessError(`--web-config ${file}: ${e.message} (NetProbes reads tls_server_config and basic_auth_users, as in Prometheus' web.config.yml)`);
    throw e;
  }
}

/** A secret from a file: it must not be readable by every user; one line, surrounding whitespace ignored. */
function readSecret(file: string): string {
  let text: string;
  try {
    if (statSync(file).mode & 0o004) throw new AccessError(`--bearer-token-file ${file} is readable by every user: chmod o-r it (0600 or 0640)`);
    text = readFileSync(file, 'utf8').trim();
  } catch (e) {
    if (e instanceof AccessError) throw e;
    throw new AccessError(`--bearer-token-file ${file}: ${(e as Error).message}`);
  }
  if (text.length < MIN_TOKEN_CHARS || /\s/.test(text)) throw new AccessError(`--bearer-token-file ${file}: the token must be one word of at least ${MIN_TOKEN_CHARS} characters`);
  return text;
}

function tlsOptions(t: NonNullable<WebConfig['tls_server_config']>, base: string): https.ServerOptions {
  const read = (f: string, what: string) => {
    try {
      return readFileSync(path.resolve(base, f));
    } catch (e) {
      throw new AccessError(`tls_server_config.${what}: ${(e as Error).message}`);
    }
  };
  const auth = t.client_auth_type ?? 'NoClientCert';
  const verify = auth === 'RequireAndVerifyClientCert' || auth === 'VerifyClientCertIfGiven';
  if (verify && !t.client_ca_file) throw new AccessError(`tls_server_config: client_auth_type ${auth} needs client_ca_file`);
  return {
    cert: read(t.cert_file, 'cert_file'),
    key: read(t.key_file, 'key_file'),
    ...(t.client_ca_file ? { ca: read(t.client_ca_file, 'client_ca_file') } : {}),
    requestCert: auth !== 'NoClientCert',
    // Node verifies a given certificate against `ca` when rejectUnauthorized; "any" and "request" take what comes.
    rejectUnauthorized: auth === 'RequireAndVerifyClientCert',
    minVersion: t.min_version === 'TLS13' ? 'TLSv1.3' : 'TLSv1.2',
  };
}

type Verdict = 'ok' | 'denied' | 'busy';

/** Checks the Authorization header against the token (constant time) or the basic-auth users (bcrypt, cached once verified). */
function authorizer(token: string | null, users: Record<string, string> | null): (header: string | undefined) => Promise<Verdict> {
  if (!token && !users) return () => Promise.resolve('ok');
  const digest = (s: string) => createHash('sha256').update(s).digest();
  const tokenDigest = token ? digest(token) : null;
  // A verified user:password is remembered by its hash (as exporter-toolkit does), so a scrape costs no bcrypt.
  const verified = new Set<string>();
  let inFlight = 0;
  return async (header) => {
    if (!header) return 'denied';
    const [scheme, value = ''] = header.split(' ', 2) as [string, string?];
    if (tokenDigest && scheme.toLowerCase() === 'bearer') return timingSafeEqual(digest(value), tokenDigest) ? 'ok' : 'denied';
    if (users && scheme.toLowerCase() === 'basic') {
      const plain = Buffer.from(value, 'base64').toString('utf8');
      const colon = plain.indexOf(':');
      const hash = colon > 0 ? users[plain.slice(0, colon)] : undefined;
      if (!hash || !Object.hasOwn(users, plain.slice(0, colon))) return 'denied';
      const key = digest(`${hash}\u0000${plain}`).toString('hex');
      if (verified.has(key)) return 'ok';
      if (inFlight >= MAX_BCRYPT_IN_FLIGHT) return 'busy';
      inFlight++;
      try {
        if (!(await bcrypt.compare(plain.slice(colon + 1), hash))) return 'denied';
      } finally {
        inFlight--;
      }
      if (verified.size >= 64) verified.clear();
      verified.add(key);
      return 'ok';
    }
    return 'denied';
  };
}
