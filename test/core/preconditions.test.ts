/**
 * Preconditions in RFC 9110 §13.2.2 order (checklist rows 36-55), each check
 * on its own, and the HTTP-date machinery they rely on (§5.6.7, rows 3, 40,
 * 44, 50-52).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  checkIfMatch,
  checkIfModifiedSince,
  checkIfNoneMatch,
  checkIfRange,
  checkIfUnmodifiedSince,
  evaluatePreconditions,
  type CondResult,
  type PreconditionOutcome,
  type Validators,
} from '../../app/core/preconditions';
import { floorNsToSecondMs, formatHttpDate, lastModifiedMs, parseHttpDate } from '../../app/core/http-date';
import type { PlanRequest } from '../../app/core/types';

const E = '"2710-15e59a35b98a0000"';
const LM = 'Wed, 01 Jan 2020 00:00:00 GMT';
const LM_MS = Date.UTC(2020, 0, 1);
const NOW = new Date('2024-06-01T12:00:00.500Z');
const V: Validators = { etag: E, lastModifiedMs: LM_MS };
const TAG = { weak: false, opaque: E };

const PROCEED: PreconditionOutcome = { kind: 'proceed', honorRange: true };
const IGNORE_RANGE: PreconditionOutcome = { kind: 'proceed', honorRange: false };
const NOT_MODIFIED: PreconditionOutcome = { kind: 'not-modified' };
const FAILED: PreconditionOutcome = { kind: 'precondition-failed' };

type Headers = Omit<PlanRequest, 'method' | 'now'>;

interface Row {
  readonly name: string;
  readonly req: Headers;
  readonly get: PreconditionOutcome;
  /** HEAD differs from GET only where If-Range is involved (it applies to GET alone). */
  readonly head?: PreconditionOutcome;
  readonly v?: Validators;
}

