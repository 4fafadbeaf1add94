// Lint: typescript-eslint's recommended rules, React hooks rules, and the
// layering that keeps each runtime in its lane (VS Code and Signal do the same):
//   *.dom.ts(x), renderer/   the renderer: no Node, no node-only or Electron code
//   *.node.ts, electron/collector, electron/host, electron/cli   Node only
//   electron/shared, probe definitions and parsers   pure: run anywhere
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import reactHooks from 'eslint-plugin-react-hooks';

const nodeBuiltins = ['node:*', 'fs', 'path', 'child_process', 'net', 'os', 'http', 'dgram', 'crypto', 'events', 'util', 'worker_threads'];
const noNode = {
  paths: ['electron', 'cap', 'ws', 'sudo-prompt'].map((name) => ({ name, message: 'node-only or Electron code: not importable here' })),
  patterns: [
    { group: nodeBuiltins, message: 'pure and renderer code must not use Node: move this to a *.node.ts file' },
    { group: ['**/*.node.ts'], message: 'node-only code: not importable here' },
  ],
};

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'out/**', 'test/helpers/*.mjs', 'test/integration/*.mjs'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts', '**/*.tsx'],
    plugins: { 'react-hooks': reactHooks },
    rules: {
      ...reactHooks.configs.recommended.rules,
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-constant-condition': ['error', { checkLoops: false }],
    },
  },
  {
    // Renderer and everything pure that it may import.
    files: ['renderer/**', 'electron/shared/**', 'electron/probes/**/*.ts'],
    ignores: ['**/*.node.ts'],
    rules: { 'no-restricted-imports': ['error', noNode] },
  },
  {
    // The collector and the CLI never import Electron; the host is shared by Electron main and `serve`.
    files: ['electron/collector/**', 'electron/host/**', 'electron/cli/**', 'electron/node/**', 'electron/probes/**/*.node.ts'],
    rules: { 'no-restricted-imports': ['error', { paths: [{ name: 'electron', message: 'the collector, host and CLI run in plain Node' }] }] },
  },
  {
    files: ['scripts/**/*.mjs', 'bin/**/*.js', 'eslint.config.mjs'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly', require: 'readonly', __dirname: 'readonly' } },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
);
