/** A bad setting stops the server at start-up with one line naming it; never a stack trace. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { loadConfig, ConfigError } from '../../app/config';
import { MAIN } from '../helpers/server';

const bad: [string, string, RegExp][] = [
  ['PORT', 'eighty', /PORT="eighty": expected a whole number/],
  ['PORT', '70000', /PORT="70000": expected at most 65535/],
  ['MODE', 'threads', /MODE="threads": expected stream, worker or cluster/],
  ['MAX_RANGES', '0', /MAX_RANGES="0": expected at least 1/],
  ['SHOW_DOTFILES', 'maybe', /SHOW_DOTFILES="maybe": expected on or off/],
  ['CORS_ORIGINS', 'app.example', /CORS_ORIGINS="app.example": "app.example" is not an origin/],
  ['STALL_TIMEOUT_MS', '-5', /STALL_TIMEOUT_MS="-5": expected a whole number/],
  ['LOG_LEVEL', 'loud', /LOG_LEVEL="loud": expected one of/],
  ['FILES_ROOT', '/nonexistent/rangeserve', /FILES_ROOT="\/nonexistent\/rangeserve": folder does not exist/],
];

for (const [name, value, message] of bad) {
  test(`start-up refuses ${name}=${value} with one line`, () => {
    const r = spawnSync(process.execPath, [MAIN], { env: { ...process.env, PORT: '0', [name]: value }, encoding: 'utf8', timeout: 10_000 });
    assert.equal(r.status, 2);
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0] ?? '', /^rangeserve: invalid setting /);
    assert.match(lines[0] ?? '', message);
  });
}

test('defaults are the documented ones', () => {
  const c = loadConfig({}, '/srv');
  assert.equal(c.port, 8080);
  assert.equal(c.host, '127.0.0.1');
  assert.equal(c.filesRoot, '/srv/files');
  assert.equal(c.mode, 'stream');
  assert.equal(c.maxRanges, 16);
  assert.equal(c.showDotfiles, false);
  assert.equal(c.corsOrigins, '*');
  assert.throws(() => loadConfig({ WORKERS: '0' }), ConfigError);
});
