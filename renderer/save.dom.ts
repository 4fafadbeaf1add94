// Saving a text file: Electron's save dialog through the host, or a download in the browser.
import type { NetprobesApi } from '../electron/shared/api.ts';

export async function saveText(api: NetprobesApi, name: string, text: string): Promise<void> {
  if (api.frontEnd === 'electron') {
    await api.request({ type: 'saveFile', suggestedName: name, content: text });
    return;
  }
  const url = URL.createObjectURL(new Blob([text], { type: 'text/csv;charset=utf-8' }));
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
