/**
 * parseRange: the checklist's Range rows (8-32) at the parser level, the
 * pinned policies, and a differential test against the `range-parser` package
 * that documents where it departs from RFC 9110 (decision 11) and why this
 * project parses Range itself.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import rangeParser = require('range-parser');
import { MAX_RANGE_SPECS, coalesceSpans, parseRange, type RangeResult } from '../../app/core/range';

const SIZE = 10_000;
const MAX = 16;

const ranges = (...spans: [number, number][]): RangeResult => ({
  kind: 'ranges',
  ranges: spans.map(([start, end]) => ({ start, end })),
});
const UNSAT: RangeResult = { kind: 'unsatisfiable' };
const ignore = (reason: Extract<RangeResult, { kind: 'ignore' }>['reason']): RangeResult => ({ kind: 'ignore', reason });

interface Row {
  readonly name: string;
  readonly header: string | undefined;
  readonly want: RangeResult;
  readonly size?: number;
  readonly max?: number;
}

const ROWS: Row[] = [
  { name: 'absent header is ignored', header: undefined, want: ignore('absent') },
  { name: 'row 7: bytes=0-499', header: 'bytes=0-499', want: ranges([0, 499]) },
  { name: 'row 8: bytes=9500-', header: 'bytes=9500-', want: ranges([9500, 9999]) },
  { name: 'row 8: bytes=-500', header: 'bytes=-500', want: ranges([9500, 9999]) },
  { name: 'row 9: bytes=0-0', header: 'bytes=0-0', want: ranges([0, 0]) },
  { name: 'row 9: bytes=9999-9999', header: 'bytes=9999-9999', want: ranges([9999, 9999]) },
  { name: 'row 9: bytes=-1', header: 'bytes=-1', want: ranges([9999, 9999]) },
  { name: 'row 10: bytes=0- is the whole file as a range', header: 'bytes=0-', want: ranges([0, 9999]) },
  { name: 'row 11: last-pos past the end is clipped', header: 'bytes=9000-20000', want: ranges([9000, 9999]) },
  { name: 'row 12: suffix longer than file selects whole file', header: 'bytes=-20000', want: ranges([0, 9999]) },
  { name: 'row 12: suffix equal to the file size selects whole file', header: 'bytes=-10000', want: ranges([0, 9999]) },
  { name: 'row 13: first-pos at the size is unsatisfiable', header: 'bytes=10000-', want: UNSAT },
  { name: 'row 13: bytes=10000-10005 is unsatisfiable', header: 'bytes=10000-10005', want: UNSAT },
  { name: 'row 14: bytes=-0 is unsatisfiable', header: 'bytes=-0', want: UNSAT },
  { name: 'row 14: bytes=-000 is unsatisfiable too', header: 'bytes=-000', want: UNSAT },
  { name: 'row 15: empty file ignores bytes=0-', header: 'bytes=0-', size: 0, want: ignore('empty-file') },
  { name: 'row 15: empty file ignores bytes=-5', header: 'bytes=-5', size: 0, want: ignore('empty-file') },
  { name: 'row 15: empty file ignores bytes=-0', header: 'bytes=-0', size: 0, want: ignore('empty-file') },
  { name: 'row 16: leading zeros are legal', header: 'bytes=0000-0009', want: ranges([0, 9]) },
  { name: 'row 17: a 23-digit last-pos clips to the end', header: 'bytes=0-99999999999999999999999', want: ranges([0, 9999]) },
  { name: 'row 17: a 23-digit first-pos is unsatisfiable', header: 'bytes=99999999999999999999999-', want: UNSAT },
  { name: 'row 17: 2^53 + 1 is unsatisfiable, not rounded', header: 'bytes=9007199254740993-', want: UNSAT },
  { name: 'row 17: 2^53 + 1 as first-pos on a 2^53-byte file is unsatisfiable', header: 'bytes=9007199254740993-', size: 2 ** 53, want: UNSAT },
  { name: 'row 17: 2^53 - 1 on a 2^53-byte file is its last byte', header: 'bytes=9007199254740991-', size: 2 ** 53, want: ranges([2 ** 53 - 1, 2 ** 53 - 1]) },
  { name: 'row 17: a huge suffix-length is the whole file', header: 'bytes=-99999999999999999999999', want: ranges([0, 9999]) },
  { name: 'row 17: huge first-pos with smaller huge last-pos is invalid', header: 'bytes=99999999999999999999999-9999999999999999999999', want: ignore('syntax') },
  { name: 'row 17: leading zeros do not make a number bigger', header: 'bytes=000000000000000000000000005-0000000000000000000000000009', want: ranges([5, 9]) },
  { name: 'row 18: 5 GiB file tail', header: 'bytes=5368709000-', size: 5_368_709_120, want: ranges([5_368_709_000, 5_368_709_119]) },
  { name: 'row 19: Bytes=0-4', header: 'Bytes=0-4', want: ranges([0, 4]) },
  { name: 'row 19: BYTES=0-4', header: 'BYTES=0-4', want: ranges([0, 4]) },
  { name: 'row 20: OWS after = and around commas', header: 'bytes= 0-4, 10-14', want: ranges([0, 4], [10, 14]) },
  { name: 'row 20: tabs count as OWS around commas', header: 'bytes=\t0-4\t,\t10-14\t', want: ranges([0, 4], [10, 14]) },
  { name: 'row 21: empty list elements are skipped', header: 'bytes=0-4,,10-14,', want: ranges([0, 4], [10, 14]) },
  { name: 'row 21: leading empty elements are skipped', header: 'bytes=, ,0-4', want: ranges([0, 4]) },
  { name: 'row 22: unknown unit is ignored', header: 'items=0-4', want: ignore('unit') },
  { name: 'row 22: a unit that is not a token is invalid', header: 'by tes=0-4', want: ignore('syntax') },
  { name: 'row 22: OWS before = is invalid', header: 'bytes =0-4', want: ignore('syntax') },
  { name: 'row 22: no = at all is invalid', header: 'bytes', want: ignore('syntax') },
  { name: 'row 22: an empty header is invalid', header: '', want: ignore('syntax') },
  ...['bytes=abc', 'bytes=5', 'bytes=--5', 'bytes=1-2-3', 'bytes=0x10-', 'bytes=+1-2', 'bytes=1e3-', 'bytes=', 'bytes=-', 'bytes=,', 'bytes=0-4,abc', 'bytes=0-4;x', 'bytes=١-٢'].map(
    (header): Row => ({ name: `row 23: ${JSON.stringify(header)} is invalid`, header, want: ignore('syntax') }),
  ),
  { name: 'row 24: last-pos below first-pos is invalid', header: 'bytes=500-400', want: ignore('syntax') },
  { name: 'row 24: one reversed spec invalidates the whole header', header: 'bytes=0-4,500-400', want: ignore('syntax') },
  { name: 'row 25: spaces inside an int-range are invalid (pinned policy)', header: 'bytes=0 - 4', want: ignore('syntax') },
  { name: 'row 25: a space before the dash is invalid', header: 'bytes=0 -4', want: ignore('syntax') },
  { name: 'row 25: a tab inside an int-range is invalid', header: 'bytes=0-\t4', want: ignore('syntax') },
  { name: 'row 25: a space inside a suffix-range is invalid', header: 'bytes=- 5', want: ignore('syntax') },
  { name: 'row 26: two Range lines joined by Node are still one header here (invalid)', header: 'bytes=0-1, bytes=5-6', want: ignore('syntax') },
  { name: 'row 29: request order is kept', header: 'bytes=100-149,0-49', want: ranges([100, 149], [0, 49]) },
  { name: 'row 30: overlapping ranges coalesce', header: 'bytes=0-99,50-149', want: ranges([0, 149]) },
  { name: 'row 30: adjacent ranges coalesce', header: 'bytes=0-49,50-99', want: ranges([0, 99]) },
  { name: 'row 30: a merged span takes its earliest member\'s place', header: 'bytes=500-599,10-19,0-9', want: ranges([500, 599], [0, 19]) },
  { name: 'row 30: contained ranges merge transitively', header: 'bytes=900-999,0-9,5-500,400-600,2000-2001', want: ranges([900, 999], [0, 600], [2000, 2001]) },
  { name: 'row 30: suffix and int ranges coalesce together', header: 'bytes=-100,9800-9899', want: ranges([9800, 9999]) },
  { name: 'row 31: unsatisfiable specs are dropped, the rest served', header: 'bytes=0-9,20000-20010', want: ranges([0, 9]) },
  { name: 'row 31: all specs unsatisfiable is 416', header: 'bytes=20000-,-0,10000-10001', want: UNSAT },
  { name: 'row 32: ranges summing past the size are ignored', header: 'bytes=' + Array(50).fill('0-').join(','), want: ignore('sum-exceeds-size') },
  { name: 'row 32: a sum exactly equal to the size is allowed', header: 'bytes=0-4999,5000-', want: ranges([0, 9999]) },
  { name: 'row 32: one byte over the size is ignored', header: 'bytes=0-4999,4999-', want: ignore('sum-exceeds-size') },
  { name: 'row 32: 200 ranges left after coalescing exceed the cap', header: 'bytes=' + Array.from({ length: 200 }, (_, i) => `${2 * i}-${2 * i}`).join(','), want: ignore('too-many-ranges') },
  { name: 'row 32: the cap counts ranges after coalescing', header: 'bytes=' + Array.from({ length: 200 }, (_, i) => `${i}-${i}`).join(','), want: ranges([0, 199]) },
  { name: 'row 32: maxRanges 1 refuses any multi-range', header: 'bytes=0-1,5-6', max: 1, want: ignore('too-many-ranges') },
  { name: 'row 27: more than MAX_RANGE_SPECS specs are ignored', header: 'bytes=' + '0-0,'.repeat(MAX_RANGE_SPECS + 1), want: ignore('too-many-specs') },
  { name: 'row 27: exactly MAX_RANGE_SPECS specs are still read', header: 'bytes=' + '0-0,'.repeat(MAX_RANGE_SPECS), want: ranges([0, 0]) },
  { name: 'row 27: empty elements do not count towards the spec limit', header: 'bytes=' + ','.repeat(50_000) + '0-0', want: ranges([0, 0]) },
];

for (const row of ROWS) {
  test(row.name, () => {
    assert.deepStrictEqual(parseRange(row.header, row.size ?? SIZE, row.max ?? MAX), row.want);
  });
}

test('row 27: a 10 000-spec header and a 2 MB header are parsed in bounded time', () => {
  const tenThousand = 'bytes=' + Array.from({ length: 10_000 }, (_, i) => `${i}-${i}`).join(',');
  const huge = 'bytes=' + '1-1, '.repeat(500_000);
  const started = process.hrtime.bigint();
  assert.deepStrictEqual(parseRange(tenThousand, SIZE, MAX), ignore('too-many-specs'));
  assert.deepStrictEqual(parseRange(huge, SIZE, MAX), ignore('too-many-specs'));
  const elapsedMs = Number(process.hrtime.bigint() - started) / 1e6;
  assert.ok(elapsedMs < 500, `took ${elapsedMs} ms`);
});

test('row 27: a long run of commas is linear, not quadratic', () => {
  const commas = 'bytes=' + ','.repeat(2_000_000) + '0-0';
  const started = process.hrtime.bigint();
  assert.deepStrictEqual(parseRange(commas, SIZE, MAX), ranges([0, 0]));
  const elapsedMs = Number(process.hrtime.bigint() - started) / 1e6;
  assert.ok(elapsedMs < 1000, `took ${elapsedMs} ms`);
});

test('coalesceSpans keeps request order by earliest member and handles duplicates', () => {
  assert.deepStrictEqual(
    coalesceSpans([
      { start: 50, end: 60 },
      { start: 0, end: 9 },
      { start: 50, end: 60 },
      { start: 61, end: 70 },
      { start: 10, end: 10 },
    ]),
    [
      { start: 50, end: 70 },
      { start: 0, end: 10 },
    ],
  );
  assert.deepStrictEqual(coalesceSpans([]), []);
});

/** Deterministic pseudo-random numbers (mulberry32) so the corpus is the same on every run. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Valid headers in the region where RFC 9110 and range-parser agree: lower-case
 * unit, no empty elements, no whitespace inside specs, last-pos >= first-pos,
 * suffix-length at most the size, no more ranges than the cap and a sum within
 * the size (range-parser has neither limit).
 */
