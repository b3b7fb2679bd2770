/**
 * Runs scripts/k6-check (type-check of k6/ against @types/k6 and an esbuild
 * bundle of every scenario) so `npm test` catches broken k6 scripts without k6.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';

const ROOT = path.resolve(__dirname, '..', '..');
const CHECK = path.join(ROOT, 'dist', 'scripts', 'k6-check.js');

test('k6 scenarios type-check and bundle', () => {
  const r = spawnSync(process.execPath, [CHECK], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
  const output = `${r.stdout}${r.stderr}`;
  assert.equal(r.status, 0, `k6-check failed:\n${output}`);
  assert.match(r.stdout, /^ok\s+tsc -p k6\/tsconfig\.json$/m);
  const scenarios = readdirSync(path.join(ROOT, 'k6')).filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'));
  assert.ok(scenarios.length >= 6, `expected the six scenarios, found ${scenarios.join(', ')}`);
  for (const s of scenarios) {
    assert.match(r.stdout, new RegExp(`^ok\\s+k6/${s.replace(/[.]/g, '\\.')} `, 'm'), `no ok line for k6/${s}`);
  }
});
