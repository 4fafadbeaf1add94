// The renderer's entry: pick the front door's API and render the app.
import { createRoot } from 'react-dom/client';
import { App } from './App.dom.tsx';
import { createBrowserApi, type Link } from './api.dom.ts';

let link: Link = window.netprobes ? 'open' : 'connecting';
let notify: (l: Link) => void = () => {};
const api = window.netprobes ?? createBrowserApi((l) => {
  link = l;
  notify(l);
});

createRoot(document.getElementById('root')!).render(<App api={api} link={() => link} onLink={(f) => (notify = f)} />);
