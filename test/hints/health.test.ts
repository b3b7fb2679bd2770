/**
 * Hints are optional (issue 5 part 2): whatever the reason they are off, the
 * server starts, says so in one start-up line and on /healthz
 * (`hints: {active, reason}`), and serves the same bytes. Runs in the mode
 * RS_TEST_MODE names.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { hints as loaded } from '../../app/native/addon';
import { sha256 } from '../helpers/fixtures';
import { raw } from '../helpers/http';
import { startTestServer } from '../helpers/server';
import { SUITE_TIMEOUT_MS } from '../helpers/timeouts';

interface HintsHealth {
  readonly hints: { readonly active: boolean; readonly reason: string };
}

let dir = '';
const DATA = Buffer.alloc(3 * 1024 * 1024 + 17, 'rangeserve');

before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rangeserve-hint-health-'));
  fs.writeFileSync(path.join(dir, 'f.bin'), DATA);
});
after(() => {
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

/** Starts a server with `env`, returns its /healthz hints and start-up line, and checks a download and a range. */
async function check(env: Record<string, string>): Promise<{ health: HintsHealth['hints']; line: { msg: string; hints: HintsHealth['hints'] } }> {
  const srv = await startTestServer({ FILES_ROOT: dir, ...env });
  try {
    const h = JSON.parse((await raw(srv.url, { path: '/healthz' })).body.toString()) as HintsHealth;
    const whole = await raw(srv.url, { path: '/files/f.bin' });
    assert.equal(whole.status, 200);
    assert.equal(sha256(whole.body), sha256(DATA));
    const part = await raw(srv.url, { path: '/files/f.bin', headers: { Range: 'bytes=1000-2999' } });
    assert.equal(part.status, 206);
    assert.deepEqual(part.body, DATA.subarray(1000, 3000));
    const lines = srv.logs
      .flatMap((l) => l.split('\n'))
      .filter((l) => l.includes('"msg":"hints '))
      .map((l) => JSON.parse(l) as { msg: string; hints: HintsHealth['hints'] });
    assert.ok(lines.length >= 1, 'a start-up line says whether hints are active');
    return { health: h.hints, line: lines[0]! };
  } finally {
    await srv.stop();
  }
}

describe('hints status on /healthz and in the start-up log', { timeout: SUITE_TIMEOUT_MS }, () => {
  test('RANGESERVE_ADDON=off: off, and says it was disabled', async () => {
    const r = await check({ RANGESERVE_ADDON: 'off' });
    assert.deepEqual(r.health, { active: false, reason: 'disabled by RANGESERVE_ADDON=off' });
    assert.equal(r.line.msg, 'hints off');
    assert.deepEqual(r.line.hints, r.health);
  });

  test('addon binary missing: off, and says it is not built', async () => {
    const r = await check({ RANGESERVE_ADDON_PATH: path.join(dir, 'no-such-dir', 'rangeserve_native.node') });
    assert.equal(r.health.active, false);
    assert.match(r.health.reason, /^native addon not built: .*rangeserve_native\.node does not exist/);
    assert.equal(r.line.msg, 'hints off');
  });

  test('HINTS=off with the addon loaded: off, and says HINTS=off', async (t) => {
    if (!loaded.active) return t.skip(`addon not loaded here: ${loaded.reason}`);
    const r = await check({ HINTS: 'off' });
    assert.deepEqual(r.health, { active: false, reason: 'disabled by HINTS=off' });
  });

  test('default with the addon built: active', async (t) => {
    if (!loaded.active) return t.skip(`addon not loaded here: ${loaded.reason}`);
    const r = await check({});
    assert.deepEqual(r.health, loaded);
    assert.equal(r.line.msg, 'hints active');
  });
});
