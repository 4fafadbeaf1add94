// What `netprobes serve` allows each browser client, and what it counts when a
// client breaks the protocol or the limits. Pure: serve.node.ts applies it.

/** Requests are small JSON (a start's options, 256 addresses to resolve; a browser downloads exports itself): 1 MiB is ample. */
export const MAX_PAYLOAD = 1 << 20;
/** A user opens a few tabs; 16 leaves room for reloads while old sockets close, and bounds what a script can hold open. */
export const MAX_CONNECTIONS = 16;
/** The UI sends a request per click, and names to resolve at most every 200 ms: 100 a second is far above that and cheap. */
export const RATE_PER_SECOND = 100;
/** A tab that opens sends a handful of requests at once (state, interfaces, names to resolve); 500 covers any burst it makes. */
export const RATE_BURST = 500;
/** Requests a client may have waiting on the session; beyond this it gets an error reply, so nothing queues without bound. */
export const MAX_IN_FLIGHT = 64;
/** A client that stops reading is cut off once this much waits to be sent to it (rows already pause at 16 MiB). */
export const MAX_CLIENT_BACKLOG = 64 << 20;
/** After a close frame, how long a bad client gets to answer before its socket is destroyed (ws would wait 30 s). */
export const CLOSE_GRACE_MS = 1000;
/** At most one stats line a second on stderr, however fast clients misbehave. */
export const STATS_LOG_MS = 1000;

export interface ClientStats {
  /** WebSocket clients connected now. */
  connected: number;
  /** Requests and upgrades turned away before a WebSocket existed. */
  refused: {
    /** 403/400: no token, wrong Host or Origin, wrong path. */
    forbidden: number;
    /** 503: MAX_CONNECTIONS already connected. */
    tooMany: number;
    /** 400: an upgrade request ws would not accept (bad key, version, extension header). */
    badHandshake: number;
    /** 400: HTTP the server could not parse (Node's clientError). */
    badHttp: number;
  };
  /** Clients thrown out, by cause (the close code they got). */
  disconnected: {
    /** 1009: a message over MAX_PAYLOAD, or one in too many fragments. */
    oversized: number;
    /** 1002: unmasked frame, reserved opcode or RSV bit, bad control frame. */
    protocol: number;
    /** 1007: a text message or close reason that is not UTF-8. */
    invalidUtf8: number;
    /** 1003: a binary message (the API is JSON text). */
    binary: number;
    /** 1008: more messages than RATE_PER_SECOND with a RATE_BURST allows. */
    rate: number;
    /** Destroyed: MAX_CLIENT_BACKLOG waiting to be sent to it. */
    backlog: number;
  };
  /** Messages answered with an error without reaching the session. */
  rejected: {
    /** Not JSON, without an id, or not a request the API knows. */
    malformed: number;
    /** Over MAX_IN_FLIGHT. */
    busy: number;
  };
}

export type DisconnectCause = keyof ClientStats['disconnected'];

export function newClientStats(): ClientStats {
  return {
    connected: 0,
    refused: { forbidden: 0, tooMany: 0, badHandshake: 0, badHttp: 0 },
    disconnected: { oversized: 0, protocol: 0, invalidUtf8: 0, binary: 0, rate: 0, backlog: 0 },
    rejected: { malformed: 0, busy: 0 },
  };
}

/** The cause of a ws receiver error, by its code; ws has already sent the matching close code. */
export function protocolErrorCause(code: string | undefined): DisconnectCause {
  switch (code) {
    case 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH':
    case 'WS_ERR_UNSUPPORTED_DATA_PAYLOAD_LENGTH':
    case 'WS_ERR_TOO_MANY_BUFFERED_PARTS':
      return 'oversized';
    case 'WS_ERR_INVALID_UTF8':
      return 'invalidUtf8';
    default:
      return 'protocol';
  }
}

/** A token bucket: `perSecond` messages a second on average, `burst` at once. */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    private readonly perSecond: number,
    private readonly burst: number,
    now: number = performance.now(),
  ) {
    this.tokens = burst;
    this.last = now;
  }

  /** Takes a token; false when the bucket is empty. */
  take(now: number = performance.now()): boolean {
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) * this.perSecond) / 1000);
    this.last = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}

/**
 * The Host header values a page of ours may carry: the loopback names (a page
 * opened as localhost, 127.0.0.1 or [::1] is the same local server) and the
 * bound address, all on our port. The allowed Origins are exactly these with
 * http:// in front, so a page served under one name can open its WebSocket.
 */
export function allowedHosts(boundHost: string, port: number): string[] {
  const bound = boundHost.includes(':') && !boundHost.startsWith('[') ? `[${boundHost}]` : boundHost;
  const names = new Set(['127.0.0.1', 'localhost', '[::1]', bound.toLowerCase()]);
  // On port 80 a browser leaves the port out of Host and Origin.
  return [...names].flatMap((name) => (port === 80 ? [`${name}:80`, name] : [`${name}:${port}`]));
}

export function allowedOrigins(hosts: string[]): string[] {
  return hosts.map((host) => `http://${host}`);
}

/**
 * The CSP connect-src for a page served under `host` (an allowed Host value).
 * 'self' covers the page's own ws:// origin in CSP3 browsers; the explicit ws://
 * source is for those that do not match ws: to 'self'. An IPv6 literal is not
 * a valid CSP host source (Chromium drops it with a console error), so [::1]
 * relies on 'self'.
 */
export function connectSrc(host: string): string {
  return host.startsWith('[') ? `'self'` : `'self' ws://${host}`;
}
