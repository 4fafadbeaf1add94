// Lint: typescript-eslint's recommended rules, React hooks rules, and two kinds
// of boundary (ARCHITECTURE.md draws both):
//  - where code runs, by file suffix: *.dom.ts(x) and renderer/ are the
//    renderer (no Node); *.node.ts and the collector, host and CLI are Node (no
//    Electron); everything else is pure and runs anywhere;
//  - which way a layer may point: core < kernel < runtime < attribution < probe < registry <
//    history < metrics < ipc < ui < view < app (lint/layers.mjs), and no import cycle
//    (eslint-plugin-import-x's no-cycle).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import reactHooks from 'eslint-plugin-react-hooks';
import importX, { createNodeResolver } from 'eslint-plugin-import-x';
import layers from './lint/layers.mjs';

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
    plugins: { 'react-hooks': reactHooks, local: layers, 'import-x': importX },
    rules: {
      ...reactHooks.configs.recommended.rules,
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-constant-condition': ['error', { checkLoops: false }],
      'local/layers': 'error',
    },
  },
  {
    // Cycles are looked for in the product's code (tests import freely).
    files: ['core/**', 'kernel/**', 'runtime/**', 'attribution/**', 'probes/**', 'ipc/**', 'history/**', 'metrics/**', 'host/**', 'collector/**', 'cli/**', 'electron/**', 'renderer/**'],
    settings: {
      'import-x/parsers': { '@typescript-eslint/parser': ['.ts', '.tsx'] },
      'import-x/resolver-next': [createNodeResolver({ extensions: ['.ts', '.tsx'] })],
    },
    rules: { 'import-x/no-cycle': ['error', { ignoreExternal: true }] },
  },
  {
    // Pure code and the renderer, and everything they may import.
    files: ['core/**', 'attribution/**', 'probes/**', 'ipc/**', 'history/**', 'metrics/**', 'renderer/**'],
    ignores: ['**/*.node.ts'],
    rules: { 'no-restricted-imports': ['error', noNode] },
  },
  {
    // The collector, the host and the CLI never import Electron; the host is shared by Electron main and `serve`.
    files: ['kernel/**', 'runtime/**', 'collector/**', 'host/**', 'cli/**', '**/*.node.ts'],
    rules: { 'no-restricted-imports': ['error', { paths: [{ name: 'electron', message: 'the collector, host and CLI run in plain Node' }] }] },
  },
  {
    files: ['scripts/**/*.mjs', 'bin/**/*.js', 'eslint.config.mjs', 'lint/**/*.mjs'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly', require: 'readonly', __dirname: 'readonly' } },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
);
