/**
 * Hints through the volume gate (app/engines/gated-file.ts), with fake kernel
 * operations the test settles: a hint goes only when a slot stays free for the
 * read, never makes a read wait, and the fd is never closed under a hint.
 * Also the status table of app/native/hint-status.ts.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { BodyPiece } from '../../app/core/types';
import { openGatedFile, reportSent, type Gates, type RawFileOps } from '../../app/engines/gated-file';
import type { NativeAddon } from '../../app/native/addon';
import { DEFAULT_HINT_OPTIONS, type Hint } from '../../app/native/hint-policy';
import { hintStatus } from '../../app/native/hint-status';
import { Volume, type GateLimits, type VolumeObserver } from '../../app/volumes';

const MiB = 1024 * 1024;
const SIZE = 128 * MiB;
const quiet: VolumeObserver = { opDone: () => undefined, timedOut: () => undefined, rejected: () => undefined, stateChanged: () => undefined };
const limits = (maxInflight: number): GateLimits => ({ maxInflight, maxQueue: 16, timeoutMs: 5_000, errorLimit: 3, errorWindowMs: 60_000 });
const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

interface Harness {
  readonly volume: Volume;
  readonly events: string[];
  readonly advised: Hint[][];
  /** Settles every advise call made so far. */
  settleHints(): void;
  open(): ReturnType<typeof openGatedFile>;
}

function harness(maxInflight: number, holdHints: boolean, carry = false): Harness {
  const volume = new Volume('0:1', 1, '.', '/srv', limits(maxInflight), quiet);
  const gates: Gates = { run: (_p, op, fn, opts) => volume.run(op, fn, opts), volumeOf: () => volume };
  const events: string[] = [];
  const advised: Hint[][] = [];
  const waiting: (() => void)[] = [];
  const ops: RawFileOps = {
    read: (_fd, position, length) => {
      events.push(`read ${position / MiB}`);
      return Promise.resolve(Buffer.alloc(Math.min(length, SIZE - position)));
    },
    close: () => {
      events.push('close');
      return Promise.resolve();
    },
    ...(carry
      ? {
          readWithHints: (_fd: number, position: number, length: number, hints: readonly Hint[]) => {
            events.push(`read ${position / MiB} with ${hints.map((x) => x.advice).join('+')}`);
            return Promise.resolve(Buffer.alloc(Math.min(length, SIZE - position)));
          },
        }
      : {}),
    hints: {
      options: DEFAULT_HINT_OPTIONS,
      advise: (_fd, batch) => {
        events.push('advise');
        advised.push([...batch]);
        return holdHints ? new Promise<void>((r) => waiting.push(r)) : Promise.resolve();
      },
    },
  };
  return {
    volume,
    events,
    advised,
    settleHints: () => {
      for (const r of waiting.splice(0)) r();
    },
    open: () => openGatedFile('/srv/f', gates, () => Promise.resolve({ fd: 42, meta: { size: SIZE, mtimeNs: 1n }, dev: 1 }), ops, MiB),
  };
}

const whole: BodyPiece[] = [{ kind: 'file', start: 0, end: SIZE - 1 }];

