/** HINTS, HINT_* and IO_PRIORITY in app/config.ts: defaults, accepted forms, one-line errors naming the variable. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ConfigError, loadConfig } from '../../app/config';
import { DEFAULT_HINT_OPTIONS } from '../../app/native/hint-policy';

const MiB = 1024 * 1024;

describe('hint settings', () => {
  test('defaults: hints on with the policy defaults, IO_PRIORITY off', () => {
    const c = loadConfig({});
    assert.deepEqual(c.hints, { enabled: true, options: DEFAULT_HINT_OPTIONS });
    assert.equal(c.ioPriority, undefined);
  });

  const ok: { env: Record<string, string>; check: (c: ReturnType<typeof loadConfig>) => void }[] = [
    { env: { HINTS: 'off' }, check: (c) => assert.equal(c.hints.enabled, false) },
    { env: { HINTS: 'ON' }, check: (c) => assert.equal(c.hints.enabled, true) },
    { env: { HINT_DONTNEED_THRESHOLD: '1GiB' }, check: (c) => assert.equal(c.hints.options.dontneedThreshold, 1024 * MiB) },
    { env: { HINT_PREFETCH_BYTES: '0' }, check: (c) => assert.equal(c.hints.options.prefetchBytes, 0) },
    { env: { HINT_SMALL_RANGE_BYTES: '64k' }, check: (c) => assert.equal(c.hints.options.smallRangeBytes, 65536) },
    { env: { HINT_PREFETCH_CHUNK_BYTES: '2m' }, check: (c) => assert.equal(c.hints.options.prefetchChunkBytes, 2 * MiB) },
    { env: { HINT_DONTNEED_BATCH_BYTES: '16777216' }, check: (c) => assert.equal(c.hints.options.dontneedBatchBytes, 16 * MiB) },
    { env: { IO_PRIORITY: 'idle' }, check: (c) => assert.deepEqual(c.ioPriority, { cls: 'idle', level: 0 }) },
    { env: { IO_PRIORITY: 'be' }, check: (c) => assert.deepEqual(c.ioPriority, { cls: 'be', level: 4 }) },
    { env: { IO_PRIORITY: 'be:7' }, check: (c) => assert.deepEqual(c.ioPriority, { cls: 'be', level: 7 }) },
    { env: { IO_PRIORITY: 'none' }, check: (c) => assert.deepEqual(c.ioPriority, { cls: 'none', level: 0 }) },
    { env: { IO_PRIORITY: 'off' }, check: (c) => assert.equal(c.ioPriority, undefined) },
  ];
  for (const c of ok) {
    test(`accepts ${JSON.stringify(c.env)}`, () => c.check(loadConfig(c.env)));
  }

  const bad: { env: Record<string, string>; message: string }[] = [
    { env: { HINTS: 'maybe' }, message: 'invalid setting HINTS="maybe": expected on or off' },
    { env: { HINT_PREFETCH_BYTES: '8x' }, message: 'invalid setting HINT_PREFETCH_BYTES="8x": expected a byte size like 8388608 or 8MiB (k/KiB, m/MiB, g/GiB)' },
    { env: { HINT_PREFETCH_CHUNK_BYTES: '0' }, message: 'invalid setting HINT_PREFETCH_CHUNK_BYTES="0": expected at least 4096 bytes' },
    { env: { IO_PRIORITY: 'fast' }, message: 'invalid setting IO_PRIORITY="fast": class "fast" is unknown; expected none, idle, be or rt (or off)' },
    { env: { IO_PRIORITY: 'be:9' }, message: 'invalid setting IO_PRIORITY="be:9": level "9" is invalid; expected an integer 0 (highest) to 7 (lowest) (or off)' },
    { env: { IO_PRIORITY: 'idle:3' }, message: 'invalid setting IO_PRIORITY="idle:3": class "idle" takes no level (got "idle:3") (or off)' },
  ];
  for (const c of bad) {
    test(`refuses ${JSON.stringify(c.env)} with one line naming the variable`, () => {
      assert.throws(() => loadConfig(c.env), (err: unknown) => err instanceof ConfigError && err.message === c.message);
    });
  }
});