const byStart = (a: { start: number }, b: { start: number }): number => a.start - b.start;

const FIXED_CORPUS = [
    'bytes=0-499',
    'bytes=9500-',
    'bytes=-500',
    'bytes=0-0',
    'bytes=-1',
    'bytes=0-',
    'bytes=9000-20000',
    'bytes=-10000',
    'bytes=10000-',
    'bytes=-0',
    'bytes=0000-0009',
    'bytes=0-99999999999999999999999',
    'bytes=0-49,100-149',
    'bytes=100-149,0-49',
    'bytes=0-99,50-149',
    'bytes=0-49,50-99',
    'bytes=0-9,20000-20010',
    'bytes=500-599,10-19,0-9',
    'bytes=0-4, 10-14',
];
const fixed = new Set(FIXED_CORPUS);

function agreementCorpus(): string[] {
  const rnd = prng(20240601);
  const int = (n: number): number => Math.floor(rnd() * n);
  const generated: string[] = [];
  while (generated.length < 2000) {
    const specs: string[] = [];
    const count = 1 + int(4);
    for (let i = 0; i < count; i++) {
      const form = int(3);
      const first = int(11_000);
      if (form === 0) specs.push(`${first}-${first + int(3000)}`);
      else if (form === 1) specs.push(`${first}-`);
      else specs.push(`-${int(SIZE + 1)}`);
    }
    generated.push('bytes=' + specs.join(','));
  }
  return [...FIXED_CORPUS, ...generated];
}

