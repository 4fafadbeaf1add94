// The renderer's API: the preload's in Electron, a WebSocket client to
// `netprobes serve` in a browser. Both implement NetprobesApi, so nothing else
// in the renderer knows which front door it came through.

import type { HostEvent, NetprobesApi, Reply, Request } from '../ipc/api.ts';

declare global {
  interface Window {
    netprobes?: NetprobesApi;
  }
}

interface Pending {
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
}

/** Connection state of the browser transport, for the status bar. */
export type Link = 'connecting' | 'open' | 'closed';

export function createBrowserApi(onLink: (l: Link) => void): NetprobesApi {
  const listeners = new Set<(e: HostEvent) => void>();
  const pending = new Map<number, Pending>();
  let nextId = 1;
  let ws: WebSocket;
  let ready: Promise<void>;

  const connect = () => {
    onLink('connecting');
    const token = new URLSearchParams(location.search).get('token');
    ws = new WebSocket(`ws://${location.host}/ws${token ? `?token=${encodeURIComponent(token)}` : ''}`);
    ready = new Promise((resolve, reject) => {
      ws.onopen = () => {
        onLink('open');
        resolve();
      };
      ws.onerror = () => reject(new Error('cannot reach netprobes serve'));
    });
    ready.catch(() => {});
    ws.onmessage = (m) => {
      const msg = JSON.parse(String(m.data)) as { id?: number; ok?: boolean; value?: unknown; error?: string | null; event?: HostEvent };
      if (msg.event) {
        for (const l of listeners) l(msg.event);
        return;
      }
      const p = pending.get(msg.id ?? -1);
      if (!p) return;
      pending.delete(msg.id!);
      if (msg.ok) p.resolve(msg.value);
      else p.reject(new Error(msg.error ?? 'request failed'));
    };
    ws.onclose = () => {
      onLink('closed');
      for (const p of pending.values()) p.reject(new Error('the connection to netprobes serve closed'));
      pending.clear();
      setTimeout(connect, 2000);
    };
  };
  connect();

  return {
    frontEnd: 'browser',
    async request<R extends Request>(req: R): Promise<Reply<R['type']>> {
      await ready;
      const id = nextId++;
      return new Promise((resolve, reject) => {
        pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
        ws.send(JSON.stringify({ id, request: req }));
      });
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => void listeners.delete(listener);
    },
  };
}
