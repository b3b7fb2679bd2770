/**
 * Entity tags: the file's strong ETag (checklist rows 1, 5, 6, 56), list
 * parsing for If-Match / If-None-Match, single-tag parsing for If-Range
 * (row 49), and the comparison table of RFC 9110 §8.8.3.2.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  makeETag,
  parseEntityTag,
  parseEntityTagList,
  strongMatch,
  weakMatch,
  type EntityTag,
  type EntityTagList,
} from '../../app/core/etag';

const F_MTIME_NS = 1_577_836_800_000_000_000n;

test('row 1: the f.bin ETag is strong and built from size and mtime in ns', () => {
  assert.equal(makeETag({ size: 10_000, mtimeNs: F_MTIME_NS }), '"2710-15e59a35b98a0000"');
});

test('row 5: the ETag is the same for equal size and mtime, whatever object carries them', () => {
  const a = makeETag({ size: 10_000, mtimeNs: F_MTIME_NS });
  const b = makeETag(Object.freeze({ size: 10_000, mtimeNs: 1_577_836_800n * 1_000_000_000n }));
  assert.equal(a, b);
  assert.match(a, /^"[0-9a-f]+-[0-9a-f]+"$/);
});

test('row 6: a rewrite one nanosecond later, or one byte longer, changes the ETag', () => {
  const base = makeETag({ size: 10_000, mtimeNs: F_MTIME_NS });
  assert.notEqual(makeETag({ size: 10_000, mtimeNs: F_MTIME_NS + 1n }), base);
  assert.notEqual(makeETag({ size: 10_001, mtimeNs: F_MTIME_NS }), base);
});

test('row 18: a 5 GiB size and a pre-1970 mtime still give a well-formed strong tag', () => {
  assert.equal(makeETag({ size: 5_368_709_120, mtimeNs: F_MTIME_NS }), '"140000000-15e59a35b98a0000"');
  const old = makeETag({ size: 1, mtimeNs: -1_000_000_000n });
  assert.equal(old, '"1--3b9aca00"');
  assert.deepStrictEqual(parseEntityTag(old), { weak: false, opaque: old });
});

test('row 56: same size and mtime collide (documented limitation of a stat-based tag)', () => {
  assert.equal(makeETag({ size: 10, mtimeNs: 5n }), makeETag({ size: 10, mtimeNs: 5n }));
});

const strong = (opaque: string): EntityTag => ({ weak: false, opaque });
const weak = (opaque: string): EntityTag => ({ weak: true, opaque });

const SINGLE: readonly [string, EntityTag | undefined][] = [
  ['"o"', strong('"o"')],
  ['W/"o"', weak('"o"')],
  ['""', strong('""')],
  ['  "o"\t', strong('"o"')],
  ['"a,b"', strong('"a,b"')],
  ['"\u00e9"', strong('"\u00e9"')],
  ['"zz", "o"', undefined],
  ['x"o"', undefined],
  ['"o"x', undefined],
  ['o', undefined],
  ['w/"o"', undefined],
  ['W/ "o"', undefined],
  ['"o', undefined],
  ['"a b"', undefined],
  ['"a\u0001"', undefined],
  ['"\u0100"', undefined],
  ['*', undefined],
  ['', undefined],
];

for (const [value, want] of SINGLE) {
  test(`row 49: parseEntityTag(${JSON.stringify(value)})`, () => {
    assert.deepStrictEqual(parseEntityTag(value), want);
  });
}

const tags = (...t: EntityTag[]): EntityTagList => ({ kind: 'tags', tags: t });

const LISTS: readonly [string, EntityTagList | undefined][] = [
  ['*', { kind: 'any' }],
  [' * ', { kind: 'any' }],
  ['"a"', tags(strong('"a"'))],
  ['"a", W/"b"', tags(strong('"a"'), weak('"b"'))],
  ['"a",W/"b" ,"c"', tags(strong('"a"'), weak('"b"'), strong('"c"'))],
  [',"a",, ,"b",', tags(strong('"a"'), strong('"b"'))],
  ['"a,b", "c"', tags(strong('"a,b"'), strong('"c"'))],
  ['', tags()],
  [' , ,', tags()],
  ['*, "a"', undefined],
  ['"a", *', undefined],
  ['a', undefined],
  ['"a" "b"', undefined],
  ['"a""b"', undefined],
  ['"a";q=1', undefined],
  ['"a', undefined],
  ['W/', undefined],
];

for (const [value, want] of LISTS) {
  test(`rows 36-45: parseEntityTagList(${JSON.stringify(value)})`, () => {
    assert.deepStrictEqual(parseEntityTagList(value), want);
  });
}

/** RFC 9110 §8.8.3.2, the comparison example table. */
const COMPARISONS: readonly [EntityTag, EntityTag, boolean, boolean][] = [
  [weak('"1"'), weak('"1"'), false, true],
  [weak('"1"'), weak('"2"'), false, false],
  [weak('"1"'), strong('"1"'), false, true],
  [strong('"1"'), strong('"1"'), true, true],
  [strong('"1"'), strong('"2"'), false, false],
];

for (const [a, b, wantStrong, wantWeak] of COMPARISONS) {
  const show = (t: EntityTag): string => (t.weak ? 'W/' : '') + t.opaque;
  test(`rows 37, 43, 48: §8.8.3.2 ${show(a)} vs ${show(b)}: strong ${wantStrong}, weak ${wantWeak}`, () => {
    assert.equal(strongMatch(a, b), wantStrong);
    assert.equal(strongMatch(b, a), wantStrong);
    assert.equal(weakMatch(a, b), wantWeak);
    assert.equal(weakMatch(b, a), wantWeak);
  });
}

test('a long If-None-Match list is scanned in linear time', () => {
  const value = Array.from({ length: 100_000 }, (_, i) => `"t${i}"`).join(', ');
  const started = process.hrtime.bigint();
  const list = parseEntityTagList(value);
  const elapsedMs = Number(process.hrtime.bigint() - started) / 1e6;
  assert.ok(list !== undefined && list.kind === 'tags' && list.tags.length === 100_000);
  assert.ok(elapsedMs < 1000, `took ${elapsedMs} ms`);
});
