// The Electron shell's security decisions as plain data and pure functions, so
// a unit test can check each one without Electron's binary
// (test/unit/hardening.test.ts); main.ts only wires them in. Each item of
// Electron's security checklist that applies is named where it is decided
// (https://www.electronjs.org/docs/latest/tutorial/security).

import path from 'node:path';

/** #18: a custom protocol, not file://. */
export const SCHEME = 'app';
export const HOST = 'netprobes';
export const ORIGIN = `${SCHEME}://${HOST}`;
export const START_URL = `${ORIGIN}/index.html`;

/** Registered before the app is ready: standard and secure (a proper origin, fetch works), nothing more (no bypassCSP, no service workers). */
export const SCHEME_PRIVILEGES = { standard: true, secure: true, supportFetchAPI: true } as const;

/** #7: a Content Security Policy on every response of the app:// protocol. Only our own files, no inline script, no eval. */
export const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'none'",
].join('; ');

/**
 * #2–#4, #6, #8–#10, #11: the window's webPreferences. No Node in the renderer,
 * isolated and sandboxed preload, web security on, no insecure content, no
 * experimental or Blink features, no <webview>.
 */
export function webPreferences(preload: string) {
  return {
    preload,
    contextIsolation: true,
    sandbox: true,
    nodeIntegration: false,
    nodeIntegrationInWorker: false,
    nodeIntegrationInSubFrames: false,
    webSecurity: true,
    allowRunningInsecureContent: false,
    experimentalFeatures: false,
    webviewTag: false,
    navigateOnDragDrop: false,
    spellcheck: false,
  } as const;
}

export const MIME: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.map': 'application/json',
};

/**
 * The file an app:// request may read, or null: our host only, GET only, a
 * known file type, and never outside the renderer directory (no `..`, no
 * encoded separators, no absolute paths, no NUL).
 */
export function resolveAppRequest(rawUrl: string, method: string, rendererDir: string): string | null {
  if (method !== 'GET') return null;
  let url: URL;
  try {
    url = new URL(rawUrl);
  } catch {
    return null;
  }
  if (url.protocol !== `${SCHEME}:` || url.host !== HOST || url.username || url.password) return null;
  let rel: string;
  try {
    rel = decodeURIComponent(url.pathname);
  } catch {
    return null;
  }
  if (rel.includes('\0') || rel.includes('\\') || /(^|\/)\.\.(\/|$)/.test(rel)) return null;
  rel = rel.replace(/^\/+/, '') || 'index.html';
  const root = path.resolve(rendererDir);
  const file = path.resolve(root, rel);
  if (!file.startsWith(root + path.sep) || !(path.extname(file) in MIME)) return null;
  return file;
}

/** #16: only our own page (top frame, loaded from app://netprobes) may call the API. */
export function isOurPage(frameUrl: string | undefined, isMainFrame: boolean): boolean {
  if (!isMainFrame || !frameUrl) return false;
  let url: URL;
  try {
    url = new URL(frameUrl);
  } catch {
    return false;
  }
  // Not url.origin: for a non-special scheme, WHATWG URL (in Node) says "null".
  return url.protocol === `${SCHEME}:` && url.host === HOST && !url.username && !url.password && (url.pathname === '/' || url.pathname === '/index.html');
}

/** #12: the window never navigates away from the page it loaded (the renderer is a single page). */
export function allowNavigation(_url: string): boolean {
  return false;
}

/** #13, #14: no new windows, and no URL of the renderer's handed to shell.openExternal. */
export function windowOpenAction(_url: string): { action: 'deny' } {
  return { action: 'deny' };
}

/** #5: the renderer needs no permission (camera, notifications, clipboard read, …): every request is refused. */
export function allowPermission(_permission: string): boolean {
  return false;
}

/**
 * Where the collector is: next to main.js, but outside the asar archive in a
 * package (asarUnpack): pkexec runs it as root from a real, fixed, root-owned
 * path, and its native module (cap) must be a real file too.
 */
export function collectorScriptPath(mainDir: string): string {
  return path.join(mainDir.replace(/([/\\])app\.asar(?=$|[/\\])/, '$1app.asar.unpacked'), 'collector.js');
}
