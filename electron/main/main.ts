// Electron main: the window, the app:// protocol that serves the renderer,
// validated IPC, save dialogs, and the collector's lifetime (through the
// shared Session). Runs as the user; only the collector runs as root.

import { app, BrowserWindow, dialog, ipcMain, protocol, session as electronSession, shell, type IpcMainInvokeEvent } from 'electron';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { requestSchema, type HostEvent } from '../shared/api.ts';
import { Session } from '../host/session.node.ts';
import { sudoPromptLauncher } from './elevate.ts';

const SCHEME = 'app';
const ORIGIN = `${SCHEME}://netprobes`;
const RENDERER_DIR = path.join(__dirname, 'renderer');
const MIME: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.svg': 'image/svg+xml', '.map': 'application/json' };
const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

protocol.registerSchemesAsPrivileged([{ scheme: SCHEME, privileges: { standard: true, secure: true, supportFetchAPI: true } }]);
app.enableSandbox();
if (!app.requestSingleInstanceLock()) app.quit();

const hostSession = new Session({
  collectorScript: path.join(__dirname, 'collector.js'),
  frontEnd: 'electron',
  elevatedLauncher: sudoPromptLauncher,
  saveFile: async (suggestedName, content) => {
    const win = BrowserWindow.getFocusedWindow() ?? BrowserWindow.getAllWindows()[0];
    const opts = { defaultPath: path.join(app.getPath('downloads'), suggestedName) };
    const result = win ? await dialog.showSaveDialog(win, opts) : await dialog.showSaveDialog(opts);
    if (result.canceled || !result.filePath) return null;
    await writeFile(result.filePath, content, 'utf8');
    return result.filePath;
  },
  log: (line) => console.error(`collector: ${line}`),
});

/** Only our own page, loaded from app://netprobes, may call the API. */
function fromOurPage(event: IpcMainInvokeEvent): boolean {
  const url = event.senderFrame?.url ?? '';
  return url === `${ORIGIN}/` || url.startsWith(`${ORIGIN}/index.html`);
}

function createWindow(): BrowserWindow {
  const win = new BrowserWindow({
    width: 1280,
    height: 800,
    minWidth: 900,
    minHeight: 560,
    title: 'NetProbes',
    backgroundColor: '#111827',
    webPreferences: {
      preload: path.join(__dirname, 'preload.js'),
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      nodeIntegrationInWorker: false,
      webSecurity: true,
      allowRunningInsecureContent: false,
      experimentalFeatures: false,
      spellcheck: false,
    },
  });
  win.webContents.on('will-navigate', (e) => e.preventDefault());
  win.webContents.on('will-redirect', (e) => e.preventDefault());
  win.webContents.on('will-attach-webview', (e) => e.preventDefault());
  win.webContents.setWindowOpenHandler(({ url }) => {
    if (url.startsWith('https://')) void shell.openExternal(url);
    return { action: 'deny' };
  });
  const unsubscribe = hostSession.subscribe((event: HostEvent) => {
    if (!win.isDestroyed()) win.webContents.send('netprobes:event', event);
  });
  win.on('closed', unsubscribe);
  void win.loadURL(`${ORIGIN}/index.html`);
  return win;
}

void app.whenReady().then(() => {
  electronSession.defaultSession.setPermissionRequestHandler((_wc, _perm, callback) => callback(false));
  electronSession.defaultSession.setPermissionCheckHandler(() => false);
  protocol.handle(SCHEME, async (request) => {
    const url = new URL(request.url);
    const rel = path.normalize(decodeURIComponent(url.pathname)).replace(/^([/\\])+/, '') || 'index.html';
    const file = path.join(RENDERER_DIR, rel);
    if (url.host !== 'netprobes' || !file.startsWith(RENDERER_DIR + path.sep)) return new Response('not found', { status: 404 });
    try {
      const body = await readFile(file);
      return new Response(body, { headers: { 'content-type': MIME[path.extname(file)] ?? 'application/octet-stream', 'content-security-policy': CSP } });
    } catch {
      return new Response('not found', { status: 404 });
    }
  });
  ipcMain.handle('netprobes:request', async (event, raw: unknown) => {
    if (!fromOurPage(event)) throw new Error('request from an unexpected frame');
    return hostSession.handle(requestSchema.parse(raw, 'request'));
  });
  createWindow();
});

app.on('second-instance', () => BrowserWindow.getAllWindows()[0]?.focus());
app.on('window-all-closed', () => app.quit());
// Closing the socket ends the collector, however we got here.
app.on('will-quit', () => hostSession.shutdown());
