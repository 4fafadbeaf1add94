// The renderer's only door: a small typed API (request, subscribe) over two
// IPC channels. No Node, no ipcRenderer, nothing else crosses.

import { contextBridge, ipcRenderer, type IpcRendererEvent } from 'electron';
import type { HostEvent, NetprobesApi, Request } from '../../ipc/api.ts';

const api: NetprobesApi = {
  frontEnd: 'electron',
  request: (req: Request) => ipcRenderer.invoke('netprobes:request', req),
  subscribe: (listener) => {
    const wrapped = (_e: IpcRendererEvent, event: HostEvent) => listener(event);
    ipcRenderer.on('netprobes:event', wrapped);
    return () => void ipcRenderer.removeListener('netprobes:event', wrapped);
  },
};

contextBridge.exposeInMainWorld('netprobes', api);
