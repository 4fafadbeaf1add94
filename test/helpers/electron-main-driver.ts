// Runs the real electron/main/main.ts against ./fake-electron.ts (bundled by the hardening test with `electron`
// aliased to the fake), fires what Electron would fire, and prints what main.ts did as one JSON line.

import { app, becomeReady, FakeContents, recorded } from './fake-electron.ts';
import '../../electron/main/main.ts';

type Fn = (...args: any[]) => any; // eslint-disable-line @typescript-eslint/no-explicit-any

async function settle<T>(p: () => Promise<T>): Promise<{ ok: T } | { error: string }> {
  try {
    return { ok: await p() };
  } catch (e) {
    return { error: e instanceof Error ? e.message : String(e) };
  }
}

async function main() {
  const beforeReady = { windows: recorded.windows.length, ipc: recorded.ipcHandlers.size, protocols: recorded.protocolHandlers.size };
  becomeReady();
  await new Promise((r) => setImmediate(r));

  // Every web contents, however created.
  const contents = new FakeContents();
  app.emit('web-contents-created', {}, contents);
  const prevented = (event: string, url: string) => {
    let p = false;
    contents.emit(event, { preventDefault: () => (p = true) }, url);
    return p;
  };
  const navigation = {
    navigateAway: prevented('will-navigate', 'https://example.com/'),
    navigateOwn: prevented('will-navigate', 'app://netprobes/index.html'),
    redirect: prevented('will-redirect', 'https://example.com/'),
    webview: prevented('will-attach-webview', ''),
    windowOpen: contents.windowOpen?.({ url: 'https://example.com/' }) ?? null,
  };

  const permissions: Record<string, { request: unknown; check: unknown }> = {};
  for (const p of ['media', 'notifications', 'clipboard-read', 'geolocation']) {
    let answer: unknown = 'no answer';
    recorded.permissionRequest?.(null, p, (a: unknown) => (answer = a));
    permissions[p] = { request: answer, check: recorded.permissionCheck?.(null, p) ?? 'no handler' };
  }

  const serve = recorded.protocolHandlers.get('app') as Fn | undefined;
  const fetchApp = async (url: string, method = 'GET') => {
    const res: Response = await serve!({ url, method });
    return { status: res.status, csp: res.headers.get('content-security-policy'), body: res.status === 200 ? await res.text() : '' };
  };
  const protocolAnswers = serve
    ? {
        index: await fetchApp('app://netprobes/index.html'),
        traversal: await fetchApp('app://netprobes/..%2f..%2fsecret.txt'),
        otherHost: await fetchApp('app://evil/index.html'),
        post: await fetchApp('app://netprobes/index.html', 'POST'),
      }
    : null;

  const ipc = recorded.ipcHandlers.get('netprobes:request') as Fn | undefined;
  const ourFrame = { url: 'app://netprobes/index.html' };
  const ours = { senderFrame: ourFrame, sender: { mainFrame: ourFrame } };
  const sub = { senderFrame: { url: 'app://netprobes/index.html' }, sender: { mainFrame: ourFrame } };
  const foreign = { senderFrame: { url: 'https://example.com/' }, sender: { mainFrame: { url: 'https://example.com/' } } };
  const requests = ipc
    ? {
        ours: await settle(() => ipc(ours, { type: 'getState' })),
        subframe: await settle(() => ipc(sub, { type: 'getState' })),
        foreign: await settle(() => ipc(foreign, { type: 'getState' })),
        malformed: await settle(() => ipc(ours, { type: 'getState', extra: 'x' })),
        unknownType: await settle(() => ipc(ours, { type: 'exec', command: 'id' })),
      }
    : null;

  process.stdout.write(
    JSON.stringify({
      beforeReady,
      sandboxEnabled: recorded.sandboxEnabled,
      schemes: recorded.schemes,
      windows: recorded.windows,
      navigation,
      permissions,
      protocolAnswers,
      requests: requests && Object.fromEntries(Object.entries(requests).map(([k, v]) => [k, 'ok' in v ? 'ok' : `error: ${v.error}`])),
    }) + '\n',
  );
  process.exit(0);
}

void main();
