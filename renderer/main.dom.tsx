// The renderer's entry: pick the front door's API and render the app.
import { createRoot } from 'react-dom/client';
import { App } from './App.dom.tsx';
import { createBrowserApi, type Link } from './api.dom.ts';

let link: Link = window.netprobes ? 'open' : 'connecting';
const watchers = new Set<() => void>();
const api = window.netprobes ?? createBrowserApi((l) => {
  link = l;
  for (const w of watchers) w();
});
const subscribeLink = (onChange: () => void) => {
  watchers.add(onChange);
  return () => void watchers.delete(onChange);
};

createRoot(document.getElementById('root')!).render(<App api={api} link={() => link} subscribeLink={subscribeLink} />);