const ROWS: Row[] = [
  { name: 'row 1: no conditional header proceeds', req: {}, get: PROCEED },
  { name: 'row 36: If-None-Match E is 304', req: { ifNoneMatch: E }, get: NOT_MODIFIED },
  { name: 'row 37: If-None-Match W/E is 304 (weak comparison)', req: { ifNoneMatch: `W/${E}` }, get: NOT_MODIFIED },
  { name: 'row 37: If-None-Match * is 304', req: { ifNoneMatch: '*' }, get: NOT_MODIFIED },
  { name: 'row 37: If-None-Match with E later in a list is 304', req: { ifNoneMatch: `"a", W/"b", ${E}` }, get: NOT_MODIFIED },
  { name: 'row 38: If-None-Match E with Range is 304', req: { ifNoneMatch: E, range: 'bytes=0-9' }, get: NOT_MODIFIED },
  { name: 'row 39: If-Modified-Since is ignored when If-None-Match is present', req: { ifNoneMatch: '"other"', ifModifiedSince: LM }, get: PROCEED },
  { name: 'row 40: If-Modified-Since LM is 304', req: { ifModifiedSince: LM }, get: NOT_MODIFIED },
  { name: 'row 40: If-Modified-Since LM - 1 s proceeds', req: { ifModifiedSince: 'Tue, 31 Dec 2019 23:59:59 GMT' }, get: PROCEED },
  { name: 'row 40: If-Modified-Since LM + 1 day is 304', req: { ifModifiedSince: 'Thu, 02 Jan 2020 00:00:00 GMT' }, get: NOT_MODIFIED },
  { name: 'row 40: If-Modified-Since garbage is ignored', req: { ifModifiedSince: 'garbage' }, get: PROCEED },
  { name: 'row 40: If-Modified-Since in RFC 850 form is 304', req: { ifModifiedSince: 'Wednesday, 01-Jan-20 00:00:00 GMT' }, get: NOT_MODIFIED },
  { name: 'row 40: If-Modified-Since in asctime form is 304', req: { ifModifiedSince: 'Wed Jan  1 00:00:00 2020' }, get: NOT_MODIFIED },
  { name: 'row 40: If-Modified-Since with two members is ignored', req: { ifModifiedSince: `${LM}, ${LM}` }, get: PROCEED },
  { name: 'row 40: a repeated If-Modified-Since line is ignored', req: { ifModifiedSince: LM, duplicated: new Set(['if-modified-since']) }, get: PROCEED },
  { name: 'row 41: If-Match E proceeds with the range', req: { ifMatch: E, range: 'bytes=100-' }, get: PROCEED },
  { name: 'row 41: If-Match * proceeds', req: { ifMatch: '*' }, get: PROCEED },
  { name: 'row 41: If-Match with E in a list proceeds', req: { ifMatch: `"x", ${E}` }, get: PROCEED },
  { name: 'row 42: If-Match "stale" is 412', req: { ifMatch: '"stale"' }, get: FAILED },
  { name: 'row 42: If-Match "stale" with Range is 412', req: { ifMatch: '"stale"', range: 'bytes=0-9' }, get: FAILED },
  { name: 'row 42: a malformed If-Match fails closed (412)', req: { ifMatch: 'stale' }, get: FAILED },
  { name: 'row 42: an If-Match without any element is treated as absent', req: { ifMatch: ' , ' }, get: PROCEED },
  { name: 'row 43: If-Match W/E is 412 (strong comparison)', req: { ifMatch: `W/${E}` }, get: FAILED },
  { name: 'row 44: If-Unmodified-Since LM - 1 day is 412', req: { ifUnmodifiedSince: 'Tue, 31 Dec 2019 00:00:00 GMT' }, get: FAILED },
  { name: 'row 44: If-Unmodified-Since LM proceeds', req: { ifUnmodifiedSince: LM }, get: PROCEED },
  { name: 'row 44: If-Unmodified-Since invalid date is ignored', req: { ifUnmodifiedSince: '2019-12-31' }, get: PROCEED },
  { name: 'row 44: If-Unmodified-Since is ignored when If-Match is present', req: { ifMatch: E, ifUnmodifiedSince: 'Tue, 31 Dec 2019 00:00:00 GMT' }, get: PROCEED },
  { name: 'row 44: a repeated If-Unmodified-Since line is ignored', req: { ifUnmodifiedSince: 'Tue, 31 Dec 2019 00:00:00 GMT', duplicated: new Set(['if-unmodified-since']) }, get: PROCEED },
  { name: 'row 45: If-Match is evaluated before If-None-Match (412)', req: { ifMatch: '"nope"', ifNoneMatch: E }, get: FAILED },
  { name: 'row 45: If-Unmodified-Since is evaluated before If-None-Match (412)', req: { ifUnmodifiedSince: 'Tue, 31 Dec 2019 00:00:00 GMT', ifNoneMatch: E }, get: FAILED },
  { name: 'row 45: a passing If-Match still lets If-None-Match answer 304', req: { ifMatch: E, ifNoneMatch: E }, get: NOT_MODIFIED },
  { name: 'row 46: If-Range E honours the Range', req: { range: 'bytes=100-', ifRange: E }, get: PROCEED },
  { name: 'row 47: If-Range "stale" ignores the Range (200, never 412)', req: { range: 'bytes=100-', ifRange: '"stale"' }, get: IGNORE_RANGE, head: PROCEED },
  { name: 'row 48: If-Range W/E ignores the Range', req: { range: 'bytes=100-', ifRange: `W/${E}` }, get: IGNORE_RANGE, head: PROCEED },
  { name: 'row 49: If-Range "zz", E ignores the Range', req: { range: 'bytes=100-', ifRange: `"zz", ${E}` }, get: IGNORE_RANGE, head: PROCEED },
  { name: 'row 49: If-Range xE ignores the Range', req: { range: 'bytes=100-', ifRange: `x${E}` }, get: IGNORE_RANGE, head: PROCEED },
  { name: 'row 50: If-Range equal to LM (file older than 60 s) honours the Range', req: { range: 'bytes=100-', ifRange: LM }, get: PROCEED },
  { name: 'row 50: If-Range equal to LM in asctime form honours the Range', req: { range: 'bytes=100-', ifRange: 'Wed Jan  1 00:00:00 2020' }, get: PROCEED },
  { name: 'row 51: If-Range LM + 1 s ignores the Range', req: { range: 'bytes=100-', ifRange: 'Wed, 01 Jan 2020 00:00:01 GMT' }, get: IGNORE_RANGE, head: PROCEED },
  { name: 'row 51: If-Range LM - 1 s ignores the Range', req: { range: 'bytes=100-', ifRange: 'Tue, 31 Dec 2019 23:59:59 GMT' }, get: IGNORE_RANGE, head: PROCEED },
  {
    name: 'row 52: If-Range LM of a file modified 30 s before the Date ignores the Range',
    req: { range: 'bytes=100-', ifRange: 'Sat, 01 Jun 2024 11:59:30 GMT' },
    v: { etag: E, lastModifiedMs: Date.UTC(2024, 5, 1, 11, 59, 30) },
    get: IGNORE_RANGE,
    head: PROCEED,
  },
  {
    name: 'row 52: If-Range LM 60 s before the Date honours the Range',
    req: { range: 'bytes=100-', ifRange: 'Sat, 01 Jun 2024 11:58:59 GMT' },
    v: { etag: E, lastModifiedMs: Date.UTC(2024, 5, 1, 11, 58, 59) },
    get: PROCEED,
  },
  {
    name: 'row 52: If-Range LM 59.5 s before the Date ignores the Range',
    req: { range: 'bytes=100-', ifRange: 'Sat, 01 Jun 2024 11:59:01 GMT' },
    v: { etag: E, lastModifiedMs: Date.UTC(2024, 5, 1, 11, 59, 1) },
    get: IGNORE_RANGE,
    head: PROCEED,
  },
  { name: 'row 53: If-Range garbage ignores the Range', req: { range: 'bytes=100-', ifRange: 'garbage' }, get: IGNORE_RANGE, head: PROCEED },
  { name: 'row 53: If-Range without Range is ignored', req: { ifRange: '"stale"' }, get: PROCEED },
  { name: 'row 53: a repeated If-Range line ignores the Range', req: { range: 'bytes=100-', ifRange: E, duplicated: new Set(['if-range']) }, get: IGNORE_RANGE, head: PROCEED },
  { name: 'row 54: If-Range E with an unsatisfiable Range honours it (the planner answers 416)', req: { range: 'bytes=20000-', ifRange: E }, get: PROCEED },
  { name: 'row 55: If-Range with the old ETag after a rewrite ignores the Range', req: { range: 'bytes=4000-', ifRange: E }, v: { etag: '"2710-1"', lastModifiedMs: LM_MS }, get: IGNORE_RANGE, head: PROCEED },
  { name: 'row 55: If-Match with the old ETag after a rewrite is 412', req: { range: 'bytes=4000-', ifMatch: E }, v: { etag: '"2710-1"', lastModifiedMs: LM_MS }, get: FAILED },
];

