// The layering of the tree, enforced: which folder may import which. Modelled
// on VS Code's code-layering rule: every source file belongs to one layer, and
// an import may only point to its own layer or one below it. On top of the
// order, three walls: one probe never imports another probe; the apps (the
// collector, the host, the CLI, Electron, the renderer's shell) import each
// other only where listed in APP_IMPORTS; files outside every layer (tests,
// scripts) are free. ARCHITECTURE.md draws the same table.

/** Lowest first. A file's layer is the first whose pattern matches its path. */
export const LAYERS = [
  { name: 'core', pattern: /^core\//, what: 'pure code that knows no probe and no OS: decoders, parsers, schema, framing, writers' },
  { name: 'kernel', pattern: /^kernel\//, what: 'adapters to the kernel: libpcap capture, tracefs, procfs' },
  { name: 'runtime', pattern: /^runtime\//, what: 'the source contract, the tracepoint session, exit handling' },
  { name: 'attribution', pattern: /^attribution\//, what: "a packet's owner: the socket index, flow cache, attributor and the /proc and tracepoint sources they read, shared by nettop and tcpdump" },
  { name: 'probe', pattern: /^probes\/[^/]+\/(?!.*\.dom\.tsx?$)/, what: "a probe's definition, logic, source and printer" },
  { name: 'registry', pattern: /^probes\/(?!views\.dom\.ts$)[^/]+\.ts$/, what: 'the probe registries: one entry per probe, checked by the type checker' },
  { name: 'history', pattern: /^history\//, what: "the user's recorded past: what each probe records, the SQLite store, its queries" },
  { name: 'metrics', pattern: /^metrics\//, what: "the exporter's metrics: probe rows to bounded Prometheus series, access control, the /metrics server" },
  { name: 'ipc', pattern: /^ipc\//, what: 'the messages between processes: collector <-> host, host <-> renderer' },
  { name: 'ui', pattern: /^renderer\/ui\//, what: "the renderer's kit: store, table, chart, the view contract" },
  { name: 'view', pattern: /^probes\/(?:[^/]+\/.*\.dom\.tsx?|views\.dom\.ts)$/, what: "each probe's view, and their registry" },
  { name: 'app', pattern: /^(?:collector|host|cli|electron|renderer)\//, what: 'the processes: collector, host, CLI, Electron main and preload, renderer shell' },
];

/** The app a path belongs to (the folder under the root), for the walls between apps. */
const appOf = (file) => /^(collector|host|cli|electron|renderer)\//.exec(file)?.[1] ?? null;

/** Which apps may import which other apps: the CLI's `serve` and Electron main share the host session. */
export const APP_IMPORTS = { cli: ['host'], electron: ['host'], host: [], collector: [], renderer: [] };

const probeOf = (file) => /^probes\/([^/]+)\//.exec(file)?.[1] ?? null;

export function layerOf(file) {
  const index = LAYERS.findIndex((l) => l.pattern.test(file));
  return index < 0 ? null : { index, ...LAYERS[index] };
}

/** Why `from` may not import `to` (both repo-relative), or null when it may. */
export function violation(from, to) {
  const a = layerOf(from);
  const b = layerOf(to);
  if (!a || !b) return null;
  if (b.index > a.index) return `${a.name} (${from}) may not import ${b.name} (${to}): layers only point down`;
  const [pa, pb] = [probeOf(from), probeOf(to)];
  if (pa && pb && pa !== pb) return `probe ${pa} may not import probe ${pb}: put what they share in core, kernel or runtime`;
  const [appA, appB] = [appOf(from), appOf(to)];
  if (appA && appB && appA !== appB && !APP_IMPORTS[appA]?.includes(appB)) return `${appA} may not import ${appB} (see APP_IMPORTS)`;
  return null;
}

/** The ESLint rule: every static import, export-from, import() and require() of a relative path. */
export const layersRule = {
  meta: { type: 'problem', docs: { description: 'imports only point down the layers of ARCHITECTURE.md' }, schema: [] },
  create(context) {
    const root = context.cwd;
    const file = relative(root, context.filename);
    const check = (node, spec) => {
      if (typeof spec !== 'string' || !spec.startsWith('.')) return;
      const target = relative(root, resolveFrom(context.filename, spec));
      const why = violation(file, target);
      if (why) context.report({ node, message: why });
    };
    return {
      ImportDeclaration: (node) => check(node, node.source.value),
      ExportNamedDeclaration: (node) => node.source && check(node, node.source.value),
      ExportAllDeclaration: (node) => check(node, node.source.value),
      ImportExpression: (node) => node.source.type === 'Literal' && check(node, node.source.value),
      CallExpression: (node) => {
        if (node.callee.type === 'Identifier' && node.callee.name === 'require' && node.arguments[0]?.type === 'Literal') check(node, node.arguments[0].value);
      },
    };
  },
};

// path helpers without node:path, so the rule runs wherever ESLint does
function relative(root, abs) {
  const r = root.endsWith('/') ? root : `${root}/`;
  return abs.startsWith(r) ? abs.slice(r.length) : abs;
}
function resolveFrom(file, spec) {
  const parts = file.split('/').slice(0, -1);
  for (const p of spec.split('/')) {
    if (p === '..') parts.pop();
    else if (p !== '.') parts.push(p);
  }
  return parts.join('/');
}

export default { rules: { layers: layersRule } };
