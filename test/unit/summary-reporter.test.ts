// The totals line CI reads: a hook that throws and a file that fails to load are failures, even when every test in
// them passed (or none ran).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const REPORTER = path.join(import.meta.dirname, '..', 'helpers', 'summary-reporter.mjs');

function totals(files: Record<string, string>): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'np-reporter-'));
  try {
    for (const [name, text] of Object.entries(files)) writeFileSync(path.join(dir, name), text);
    const args = ['--test', `--test-reporter=${REPORTER}`, ...Object.keys(files).map((f) => path.join(dir, f))];
    try {
      // Without the runner's NODE_TEST_CONTEXT, which would make the child report to this run instead of the reporter.
      const env = { ...process.env, NODE_TEST_CONTEXT: undefined };
      return execFileSync(process.execPath, args, { encoding: 'utf8', env }).trim();
    } catch (e) {
      return String((e as { stdout: string }).stdout).trim();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const HEAD = "import { describe, test, after } from 'node:test';\n";

test('passing, failing and skipped tests are counted, suites are not', () => {
  const out = totals({
    'a.test.mjs': HEAD + "describe('s', () => { test('ok', () => {}); test('bad', () => { throw new Error('x'); }); test('later', { skip: true }, () => {}); });\n",
  });
  assert.equal(out, 'tests: 1 passed, 1 failed, 1 skipped');
});

test("a suite's after hook that throws is a failure though its tests passed", () => {
  const out = totals({ 'a.test.mjs': HEAD + "describe('s', () => { after(() => { throw new Error('hook'); }); test('ok', () => {}); });\n" });
  assert.equal(out, 'tests: 1 passed, 1 failed, 0 skipped');
});

test('a file that throws as it loads is a failure', () => {
  const out = totals({ 'a.test.mjs': "throw new Error('load');\n", 'b.test.mjs': HEAD + "test('ok', () => {});\n" });
  assert.equal(out, 'tests: 1 passed, 1 failed, 0 skipped');
});
