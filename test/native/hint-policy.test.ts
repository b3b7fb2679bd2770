// Unit tests for the pure hint policy (app/native/hint-policy.ts), issue 5 part 3.
import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';

import {
  DEFAULT_HINT_OPTIONS,
  HintTracker,
  afterRead,
  initialCursor,
  parseByteSize,
  parseHintEnv,
  planHints,
  type Hint,
  type HintOptions,
} from '../../app/native/hint-policy';

const KiB = 1024;
const MiB = 1024 * KiB;

/** readAll simulates a reader consuming [start, end] in `step`-byte reads and collects every hint. */
function readAll(tracker: HintTracker, step: number): Hint[] {
  const hints: Hint[] = [...tracker.atOpen()];
  const { start, endExclusive } = tracker.plan;
  for (let pos = start; pos < endExclusive; ) {
    pos = Math.min(pos + step, endExclusive);
    hints.push(...tracker.afterRead(pos));
  }
  return hints;
}

function of(hints: readonly Hint[], advice: Hint['advice']): Hint[] {
  return hints.filter((h) => h.advice === advice);
}

/** covered returns the union length of the hints' [offset, offset+length) (length 0 = to `size`). */
function covered(hints: readonly Hint[], size: number): number {
  const spans = hints
    .map((h) => [h.offset, h.length === 0 ? size : h.offset + h.length] as const)
    .sort((a, b) => a[0] - b[0]);
  let total = 0;
  let reach = 0;
  for (const [from, to] of spans) {
    const s = Math.max(from, reach);
    if (to > s) total += to - s;
    reach = Math.max(reach, to);
  }
  return total;
}

describe('planHints: open-time hints', () => {
  const cases: ReadonlyArray<{
    name: string;
    req: { size: number; start: number; end: number; wholeOrOpenEnded: boolean };
    pattern: string;
    atOpen: readonly Hint[];
  }> = [
    {
      name: 'whole small file: sequential, prefetch the whole file',
      req: { size: 10_000, start: 0, end: 9_999, wholeOrOpenEnded: true },
      pattern: 'sequential',
      atOpen: [
        { advice: 'sequential', offset: 0, length: 0 },
        { advice: 'willneed', offset: 0, length: 10_000 },
      ],
    },
    {
      name: 'open-ended resume bytes=100- of 10 000 bytes: sequential even though short',
      req: { size: 10_000, start: 100, end: 9_999, wholeOrOpenEnded: true },
      pattern: 'sequential',
      atOpen: [
        { advice: 'sequential', offset: 0, length: 0 },
        { advice: 'willneed', offset: 100, length: 9_900 },
      ],
    },
    {
      name: 'small range bytes=1000-1999: random (no readahead) + willneed exactly the range',
      req: { size: 100 * MiB, start: 1000, end: 1999, wholeOrOpenEnded: false },
      pattern: 'random',
      atOpen: [
        { advice: 'random', offset: 0, length: 0 },
        { advice: 'willneed', offset: 1000, length: 1000 },
      ],
    },
    {
      name: 'range of exactly smallRangeBytes is small',
      req: { size: 1 * MiB, start: 0, end: 256 * KiB - 1, wholeOrOpenEnded: false },
      pattern: 'random',
      atOpen: [
        { advice: 'random', offset: 0, length: 0 },
        { advice: 'willneed', offset: 0, length: 256 * KiB },
      ],
    },
    {
      name: 'bounded range one byte over smallRangeBytes: normal, chunked willneed',
      req: { size: 1 * MiB, start: 0, end: 256 * KiB, wholeOrOpenEnded: false },
      pattern: 'normal',
      atOpen: [{ advice: 'willneed', offset: 0, length: 256 * KiB + 1 }],
    },
    {
      name: 'large bounded range: first 8 MiB prefetched in 1 MiB chunks, no fd-wide hint',
      req: { size: 1024 * MiB, start: 5 * MiB, end: 105 * MiB - 1, wholeOrOpenEnded: false },
      pattern: 'normal',
      atOpen: Array.from({ length: 8 }, (_, i) => ({ advice: 'willneed' as const, offset: (5 + i) * MiB, length: MiB })),
    },
    {
      name: 'empty file: no hints',
      req: { size: 0, start: 0, end: 0, wholeOrOpenEnded: true },
      pattern: 'none',
      atOpen: [],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const plan = planHints(c.req);
      assert.equal(plan.pattern, c.pattern);
      assert.deepEqual(plan.atOpen, c.atOpen);
    });
  }

  it('range outside the file throws RangeError', () => {
    assert.throws(() => planHints({ size: 10, start: 5, end: 10, wholeOrOpenEnded: false }), RangeError);
    assert.throws(() => planHints({ size: 10, start: 6, end: 5, wholeOrOpenEnded: false }), RangeError);
    assert.throws(() => planHints({ size: 10, start: 0.5, end: 5, wholeOrOpenEnded: false }), RangeError);
  });

  it('prefetchBytes 0 turns prefetch off but keeps the fd-wide hint', () => {
    const plan = planHints({ size: 100 * MiB, start: 0, end: 100 * MiB - 1, wholeOrOpenEnded: true }, { prefetchBytes: 0 });
    assert.deepEqual(plan.atOpen, [{ advice: 'sequential', offset: 0, length: 0 }]);
    assert.equal(plan.prefetch, false);
  });
});

