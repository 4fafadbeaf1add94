// A stand-in for the `electron` module, for running the real electron/main/main.ts in plain Node where Electron's
// binary cannot run (this machine has none): it records what main.ts registers and lets a test fire the events and
// call the handlers, so the test checks what the wiring does, not what its source text says.
// bandwhich's fakes that drive the whole app are the model.

import { EventEmitter } from 'node:events';

type Fn = (...args: any[]) => any; // eslint-disable-line @typescript-eslint/no-explicit-any

export const recorded = {
  sandboxEnabled: false,
  schemes: [] as unknown[],
  protocolHandlers: new Map<string, Fn>(),
  ipcHandlers: new Map<string, Fn>(),
  windows: [] as { options: Record<string, unknown>; loaded: string[] }[],
  permissionRequest: null as Fn | null,
  permissionCheck: null as Fn | null,
};

let ready!: () => void;
const whenReadyPromise = new Promise<void>((r) => (ready = r));

class FakeApp extends EventEmitter {
  enableSandbox() {
    recorded.sandboxEnabled = true;
  }
  requestSingleInstanceLock() {
    return true;
  }
  whenReady() {
    return whenReadyPromise;
  }
  quit() {}
  getPath() {
    return '/tmp';
  }
}
export const app = new FakeApp();

export const protocol = {
  registerSchemesAsPrivileged: (schemes: unknown[]) => void recorded.schemes.push(...schemes),
  handle: (scheme: string, handler: Fn) => void recorded.protocolHandlers.set(scheme, handler),
};

export const ipcMain = { handle: (channel: string, handler: Fn) => void recorded.ipcHandlers.set(channel, handler) };

export const session = {
  defaultSession: {
    setPermissionRequestHandler: (f: Fn) => void (recorded.permissionRequest = f),
    setPermissionCheckHandler: (f: Fn) => void (recorded.permissionCheck = f),
  },
};

export class BrowserWindow extends EventEmitter {
  static getAllWindows = () => [] as BrowserWindow[];
  static getFocusedWindow = () => null;
  webContents = { send: () => {} };
  private record: { options: Record<string, unknown>; loaded: string[] };
  constructor(options: Record<string, unknown>) {
    super();
    this.record = { options, loaded: [] };
    recorded.windows.push(this.record);
  }
  isDestroyed() {
    return false;
  }
  async loadURL(url: string) {
    this.record.loaded.push(url);
  }
}

export const dialog = { showSaveDialog: async () => ({ canceled: true }) };

/** A web contents as main.ts sees it in 'web-contents-created': its listeners and its window-open handler. */
export class FakeContents extends EventEmitter {
  windowOpen: Fn | null = null;
  setWindowOpenHandler(f: Fn) {
    this.windowOpen = f;
  }
}

/** Lets main.ts's `app.whenReady()` resolve, as Electron does once it has started. */
export function becomeReady(): void {
  ready();
}
