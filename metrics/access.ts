// Who may read /metrics, and where the exporter may listen. The web
// configuration file follows Prometheus' own (exporter-toolkit's
// web.config.yml): `tls_server_config` (cert_file, key_file, client_ca_file,
// client_auth_type, min_version) and `basic_auth_users` (user: bcrypt hash);
// keys it does not know are refused, not ignored. A bearer token file is the
// other way (Prometheus' scrape config sends it with `authorization:
// credentials_file`). The rule: loopback needs nothing; any other address needs
// one of them, so metrics that name every process never go out to whoever asks.
// Pure: the files are read by server.node.ts.

import { literal, obj, optional, record, str, type Infer } from '../core/schema.ts';

const PATH = str({ min: 1, max: 4096 });

export const webConfigSchema = obj({
  tls_server_config: optional(
    obj({
      cert_file: PATH,
      key_file: PATH,
      client_ca_file: optional(PATH),
      client_auth_type: optional(literal('NoClientCert', 'RequestClientCert', 'RequireAnyClientCert', 'VerifyClientCertIfGiven', 'RequireAndVerifyClientCert')),
      min_version: optional(literal('TLS12', 'TLS13')),
    }),
  ),
  basic_auth_users: optional(record(str({ min: 59, max: 60, pattern: /^\$2[aby]\$\d\d\$[./A-Za-z0-9]{53}$/ }), { maxKeys: 256, key: /^[^:\s]{1,128}$/ })),
});
export type WebConfig = Infer<typeof webConfigSchema>;

export interface Listen {
  readonly host: string;
  readonly port: number;
}

export class AccessError extends Error {}

/** `ADDR:PORT`, `[IPv6]:PORT` or `localhost:PORT`. The address is checked by the caller (it needs Node's isIP). */
export function parseListen(text: string): Listen {
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(text);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new AccessError(`--listen takes ADDR:PORT (e.g. 127.0.0.1:9464 or [::1]:9464), not '${text}'`);
  return { host: (m[1] ?? m[2])!, port };
}

/** 127.0.0.0/8, ::1, an IPv4-mapped 127.x, or the name localhost. */
export function isLoopback(host: string): boolean {
  const h = host.toLowerCase();
  if (h === 'localhost' || h === '::1' || h === '0:0:0:0:0:0:0:1') return true;
  const v4 = /^(?:::ffff:)?(\d{1,3})\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.exec(h);
  return !!v4 && Number(v4[1]) === 127;
}

export interface AccessPlan {
  /** Whether a scrape must carry credentials: a bearer token, or a basic-auth user. */
  readonly tls: boolean;
  readonly bearer: boolean;
  readonly basicAuth: boolean;
}

/** Refuses a listen address beyond loopback without a token or TLS; returns a warning to log, or null. */
export function checkExposure(listen: Listen, plan: AccessPlan): string | null {
  if (isLoopback(listen.host)) return null;
  if (!plan.tls && !plan.bearer && !plan.basicAuth) {
    throw new AccessError(
      `refusing to listen on ${listen.host}:${listen.port}: it is not a loopback address, and /metrics names every process on this machine. ` +
        'Give --bearer-token-file FILE (scrapers send it as "Authorization: Bearer"), or --web-config FILE with tls_server_config ' +
        '(and basic_auth_users or client certificates), as Prometheus\' web.config.yml; or listen on 127.0.0.1.',
    );
  }
  if (!plan.tls) return `listening on ${listen.host}:${listen.port} without TLS: the credentials and the metrics cross the network in clear text`;
  return null;
}
