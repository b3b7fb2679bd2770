// The addon is optional (issue 5 part 5, P17): with it disabled, missing or broken the
// loader reports inactive with a one-line reason and never throws. Each case runs the
// compiled loader in a fresh node process, since the status is decided at first import.
import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';

import { loadAddon, parseIoPriority } from '../../app/native/addon';

const LOADER = require.resolve('../../app/native/addon');

interface ChildReport {
  hints: { active: boolean; reason: string };
  addonType: string;
}

/** loadInChild requires the compiled loader in a child node with `env` added and returns what it reports. */
function loadInChild(env: Record<string, string>): ChildReport {
  const script = `
    const m = require(${JSON.stringify(LOADER)});
    process.stdout.write(JSON.stringify({ hints: m.hints, addonType: typeof m.addon }));
  `;
  const childEnv: NodeJS.ProcessEnv = { ...process.env, ...env };
  if (!('RANGESERVE_ADDON' in env)) delete childEnv['RANGESERVE_ADDON'];
  if (!('RANGESERVE_ADDON_PATH' in env)) delete childEnv['RANGESERVE_ADDON_PATH'];
  const r = spawnSync(process.execPath, ['-e', script], { env: childEnv, encoding: 'utf8' });
  assert.equal(r.status, 0, `child failed: ${r.stderr}`);
  assert.equal(r.stderr, '', 'the loader prints nothing');
  return JSON.parse(r.stdout) as ChildReport;
}

describe('addon fallback', () => {
  let dir = '';
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rangeserve-fallback-'));
  });
  after(() => {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('RANGESERVE_ADDON=off: inactive, reason says so', () => {
    assert.deepEqual(loadInChild({ RANGESERVE_ADDON: 'off' }), {
      hints: { active: false, reason: 'disabled by RANGESERVE_ADDON=off' },
      addonType: 'undefined',
    });
  });

  it('missing .node file (RANGESERVE_ADDON_PATH to nowhere): inactive, reason says not built', () => {
    const missing = path.join(dir, 'nope', 'rangeserve_native.node');
    const report = loadInChild({ RANGESERVE_ADDON_PATH: missing });
    assert.equal(report.hints.active, false);
    assert.equal(report.addonType, 'undefined');
    assert.match(report.hints.reason, /^native addon not built: .*does not exist/);
  });

  it('a file that is not an addon: inactive, load error in one line', () => {
    const bogus = path.join(dir, 'bogus.node');
    fs.writeFileSync(bogus, 'not an ELF file\n');
    const report = loadInChild({ RANGESERVE_ADDON_PATH: bogus });
    assert.equal(report.hints.active, false);
    assert.match(report.hints.reason, /^native addon failed to load/);
    assert.doesNotMatch(report.hints.reason, /\n/);
  });

  it('default path: active when native/build.js built it, else the recorded skip reason', () => {
    const report = loadInChild({});
    const root = path.resolve(path.dirname(LOADER), '..', '..', '..');
    const built = fs.existsSync(path.join(root, 'native', 'build', 'Release', 'rangeserve_native.node'));
    if (built) {
      assert.deepEqual(report.hints, { active: true, reason: `loaded ${path.join('native', 'build', 'Release', 'rangeserve_native.node')}` });
      assert.equal(report.addonType, 'object');
    } else {
      assert.equal(report.hints.active, false);
      assert.match(report.hints.reason, /^native addon not built: /);
    }
  });

  it('loadAddon never throws, whatever the environment', () => {
    for (const env of [{ RANGESERVE_ADDON: 'OFF' }, { RANGESERVE_ADDON_PATH: '\0' }, { RANGESERVE_ADDON_PATH: dir }]) {
      const result = loadAddon(env);
      assert.equal(result.hints.active, false, JSON.stringify(env));
      assert.equal(result.addon, undefined);
    }
  });
});

describe('parseIoPriority (IO_PRIORITY)', () => {
  const good: ReadonlyArray<[string, { cls: string; level: number }]> = [
    ['be:4', { cls: 'be', level: 4 }],
    ['be', { cls: 'be', level: 4 }],
    ['BE:0', { cls: 'be', level: 0 }],
    [' rt:0 ', { cls: 'rt', level: 0 }],
    ['rt:7', { cls: 'rt', level: 7 }],
    ['idle', { cls: 'idle', level: 0 }],
    ['none', { cls: 'none', level: 0 }],
  ];
  for (const [text, value] of good) {
    it(`"${text}" parses`, () => assert.deepEqual(parseIoPriority(text), { ok: true, value }));
  }
  const bad: ReadonlyArray<[string, RegExp]> = [
    ['', /empty/],
    ['be:8', /level "8" is invalid/],
    ['be:-1', /level "-1" is invalid/],
    ['be:', /level "" is invalid/],
    ['rt:1.5', /level "1.5" is invalid/],
    ['idle:3', /class "idle" takes no level/],
    ['none:0', /class "none" takes no level/],
    ['best-effort:4', /class "best-effort" is unknown/],
    ['be:4:2', /more than one ':'/],
  ];
  for (const [text, error] of bad) {
    it(`"${text}" is refused`, () => {
      const r = parseIoPriority(text);
      assert.equal(r.ok, false);
      if (!r.ok) assert.match(r.error, error);
    });
  }
});
