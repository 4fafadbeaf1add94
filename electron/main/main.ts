// Electron main: the window, the app:// protocol that serves the renderer,
// validated IPC, save dialogs, and the collector's lifetime (through the
// shared Session). Runs as the user; only the collector runs as root, started
// through the administrator dialog (host/elevation.node.ts). Every
// security decision is in ./security.ts, where a unit test checks it.

import { app, BrowserWindow, dialog, ipcMain, protocol, session as electronSession, type IpcMainInvokeEvent } from 'electron';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { requestSchema, type HostEvent } from '../../ipc/api.ts';
import { Session } from '../../host/session.node.ts';
import { elevatedLauncher } from '../../host/elevation.node.ts';
import {
  allowNavigation,
  allowPermission,
  collectorScriptPath,
  CSP,
  isOurPage,
  MIME,
  resolveAppRequest,
  SCHEME,
  SCHEME_PRIVILEGES,
  START_URL,
  webPreferences,
  windowOpenAction,
} from './security.ts';

const RENDERER_DIR = path.join(__dirname, 'renderer');

protocol.registerSchemesAsPrivileged([{ scheme: SCHEME, privileges: SCHEME_PRIVILEGES }]);
app.enableSandbox();
if (!app.requestSingleInstanceLock()) app.quit();

const hostSession = new Session({
  collectorScript: collectorScriptPath(__dirname),
  frontEnd: 'electron',
  elevatedLauncher: elevatedLauncher({ name: 'NetProbes' }),
  saveFile: async (suggestedName, content, encoding) => {
    const win = BrowserWindow.getFocusedWindow() ?? BrowserWindow.getAllWindows()[0];
    const opts = { defaultPath: path.join(app.getPath('downloads'), suggestedName) };
    const result = win ? await dialog.showSaveDialog(win, opts) : await dialog.showSaveDialog(opts);
    if (result.canceled || !result.filePath) return null;
    await writeFile(result.filePath, Buffer.from(content, encoding));
    return result.filePath;
  },
  log: (line) => console.error(`collector: ${line}`),
});

function fromOurPage(event: IpcMainInvokeEvent): boolean {
  const frame = event.senderFrame;
  return !!frame && isOurPage(frame.url, frame === event.sender.mainFrame);
}

// Every web contents, whatever created it: no navigation, no new windows, no <webview>.
app.on('web-contents-created', (_e, contents) => {
  contents.on('will-navigate', (e, url) => allowNavigation(url) || e.preventDefault());
  contents.on('will-redirect', (e, url) => allowNavigation(url) || e.preventDefault());
  contents.on('will-attach-webview', (e) => e.preventDefault());
  contents.setWindowOpenHandler(({ url }) => windowOpenAction(url));
});

function createWindow(): BrowserWindow {
  const win = new BrowserWindow({
    width: 1280,
    height: 800,
    minWidth: 900,
    minHeight: 560,
    title: 'NetProbes',
    backgroundColor: '#111827',
    webPreferences: webPreferences(path.join(__dirname, 'preload.js')),
  });
  const unsubscribe = hostSession.subscribe((event: HostEvent) => {
    if (!win.isDestroyed()) win.webContents.send('netprobes:event', event);
  });
  win.on('closed', unsubscribe);
  void win.loadURL(START_URL);
  return win;
}

void app.whenReady().then(() => {
  const ses = electronSession.defaultSession;
  ses.setPermissionRequestHandler((_wc, permission, callback) => callback(allowPermission(permission)));
  ses.setPermissionCheckHandler((_wc, permission) => allowPermission(permission));
  protocol.handle(SCHEME, async (request) => {
    const file = resolveAppRequest(request.url, request.method, RENDERER_DIR);
    if (!file) return new Response('not found', { status: 404 });
    try {
      const body = await readFile(file);
      return new Response(body, {
        headers: { 'content-type': MIME[path.extname(file)]!, 'content-security-policy': CSP, 'x-content-type-options': 'nosniff' },
      });
    } catch {
      return new Response('not found', { status: 404 });
    }
  });
  // A page that fires requests without waiting for answers gets refused beyond this, instead of queueing without limit.
  const MAX_REQUESTS_IN_FLIGHT = 64;
  let inFlight = 0;
  ipcMain.handle('netprobes:request', async (event, raw: unknown) => {
    if (!fromOurPage(event)) throw new Error('request from an unexpected frame');
    if (inFlight >= MAX_REQUESTS_IN_FLIGHT) throw new Error('too many requests in flight');
    inFlight++;
    try {
      return await hostSession.handle(requestSchema.parse(raw, 'request'));
    } finally {
      inFlight--;
    }
  });
  createWindow();
});

app.on('second-instance', () => BrowserWindow.getAllWindows()[0]?.focus());
app.on('window-all-closed', () => app.quit());
// Closing the socket ends the collector, however we got here: a quit, a
// signal, a crash of main (the kernel closes the socket), even SIGKILL.
app.on('will-quit', () => hostSession.close());
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, () => app.quit());