describe('afterRead: willneed ahead of the reader', () => {
  it('tops up only when less than half the window is left, never past the range', () => {
    const size = 32 * MiB;
    const plan = planHints({ size, start: 0, end: size - 1, wholeOrOpenEnded: true });
    let cursor = initialCursor(plan);
    assert.equal(cursor.prefetchedUpTo, 8 * MiB);

    let step = afterRead(plan, cursor, 3 * MiB); // 5 MiB still ahead: nothing
    assert.deepEqual(step.hints, []);
    cursor = step.cursor;

    step = afterRead(plan, cursor, 4 * MiB + 1); // < 4 MiB ahead: top up to 12 MiB + 1
    assert.deepEqual(of(step.hints, 'willneed'), [
      { advice: 'willneed', offset: 8 * MiB, length: MiB },
      { advice: 'willneed', offset: 9 * MiB, length: MiB },
      { advice: 'willneed', offset: 10 * MiB, length: MiB },
      { advice: 'willneed', offset: 11 * MiB, length: MiB },
      { advice: 'willneed', offset: 12 * MiB, length: 1 },
    ]);
    cursor = step.cursor;
    assert.equal(cursor.prefetchedUpTo, 12 * MiB + 1);

    step = afterRead(plan, cursor, 30 * MiB); // reader jumped past the prefetched region
    assert.deepEqual(of(step.hints, 'willneed'), [
      { advice: 'willneed', offset: 30 * MiB, length: MiB },
      { advice: 'willneed', offset: 31 * MiB, length: MiB },
    ]);
    assert.equal(step.cursor.prefetchedUpTo, size);
    assert.deepEqual(afterRead(plan, step.cursor, 31 * MiB).hints, []);
  });

  it('a full sequential read prefetches every byte of the range exactly once', () => {
    const size = 50 * MiB + 123;
    const tracker = new HintTracker({ size, start: 7, end: size - 1, wholeOrOpenEnded: true });
    const willneed = of(readAll(tracker, 64 * KiB), 'willneed');
    const total = willneed.reduce((n, h) => n + h.length, 0);
    assert.equal(total, size - 7);
    assert.equal(covered(willneed, size), size - 7);
    assert.ok(willneed.every((h) => h.length <= DEFAULT_HINT_OPTIONS.prefetchChunkBytes && h.length > 0));
  });

  it('small ranges get no hints after open', () => {
    const tracker = new HintTracker({ size: 1024 * MiB, start: 500, end: 10_499, wholeOrOpenEnded: false });
    assert.deepEqual(readAll(tracker, 4096).slice(2), []);
  });
});