for (const row of ROWS) {
  test(row.name, async (t) => {
    for (const method of ['GET', 'HEAD'] as const) {
      await t.test(method, () => {
        const want = method === 'GET' ? row.get : (row.head ?? row.get);
        assert.deepStrictEqual(evaluatePreconditions({ method, now: NOW, ...row.req }, row.v ?? V), want);
      });
    }
  });
}

const CHECKS: readonly [string, () => CondResult, CondResult][] = [
  ['checkIfMatch absent', () => checkIfMatch(undefined, TAG), 'none'],
  ['checkIfMatch exact', () => checkIfMatch(E, TAG), 'pass'],
  ['checkIfMatch weak never passes', () => checkIfMatch(`W/${E}`, TAG), 'fail'],
  ['checkIfMatch against a weak current tag never passes', () => checkIfMatch(`W/${E}`, { weak: true, opaque: E }), 'fail'],
  ['checkIfNoneMatch absent', () => checkIfNoneMatch(undefined, TAG), 'none'],
  ['checkIfNoneMatch other tag passes', () => checkIfNoneMatch('"x"', TAG), 'pass'],
  ['checkIfNoneMatch malformed matches nothing', () => checkIfNoneMatch('x', TAG), 'pass'],
  ['checkIfNoneMatch empty list is absent', () => checkIfNoneMatch('', TAG), 'none'],
  ['checkIfUnmodifiedSince later date passes', () => checkIfUnmodifiedSince(LM, LM_MS, NOW), 'pass'],
  ['checkIfUnmodifiedSince earlier date fails', () => checkIfUnmodifiedSince('Tue, 31 Dec 2019 23:59:59 GMT', LM_MS, NOW), 'fail'],
  ['checkIfModifiedSince equal date fails (not modified)', () => checkIfModifiedSince(LM, LM_MS, NOW), 'fail'],
  ['checkIfModifiedSince earlier date passes', () => checkIfModifiedSince('Tue, 31 Dec 2019 23:59:59 GMT', LM_MS, NOW), 'pass'],
  ['checkIfRange absent', () => checkIfRange(undefined, V, NOW), 'none'],
  ['checkIfRange tag with OWS around it', () => checkIfRange(` ${E} `, V, NOW), 'pass'],
  ['checkIfRange a date in another case is not a date', () => checkIfRange(LM.toUpperCase(), V, NOW), 'fail'],
  ['checkIfRange * is not an entity-tag', () => checkIfRange('*', V, NOW), 'fail'],
];

for (const [name, run, want] of CHECKS) {
  test(`rows 36-53: ${name}`, () => assert.equal(run(), want));
}

