/**
 * The per-file hint driver (app/engines/file-hints.ts) with a fake sender:
 * which hints a body gets at open, and the best-effort rules (one batch in
 * flight, a busy volume defers, stale WILLNEEDs are dropped, the final DONTNEED
 * goes before close, nothing after).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { BodyPiece } from '../../app/core/types';
import { FileHints, trackersFor, type HintOutcome, type HintSender } from '../../app/engines/file-hints';
import { DEFAULT_HINT_OPTIONS, type Hint } from '../../app/native/hint-policy';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const span = (start: number, end: number): BodyPiece => ({ kind: 'file', start, end }) as BodyPiece;
const bytes = (data: string): BodyPiece => ({ kind: 'bytes', data }) as BodyPiece;

describe('trackersFor: hints at open', () => {
  const o = DEFAULT_HINT_OPTIONS;
  const cases: { name: string; body: BodyPiece[]; size: number; fdWide: string | undefined; willneed: number }[] = [
    { name: 'whole file: SEQUENTIAL + 8 WILLNEED chunks', body: [span(0, GiB - 1)], size: GiB, fdWide: 'sequential', willneed: 8 },
    { name: 'resume bytes=N- : SEQUENTIAL', body: [span(500 * MiB, GiB - 1)], size: GiB, fdWide: 'sequential', willneed: 8 },
    { name: 'small tail (a player reading an index): RANDOM', body: [span(GiB - 4096, GiB - 1)], size: GiB, fdWide: 'random', willneed: 1 },
    { name: 'small bounded range: RANDOM + one WILLNEED', body: [span(4096, 8191)], size: GiB, fdWide: 'random', willneed: 1 },
    { name: 'large bounded range: no fd-wide hint', body: [span(0, 100 * MiB)], size: GiB, fdWide: undefined, willneed: 8 },
    { name: 'multipart, all small: one RANDOM', body: [bytes('--b\r\n'), span(0, 99), bytes('--b\r\n'), span(5000, 5099)], size: GiB, fdWide: 'random', willneed: 2 },
    { name: 'multipart, one large: no RANDOM', body: [span(0, 99), span(MiB, 50 * MiB)], size: GiB, fdWide: undefined, willneed: 9 },
    { name: 'empty file: nothing', body: [], size: 0, fdWide: undefined, willneed: 0 },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const { atOpen } = trackersFor(c.body, c.size, o);
      const fdWide = atOpen.filter((h) => h.advice !== 'willneed' && h.advice !== 'dontneed');
      assert.deepEqual(fdWide.map((h) => h.advice), c.fdWide ? [c.fdWide] : []);
      if (c.fdWide) assert.equal(atOpen[0]?.advice, c.fdWide, 'fd-wide advice comes first');
      assert.equal(atOpen.filter((h) => h.advice === 'willneed').length, c.willneed);
    });
  }
});

/** A sender whose batches the test settles by hand. */
function fakeSender(): { send: HintSender; sent: Hint[][]; settle: () => void; state: { busy: boolean; closed: boolean } } {
  const sent: Hint[][] = [];
  const waiting: (() => void)[] = [];
  const state = { busy: false, closed: false };
  return {
    sent,
    state,
    send: (batch) => {
      if (state.closed) return 'closed';
      if (state.busy) return 'busy';
      sent.push([...batch]);
      return new Promise<void>((resolve) => waiting.push(resolve));
    },
    settle: () => {
      for (const r of waiting.splice(0)) r();
    },
  };
}

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('FileHints: best-effort rules', () => {
  const size = 256 * MiB;
  const body = [span(0, size - 1)];

  test('one batch in flight; what arises meanwhile goes with the next', async () => {
    const f = fakeSender();
    const h = new FileHints({ options: DEFAULT_HINT_OPTIONS, send: f.send });
    h.start(body, size);
    assert.equal(f.sent.length, 1);
    for (let pos = 0; pos < 20 * MiB; pos += MiB) h.afterRead(pos, MiB);
    assert.equal(f.sent.length, 1, 'nothing more while the first batch runs');
    f.settle();
    await tick();
    assert.equal(f.sent.length, 2);
    assert.ok(f.sent[1]!.some((x) => x.advice === 'dontneed' && x.offset === 0), 'the queued DONTNEED behind the reader went');
  });

  test('busy volume: deferred, stale WILLNEEDs dropped, sent with a later read', async () => {
    const f = fakeSender();
    const counts: Record<string, number> = {};
    const h = new FileHints({ options: DEFAULT_HINT_OPTIONS, send: f.send, count: (o: HintOutcome, n) => (counts[o] = (counts[o] ?? 0) + n) });
    f.state.busy = true;
    h.start(body, size);
    assert.equal(f.sent.length, 0);
    assert.ok((counts['deferred'] ?? 0) > 0);
    h.afterRead(0, 5 * MiB); // the reader passed the first 5 WILLNEED chunks
    f.state.busy = false;
    h.afterRead(5 * MiB, MiB);
    assert.equal(f.sent.length, 1);
    assert.ok(f.sent[0]!.every((x) => x.advice !== 'willneed' || x.offset + x.length > 6 * MiB), 'no WILLNEED behind the reader');
    assert.ok((counts['dropped'] ?? 0) >= 5);
  });

  test('drain: the final DONTNEED goes before close, then nothing more', async () => {
    const f = fakeSender();
    const h = new FileHints({ options: DEFAULT_HINT_OPTIONS, send: f.send });
    h.start(body, size);
    for (let pos = 0; pos < size; pos += MiB) h.afterRead(pos, MiB); // read to the end while batch 1 runs
    const drained = h.drain();
    assert.ok(drained, 'close must wait for the batch in flight');
    let done = false;
    void drained.then(() => (done = true));
    f.settle();
    await tick();
    assert.equal(done, false, 'the final batch is still running');
    const last = f.sent[f.sent.length - 1]!;
    assert.deepEqual(last[last.length - 1], { advice: 'dontneed', offset: last[last.length - 1]!.offset, length: 0 }, 'the rest, to EOF');
    f.settle();
    await tick();
    assert.equal(done, true);
    const before = f.sent.length;
    h.afterRead(0, MiB);
    h.start(body, size);
    assert.equal(f.sent.length, before, 'no hint after drain');
  });

  test('a failed batch is counted and forgotten', async () => {
    const counts: Record<string, number> = {};
    const h = new FileHints({
      options: DEFAULT_HINT_OPTIONS,
      send: () => Promise.reject(Object.assign(new Error('EBADF'), { code: 'EBADF' })),
      count: (o, n) => (counts[o] = (counts[o] ?? 0) + n),
    });
    h.start(body, size);
    await tick();
    assert.ok((counts['failed'] ?? 0) > 0);
    assert.equal(h.drain(), undefined);
  });
});
