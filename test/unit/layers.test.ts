// The layering lint rule (lint/layers.mjs) and the cycle rule catch what they
// promise: an import that points up a layer, one probe importing another, one
// app importing another, and an import cycle. `npm test` lints the whole tree
// with both (a clean tree is the other half of the proof).

import assert from 'node:assert/strict';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { ESLint } from 'eslint';
import { layerOf, violation } from '../../lint/layers.mjs';
import { ROOT } from '../helpers/run.ts';

test('each source folder has its layer, in order', () => {
  const order = [
    'core/packet.ts',
    'kernel/capture/pcap.node.ts',
    'runtime/source.ts',
    'attribution/attributor.ts',
    'probes/nettop/engine.ts',
    'probes/registry.ts',
    'history/store.node.ts',
    'ipc/protocol.ts',
    'renderer/ui/store.dom.ts',
    'probes/nettop/view.dom.tsx',
    'collector/main.node.ts',
  ].map((f) => layerOf(f)!.index);
  assert.deepEqual(order, [...order].sort((a, b) => a - b));
  assert.equal(new Set(order).size, order.length);
  assert.equal(layerOf('test/unit/layers.test.ts'), null);
  assert.equal(layerOf('probes/views.dom.ts')!.name, 'view');
  assert.equal(layerOf('probes/sources.node.ts')!.name, 'registry');
});

test('what the rule refuses, and what it lets through', () => {
  assert.match(violation('core/packet.ts', 'probes/registry.ts')!, /core .* may not import registry/);
  assert.match(violation('kernel/tracefs/instance.node.ts', 'runtime/source.ts')!, /layers only point down/);
  assert.match(violation('probes/nettop/engine.ts', 'probes/tcpdump/definition.ts')!, /probe nettop may not import probe tcpdump/);
  assert.match(violation('probes/nettop/definition.ts', 'renderer/ui/store.dom.ts')!, /probe .* may not import ui/);
  assert.match(violation('collector/runner.node.ts', 'host/session.node.ts')!, /collector may not import host/);
  assert.match(violation('host/session.node.ts', 'cli/serve.node.ts')!, /host may not import cli/);
  assert.equal(violation('cli/serve.node.ts', 'host/session.node.ts'), null);
  assert.match(violation('history/plan.ts', 'ipc/api.ts')!, /history .* may not import ipc/);
  assert.match(violation('probes/nettop/definition.ts', 'history/plan.ts')!, /layers only point down/);
  assert.equal(violation('host/session.node.ts', 'history/writer.node.ts'), null);
  assert.equal(violation('probes/nettop/view.dom.tsx', 'renderer/ui/Chart.dom.tsx'), null);
  assert.equal(violation('probes/nettop/source.node.ts', 'kernel/capture/pcap.node.ts'), null);
  assert.equal(violation('renderer/App.dom.tsx', 'probes/views.dom.ts'), null);
  assert.equal(violation('test/unit/x.test.ts', 'cli/serve.node.ts'), null);
});

test('ESLint with the project config reports an upward import, and a cycle', async () => {
  const eslint = new ESLint({ cwd: ROOT });
  const [up] = await eslint.lintText("import { PROBES } from '../probes/registry.ts';\nexport const n = PROBES;\n", { filePath: path.join(ROOT, 'core', 'upward.ts') });
  assert.deepEqual(
    up!.messages.map((m) => m.ruleId),
    ['local/layers'],
  );

  // A cycle needs both files on disk: two throwaway files in core/, removed after.
  const dir = path.join(ROOT, 'core', `cycle-test-${process.pid}`);
  mkdirSync(dir);
  try {
    writeFileSync(path.join(dir, 'a.ts'), "import { b } from './b.ts';\nexport const a = (): number => b() + 1;\n");
    writeFileSync(path.join(dir, 'b.ts'), "import { a } from './a.ts';\nexport const b = (): number => a() - 1;\n");
    const [cycle] = await eslint.lintFiles([path.join(dir, 'a.ts')]);
    assert.deepEqual(
      cycle!.messages.map((m) => m.ruleId),
      ['import-x/no-cycle'],
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
