// Builds every bundle into dist/: the CLI (with serve), the collector, the
// Electron main and preload, and the renderer. esbuild only bundles; `npm run
// typecheck` is what checks types.
import { build } from 'esbuild';
import { cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';

const node = { platform: 'node', target: 'node20', format: 'cjs', bundle: true, sourcemap: true, external: ['cap', 'electron', 'better-sqlite3'], logLevel: 'warning' };

await Promise.all([
  build({ ...node, entryPoints: ['cli/cli.node.ts'], outfile: 'dist/cli.js' }),
  build({ ...node, entryPoints: ['collector/main.node.ts'], outfile: 'dist/collector.js' }),
  build({ ...node, entryPoints: ['electron/main/main.ts'], outfile: 'dist/main.js' }),
  // A sandboxed preload is one file that may require only 'electron'.
  build({ ...node, entryPoints: ['electron/preload/preload.ts'], outfile: 'dist/preload.js' }),
  build({
    entryPoints: ['renderer/main.dom.tsx'],
    outfile: 'dist/renderer/app.js',
    bundle: true,
    platform: 'browser',
    target: 'chrome120',
    format: 'iife',
    jsx: 'automatic',
    minify: true,
    sourcemap: true,
    define: { 'process.env.NODE_ENV': '"production"' },
    logLevel: 'warning',
  }),
]);
mkdirSync('dist/renderer', { recursive: true });
cpSync('renderer/index.html', 'dist/renderer/index.html');
// One stylesheet: uPlot's, then ours (the CSP allows only 'self' styles).
writeFileSync('dist/renderer/app.css', readFileSync('node_modules/uplot/dist/uPlot.min.css', 'utf8') + '\n' + readFileSync('renderer/app.css', 'utf8'));
cpSync('resources/icon.svg', 'dist/renderer/icon.svg');