const IMF_CASES: readonly [string, number | undefined][] = [
  [LM, LM_MS],
  ['Sun, 06 Nov 1994 08:49:37 GMT', Date.UTC(1994, 10, 6, 8, 49, 37)],
  ['Sunday, 06-Nov-94 08:49:37 GMT', Date.UTC(1994, 10, 6, 8, 49, 37)],
  ['Sun Nov  6 08:49:37 1994', Date.UTC(1994, 10, 6, 8, 49, 37)],
  ['Sun Nov 16 08:49:37 1994', Date.UTC(1994, 10, 16, 8, 49, 37)],
  ['Thu, 29 Feb 2024 00:00:00 GMT', Date.UTC(2024, 1, 29)],
  ['Tue, 30 Jun 2015 23:59:60 GMT', Date.UTC(2015, 6, 1)],
  [' Wed, 01 Jan 2020 00:00:00 GMT\t', LM_MS],
  ['Thu, 01 Jan 0099 00:00:00 GMT', new Date('0099-01-01T00:00:00Z').getTime()],
  ['garbage', undefined],
  ['', undefined],
  ['2020-01-01T00:00:00Z', undefined],
  ['Wed, 1 Jan 2020 00:00:00 GMT', undefined],
  ['Wed, 01 Jan 2020 00:00:00 UTC', undefined],
  ['Wed, 01 Jan 2020 00:00:00 gmt', undefined],
  ['wed, 01 Jan 2020 00:00:00 GMT', undefined],
  ['Wed, 01 jan 2020 00:00:00 GMT', undefined],
  ['Wed, 01 Jan 2020 0:00:00 GMT', undefined],
  ['Wed, 01 Jan 2020 24:00:00 GMT', undefined],
  ['Wed, 01 Jan 2020 00:60:00 GMT', undefined],
  ['Wed, 01 Jan 2020 00:00:61 GMT', undefined],
  ['Fri, 30 Feb 2024 00:00:00 GMT', undefined],
  ['Thu, 29 Feb 2023 00:00:00 GMT', undefined],
  ['Wed, 00 Jan 2020 00:00:00 GMT', undefined],
  ['Wed, 01 Jan 2020 00:00:00 GMT garbage', undefined],
  ['Wed, 01 Jan 2020 00:00:00 GMT, Wed, 01 Jan 2020 00:00:00 GMT', undefined],
  ['Wed,  01 Jan 2020 00:00:00 GMT', undefined],
  ['Wednesday, 01-Jan-2020 00:00:00 GMT', undefined],
  ['Wed Jan 1 00:00:00 2020', undefined],
  ['1577836800', undefined],
];

for (const [value, want] of IMF_CASES) {
  test(`rows 40, 44, 50: parseHttpDate(${JSON.stringify(value)})`, () => {
    assert.equal(parseHttpDate(value, NOW), want);
  });
}

test('rows 40, 50: an rfc850 two-digit year more than 50 years ahead is in the past century', () => {
  const now = new Date('2024-06-01T00:00:00Z');
  assert.equal(parseHttpDate('Thursday, 01-Jan-70 00:00:00 GMT', now), Date.UTC(2070, 0, 1));
  assert.equal(parseHttpDate('Friday, 01-Jan-75 00:00:00 GMT', now), Date.UTC(1975, 0, 1));
  assert.equal(parseHttpDate('Saturday, 01-Jan-00 00:00:00 GMT', now), Date.UTC(2000, 0, 1));
});

test('row 1: formatHttpDate writes IMF-fixdate, floored to the second', () => {
  assert.equal(formatHttpDate(LM_MS), LM);
  assert.equal(formatHttpDate(LM_MS + 999), LM);
  assert.equal(formatHttpDate(Date.UTC(1994, 10, 6, 8, 49, 37)), 'Sun, 06 Nov 1994 08:49:37 GMT');
  assert.equal(formatHttpDate(-1), 'Wed, 31 Dec 1969 23:59:59 GMT');
  assert.throws(() => formatHttpDate(Number.NaN), RangeError);
  assert.throws(() => formatHttpDate(Date.UTC(10000, 0, 1)), RangeError);
  for (let ms = Date.UTC(1995, 0, 1); ms < Date.UTC(2040, 0, 1); ms += 86_400_000 * 37 + 3_723_000) {
    assert.equal(parseHttpDate(formatHttpDate(ms), NOW), ms);
  }
});

test('row 3: Last-Modified is the mtime floored to the second, never later than the Date', () => {
  assert.equal(lastModifiedMs(1_577_836_800_999_999_999n, NOW), LM_MS);
  assert.equal(lastModifiedMs(BigInt(NOW.getTime() + 3_600_000) * 1_000_000n, NOW), Date.UTC(2024, 5, 1, 12, 0, 0));
  assert.equal(lastModifiedMs(BigInt(NOW.getTime()) * 1_000_000n, NOW), Date.UTC(2024, 5, 1, 12, 0, 0));
  assert.equal(floorNsToSecondMs(-1n), -1000);
  assert.equal(floorNsToSecondMs(-1_000_000_000n), -1000);
  assert.equal(floorNsToSecondMs(0n), 0);
});