test('differential: range-parser (combine) and parseRange agree on valid RFC 9110 headers', () => {
  let compared = 0;
  for (const header of agreementCorpus()) {
    const ours = parseRange(header, SIZE, MAX);
    if (ours.kind === 'ignore' && (ours.reason === 'sum-exceeds-size' || ours.reason === 'too-many-ranges')) continue;
    const theirs = rangeParser(SIZE, header, { combine: true });
    if (theirs === -1) {
      assert.deepStrictEqual(ours, UNSAT, header);
    } else {
      assert.notEqual(theirs, -2, header);
      assert.ok(Array.isArray(theirs));
      assert.equal(theirs.type, 'bytes');
      assert.equal(ours.kind, 'ranges', header);
      const spans = ours.kind === 'ranges' ? [...ours.ranges] : [];
      const theirSpans = theirs.map(({ start, end }) => ({ start, end }));
      if (fixed.has(header)) {
        assert.deepStrictEqual(spans, theirSpans, header);
      } else {
        // Order may differ when a contained range was requested first: see the
        // "merged span order" divergence below.
        assert.deepStrictEqual(spans.sort(byStart), theirSpans.sort(byStart), header);
      }
    }
    compared += 1;
  }
  assert.ok(compared > 500, `only ${compared} headers compared`);
});

