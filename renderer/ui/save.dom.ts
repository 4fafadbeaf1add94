// Saving a file: Electron's save dialog through the host, or a download in the browser.
import type { NetprobesApi } from '../../ipc/api.ts';

export async function saveText(api: NetprobesApi, name: string, text: string): Promise<void> {
  if (api.frontEnd === 'electron') {
    await api.request({ type: 'saveFile', suggestedName: name, content: text });
    return;
  }
  download(name, new Blob([text], { type: 'text/csv;charset=utf-8' }));
}

export async function saveBase64(api: NetprobesApi, name: string, base64: string): Promise<void> {
  if (api.frontEnd === 'electron') {
    await api.request({ type: 'saveFile', suggestedName: name, content: base64, encoding: 'base64' });
    return;
  }
  const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
  download(name, new Blob([bytes], { type: 'application/octet-stream' }));
}

function download(name: string, blob: Blob): void {
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