describe('hints through the volume gate', () => {
  test('free volume: open-time hints go with the first read; the last DONTNEED goes before close', async () => {
    const h = harness(4, false);
    const f = await h.open();
    await f.prefetch(whole);
    assert.deepEqual(h.events.slice(0, 2), ['advise', 'read 0']);
    assert.equal(h.advised[0]![0]!.advice, 'sequential');
    for (let pos = 0; pos < SIZE; pos += MiB) await f.reader.read(42, pos, MiB);
    await f.close();
    await tick();
    await tick();
    assert.equal(h.events[h.events.length - 1], 'close');
    const last = h.advised[h.advised.length - 1]!;
    assert.deepEqual(last[last.length - 1], { advice: 'dontneed', offset: last[last.length - 1]!.offset, length: 0 });
    const dropped = h.advised.flat().filter((x) => x.advice === 'dontneed');
    assert.equal(dropped[0]!.offset, 0, 'DONTNEED starts behind the reader at 0');
  });

  test('one slot left: the hint is deferred, the read starts at once', async () => {
    const h = harness(2, false);
    let release!: () => void;
    const busy = h.volume.run('read', () => new Promise<void>((r) => (release = r))); // holds one slot
    const f = await h.open();
    // open took the slot and gave it back; now exactly one is free
    await f.prefetch(whole);
    assert.deepEqual(h.events, ['read 0'], 'no hint while only the read\'s slot is free');
    release();
    await busy;
    await f.reader.read(42, MiB, MiB); // two slots free again: the deferred hints go with this read
    assert.equal(h.events[1], 'read 1');
    assert.equal(h.events[2], 'advise');
    await f.close();
  });

  test('hints hold at most half the slots of a volume (a slow WILLNEED cannot crowd out reads)', async () => {
    const h = harness(4, true);
    const files = [await h.open(), await h.open(), await h.open()];
    for (const f of files) await f.prefetch(whole);
    assert.equal(h.advised.length, 2, 'the third file\'s hints wait');
    assert.equal(h.events.filter((e) => e.startsWith('read')).length, 3, 'every read ran at once');
    h.settleHints();
    for (const f of files) await f.close();
    for (let i = 0; i < 10; i++) {
      await tick();
      h.settleHints();
    }
  });

  test('a send path that bypasses the reader (zero-copy) reports what it sent: DONTNEED follows', async () => {
    const h = harness(4, false);
    const f = await h.open();
    await f.prefetch(whole);
    reportSent(f.reader, 0, SIZE); // the whole body went out by sendfile
    await f.close();
    for (let i = 0; i < 5; i++) await tick();
    const dropped = h.advised.flat().filter((x) => x.advice === 'dontneed');
    assert.deepEqual(dropped, [{ advice: 'dontneed', offset: 0, length: 0 }], 'the whole file, to EOF');
    assert.equal(h.events[h.events.length - 1], 'close');
    reportSent({ read: () => Promise.resolve(Buffer.alloc(0)) }, 0, 1); // any other reader: nothing happens
  });

  test('worker engine (readWithHints): a small range is one task, its hints run just before the read', async () => {
    const h = harness(4, false, true);
    const f = await h.open();
    await f.prefetch([{ kind: 'file', start: 4096, end: 8191 }]);
    await f.close();
    for (let i = 0; i < 5; i++) await tick();
    assert.deepEqual(h.events, ['read 0.00390625 with random+willneed', 'close']);
  });

  test('worker engine (readWithHints): a whole file carries SEQUENTIAL; the prefetch window is its own batch', async () => {
    const h = harness(4, false, true);
    const f = await h.open();
    await f.prefetch(whole);
    for (let i = 0; i < 3; i++) await tick();
    assert.deepEqual(h.events, ['read 0 with sequential', 'advise']);
    assert.deepEqual(h.advised[0]!.map((x) => x.advice), Array(8).fill('willneed'));
    await f.close();
  });

  test('VOLUME_MAX_INFLIGHT=1: no hint is ever sent', async () => {
    const h = harness(1, false);
    const f = await h.open();
    await f.prefetch(whole);
    for (let pos = MiB; pos < 32 * MiB; pos += MiB) await f.reader.read(42, pos, MiB);
    await f.close();
    assert.equal(h.advised.length, 0);
  });

  test('the fd is closed only after the hint running on it returned', async () => {
    const h = harness(4, true);
    const f = await h.open();
    await f.prefetch(whole); // the read does not wait for the held hint
    assert.deepEqual(h.events, ['advise', 'read 0']);
    await f.close();
    await tick();
    assert.ok(!h.events.includes('close'), 'not closed under a running hint');
    h.settleHints();
    for (let i = 0; i < 5; i++) await tick();
    h.settleHints(); // the last batch, sent on close
    for (let i = 0; i < 5; i++) await tick();
    assert.equal(h.events[h.events.length - 1], 'close');
  });
});

describe('hintStatus', () => {
  const built = { addon: { fadviseAsync: () => Promise.resolve() } as unknown as NativeAddon, hints: { active: true, reason: 'loaded x.node' } };
  const old = { addon: {} as unknown as NativeAddon, hints: { active: true, reason: 'loaded x.node' } };
  const off = { addon: undefined, hints: { active: false, reason: 'disabled by RANGESERVE_ADDON=off' } };
  const cases = [
    { name: 'addon off wins over HINTS', enabled: true, engine: 'stream', loaded: off, want: off.hints },
    { name: 'HINTS=off', enabled: false, engine: 'worker', loaded: built, want: { active: false, reason: 'disabled by HINTS=off' } },
    { name: 'stream engine, old addon without fadviseAsync', enabled: true, engine: 'stream', loaded: old, want: { active: false, reason: 'native addon lacks fadviseAsync (an old build: run `node native/build.js`)' } },
    { name: 'worker engine does not need fadviseAsync', enabled: true, engine: 'worker', loaded: old, want: old.hints },
    { name: 'active', enabled: true, engine: 'stream', loaded: built, want: built.hints },
  ] as const;
  for (const c of cases) {
    test(c.name, () => assert.deepEqual(hintStatus({ enabled: c.enabled }, c.engine, c.loaded), c.want));
  }
});