test('divergence: a merged span takes the place of its earliest member; range-parser forgets a contained earlier one', () => {
  const header = 'bytes=-2556,4612-6771,7209-';
  const theirs = rangeParser(SIZE, header, { combine: true });
  assert.ok(Array.isArray(theirs));
  assert.deepStrictEqual([...theirs].map(({ start, end }) => ({ start, end })), [
    { start: 4612, end: 6771 },
    { start: 7209, end: 9999 },
  ]);
  assert.deepStrictEqual(parseRange(header, SIZE, MAX), ranges([7209, 9999], [4612, 6771]));
});

test('divergence (decision 11): bytes=-20000 is unsatisfiable for range-parser, the whole file for RFC 9110 §14.1.2', () => {
  assert.equal(rangeParser(SIZE, 'bytes=-20000'), -1);
  assert.deepStrictEqual(parseRange('bytes=-20000', SIZE, MAX), ranges([0, 9999]));
});

test('divergence (decision 11): bytes=5-2 is unsatisfiable for range-parser, an invalid header to ignore for RFC 9110 §14.1.1', () => {
  assert.equal(rangeParser(SIZE, 'bytes=5-2'), -1);
  assert.deepStrictEqual(parseRange('bytes=5-2', SIZE, MAX), ignore('syntax'));
});

test('divergence (decision 11): bytes=0-1,,5-6 is malformed for range-parser, empty elements are allowed by §5.6.1.2', () => {
  assert.equal(rangeParser(SIZE, 'bytes=0-1,,5-6'), -2);
  assert.deepStrictEqual(parseRange('bytes=0-1,,5-6', SIZE, MAX), ranges([0, 1], [5, 6]));
});

test('divergence: range-parser reads whitespace inside an int-range, we pin it as invalid (row 25)', () => {
  const theirs = rangeParser(SIZE, 'bytes=0 - 4');
  assert.ok(Array.isArray(theirs));
  assert.deepStrictEqual([...theirs], [{ start: 0, end: 4 }]);
  assert.deepStrictEqual(parseRange('bytes=0 - 4', SIZE, MAX), ignore('syntax'));
});

test('divergence: range-parser keeps the unit as sent, so BYTES=0-4 is not "bytes" to its callers (row 19)', () => {
  const theirs = rangeParser(SIZE, 'BYTES=0-4');
  assert.ok(Array.isArray(theirs));
  assert.equal(theirs.type, 'BYTES');
  assert.deepStrictEqual(parseRange('BYTES=0-4', SIZE, MAX), ranges([0, 4]));
});

test('divergence: range-parser has no sum limit, so 50 × bytes=0- is served (row 32)', () => {
  const header = 'bytes=' + Array(50).fill('0-').join(',');
  const theirs = rangeParser(SIZE, header, { combine: true });
  assert.ok(Array.isArray(theirs));
  assert.deepStrictEqual([...theirs], [{ start: 0, end: 9999 }]);
  assert.deepStrictEqual(parseRange(header, SIZE, MAX), ignore('sum-exceeds-size'));
});

test('divergence: range-parser answers unsatisfiable on an empty file, we ignore Range (row 15)', () => {
  assert.equal(rangeParser(0, 'bytes=0-'), -1);
  assert.deepStrictEqual(parseRange('bytes=0-', 0, MAX), ignore('empty-file'));
});