describe('afterRead: dontneed behind the reader', () => {
  it('file at the threshold (64 MiB) keeps its pages', () => {
    const size = 64 * MiB;
    const tracker = new HintTracker({ size, start: 0, end: size - 1, wholeOrOpenEnded: true });
    assert.deepEqual(of(readAll(tracker, MiB), 'dontneed'), []);
  });

  it('file over the threshold drops page-aligned 8 MiB batches, then the rest to EOF', () => {
    const size = 64 * MiB + 1;
    const tracker = new HintTracker({ size, start: 0, end: size - 1, wholeOrOpenEnded: true });
    const dontneed = of(readAll(tracker, 3 * MiB), 'dontneed');
    // Reads end at 3, 6, 9, ... MiB: a batch fires at 9, 18 (>= 8 MiB since the last), ...
    assert.deepEqual(dontneed.slice(0, 2), [
      { advice: 'dontneed', offset: 0, length: 9 * MiB },
      { advice: 'dontneed', offset: 9 * MiB, length: 9 * MiB },
    ]);
    const last = dontneed[dontneed.length - 1];
    assert.deepEqual(last, { advice: 'dontneed', offset: 63 * MiB, length: 0 });
    assert.equal(covered(dontneed, size), size);
    assert.ok(dontneed.every((h) => h.offset % 4096 === 0));
    assert.equal(tracker.cursor.done, true);
    assert.deepEqual(tracker.afterRead(size), []);
  });

  it('unaligned reads never drop a page the reader is still in', () => {
    const size = 200 * MiB;
    const tracker = new HintTracker({ size, start: 1000, end: size - 1, wholeOrOpenEnded: true });
    let pos = 1000;
    while (pos < 100 * MiB) {
      pos += 65_537;
      for (const h of tracker.afterRead(pos)) {
        if (h.advice !== 'dontneed') continue;
        assert.equal(h.offset % 4096, 0);
        assert.ok(h.offset + h.length <= pos - (pos % 4096), `dropped past the reader at ${pos}`);
      }
    }
  });

  it('bounded range ending mid-file drops only up to the range end', () => {
    const size = 1024 * MiB;
    const tracker = new HintTracker({ size, start: 100 * MiB, end: 120 * MiB - 1, wholeOrOpenEnded: false });
    const dontneed = of(readAll(tracker, 5 * MiB), 'dontneed');
    assert.deepEqual(dontneed, [
      { advice: 'dontneed', offset: 100 * MiB, length: 10 * MiB },
      { advice: 'dontneed', offset: 110 * MiB, length: 10 * MiB },
    ]);
  });

  it('an abandoned read drops nothing ahead of the reader', () => {
    const size = 512 * MiB;
    const tracker = new HintTracker({ size, start: 0, end: size - 1, wholeOrOpenEnded: true });
    const hints = [...tracker.atOpen(), ...tracker.afterRead(20 * MiB)];
    for (const h of of(hints, 'dontneed')) assert.ok(h.length > 0 && h.offset + h.length <= 20 * MiB);
  });

  it('small ranges of huge files are never dropped', () => {
    const tracker = new HintTracker({ size: 4096 * MiB, start: 0, end: 100 * KiB, wholeOrOpenEnded: false });
    assert.deepEqual(of(readAll(tracker, 16 * KiB), 'dontneed'), []);
  });

  it('custom threshold and batch size apply', () => {
    const opts: Partial<HintOptions> = { dontneedThreshold: MiB, dontneedBatchBytes: MiB, prefetchBytes: 0 };
    const tracker = new HintTracker({ size: 2 * MiB, start: 0, end: 2 * MiB - 1, wholeOrOpenEnded: true }, opts);
    assert.deepEqual(readAll(tracker, MiB), [
      { advice: 'sequential', offset: 0, length: 0 },
      { advice: 'dontneed', offset: 0, length: MiB },
      { advice: 'dontneed', offset: MiB, length: 0 },
    ]);
  });
});

describe('parseHintEnv / parseByteSize', () => {
  it('defaults when nothing is set', () => {
    assert.deepEqual(parseHintEnv({}), { ok: true, value: { enabled: true, options: DEFAULT_HINT_OPTIONS } });
  });
  it('HINTS=off and sizes with units', () => {
    const r = parseHintEnv({ HINTS: 'off', HINT_PREFETCH_BYTES: '4MiB', HINT_SMALL_RANGE_BYTES: '128k', HINT_DONTNEED_THRESHOLD: '1g' });
    assert.ok(r.ok);
    assert.equal(r.value.enabled, false);
    assert.equal(r.value.options.prefetchBytes, 4 * MiB);
    assert.equal(r.value.options.smallRangeBytes, 128 * KiB);
    assert.equal(r.value.options.dontneedThreshold, 1024 * MiB);
  });
  it('bad values name the variable', () => {
    assert.deepEqual(parseHintEnv({ HINTS: 'maybe' }), { ok: false, error: 'HINTS "maybe" is invalid; expected on or off' });
    const r = parseHintEnv({ HINT_PREFETCH_BYTES: '-1' });
    assert.ok(!r.ok && /^HINT_PREFETCH_BYTES "-1"/.test(r.error));
    const z = parseHintEnv({ HINT_PREFETCH_CHUNK_BYTES: '0' });
    assert.ok(!z.ok && /HINT_PREFETCH_CHUNK_BYTES must be positive/.test(z.error));
  });
  it('parseByteSize', () => {
    assert.equal(parseByteSize('262144'), 262144);
    assert.equal(parseByteSize(' 8 MiB '), 8 * MiB);
    assert.equal(parseByteSize('1.5M'), undefined);
    assert.equal(parseByteSize('8MB'), undefined);
    assert.equal(parseByteSize('99999999999999999999'), undefined);
  });
});
