/**
 * planResponse against the conformance checklist (range-conformance.md), one
 * named case per row that concerns the planner (rows 1-62, 73-74), each run
 * for GET and for HEAD. HEAD expectations are derived by one rule, decision 6:
 * the same plan as GET without a body, except that Range is ignored (so a GET
 * 206 or 416 is a HEAD 200).
 *
 * Fixture f.bin: 10 000 bytes, mtime 2020-01-01T00:00:00Z, so its strong ETag
 * is E = "2710-15e59a35b98a0000" (size and mtime in ns, hex) and LM is
 * Wed, 01 Jan 2020 00:00:00 GMT.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { planResponse } from '../../app/core/plan';
import type { BodyPiece, FileMeta, PlanOptions, PlanRequest, ResponsePlan } from '../../app/core/types';

const F: FileMeta = { size: 10_000, mtimeNs: 1_577_836_800_000_000_000n };
const E = '"2710-15e59a35b98a0000"';
const LM = 'Wed, 01 Jan 2020 00:00:00 GMT';
const EMPTY: FileMeta = { size: 0, mtimeNs: F.mtimeNs };
const BIG: FileMeta = { size: 5_368_709_120, mtimeNs: F.mtimeNs };
const BIG_E = '"140000000-15e59a35b98a0000"';

/** The response Date: mid-second on purpose, Node writes it floored. */
const NOW = new Date('2024-06-01T12:00:00.500Z');
const NOW_HTTP = 'Sat, 01 Jun 2024 12:00:00 GMT';

const OCTETS = 'application/octet-stream';
const BASE: Readonly<Record<string, string>> = {
  'Cache-Control': 'public, max-age=60',
  Vary: 'Accept-Encoding',
  'Content-Disposition': 'attachment; filename="f.bin"',
  'X-Content-Type-Options': 'nosniff',
};
const OPTS: PlanOptions = { contentType: OCTETS, maxRanges: 16, baseHeaders: BASE, boundary: 'BOUNDARY' };

type Method = PlanRequest['method'];
type Conditionals = Omit<PlanRequest, 'method' | 'now'>;

function plan(method: Method, headers: Conditionals, file: FileMeta = F, opts: PlanOptions = OPTS): ResponsePlan {
  return planResponse({ method, now: NOW, ...headers }, file, opts);
}

interface Expect {
  readonly file?: FileMeta;
  readonly etag?: string;
  readonly lm?: string;
  /** Planner input only; expectations always use BASE (planner-owned names filtered out). */
  readonly opts?: PlanOptions;
}

function fileHeaders(x: Expect): Record<string, string> {
  return {
    ...BASE,
    'Accept-Ranges': 'bytes',
    'Content-Type': OCTETS,
    ETag: x.etag ?? E,
    'Last-Modified': x.lm ?? LM,
  };
}

function full200(x: Expect = {}): ResponsePlan {
  const size = (x.file ?? F).size;
  return {
    status: 200,
    headers: { ...fileHeaders(x), 'Content-Length': String(size) },
    body: size === 0 ? [] : [{ kind: 'file', start: 0, end: size - 1 }],
    bodyLength: size,
    partial: false,
  };
}

function single206(start: number, end: number, x: Expect = {}): ResponsePlan {
  const size = (x.file ?? F).size;
  return {
    status: 206,
    headers: {
      ...fileHeaders(x),
      'Content-Length': String(end - start + 1),
      'Content-Range': `bytes ${start}-${end}/${size}`,
    },
    body: [{ kind: 'file', start, end }],
    bodyLength: end - start + 1,
    partial: true,
  };
}

/** A multipart 206 written out by hand (boundary BOUNDARY), so framing bugs show as a diff. */
function multipart206(spans: readonly (readonly [number, number])[], x: Expect = {}): ResponsePlan {
  const size = (x.file ?? F).size;
  const body: BodyPiece[] = [];
  let length = 0;
  spans.forEach(([start, end], i) => {
    const head =
      (i === 0 ? '' : '\r\n') +
      '--BOUNDARY\r\n' +
      `Content-Type: ${OCTETS}\r\n` +
      `Content-Range: bytes ${start}-${end}/${size}\r\n` +
      '\r\n';
    body.push({ kind: 'bytes', data: head }, { kind: 'file', start, end });
    length += head.length + end - start + 1;
  });
  body.push({ kind: 'bytes', data: '\r\n--BOUNDARY--\r\n' });
  length += 16;
  return {
    status: 206,
    headers: {
      ...fileHeaders(x),
      'Content-Type': 'multipart/byteranges; boundary=BOUNDARY',
      'Content-Length': String(length),
    },
    body,
    bodyLength: length,
    partial: true,
  };
}

function notModified304(etag = E): ResponsePlan {
  return {
    status: 304,
    headers: { 'Cache-Control': 'public, max-age=60', Vary: 'Accept-Encoding', 'Accept-Ranges': 'bytes', ETag: etag },
    body: [],
    bodyLength: 0,
    partial: false,
  };
}

const ERROR_BASE = { Vary: 'Accept-Encoding', 'X-Content-Type-Options': 'nosniff' };

function failed412(): ResponsePlan {
  return {
    status: 412,
    headers: {
      ...ERROR_BASE,
      'Accept-Ranges': 'bytes',
      'Content-Type': 'text/plain; charset=utf-8',
      'Content-Length': '20',
    },
    body: [{ kind: 'bytes', data: 'Precondition Failed\n' }],
    bodyLength: 20,
    partial: false,
  };
}

function unsatisfiable416(size = F.size): ResponsePlan {
  return {
    status: 416,
    headers: {
      ...ERROR_BASE,
      'Accept-Ranges': 'bytes',
      'Content-Type': 'text/plain; charset=utf-8',
      'Content-Length': '22',
      'Content-Range': `bytes */${size}`,
    },
    body: [{ kind: 'bytes', data: 'Range Not Satisfiable\n' }],
    bodyLength: 22,
    partial: false,
  };
}

/** Decision 6: HEAD is the GET plan without a body, and Range never applies to HEAD. */
function headOf(get: ResponsePlan, x: Expect): ResponsePlan {
  const basis = get.status === 206 || get.status === 416 ? full200(x) : get;
  return { ...basis, body: [], bodyLength: 0, partial: false };
}

interface Case {
  readonly name: string;
  readonly req: Conditionals;
  readonly get: ResponsePlan;
  readonly x?: Expect;
  /** Only when HEAD is not derived by headOf (never needed so far, kept explicit). */
  readonly head?: ResponsePlan;
}

function runCase(c: Case): void {
  test(c.name, async (t) => {
    const x = c.x ?? {};
    const file = x.file ?? F;
    const opts = x.opts ?? OPTS;
    await t.test('GET', () => assert.deepStrictEqual(plan('GET', c.req, file, opts), c.get));
    await t.test('HEAD', () => assert.deepStrictEqual(plan('HEAD', c.req, file, opts), c.head ?? headOf(c.get, x)));
  });
}

const LM_MINUS_1S = 'Tue, 31 Dec 2019 23:59:59 GMT';
const LM_PLUS_1S = 'Wed, 01 Jan 2020 00:00:01 GMT';
const LM_PLUS_1D = 'Thu, 02 Jan 2020 00:00:00 GMT';
const LM_MINUS_1D = 'Tue, 31 Dec 2019 00:00:00 GMT';

const futureFile: FileMeta = { size: 10_000, mtimeNs: BigInt(NOW.getTime() + 3_600_000) * 1_000_000n };
const rewritten: FileMeta = { size: 10_000, mtimeNs: F.mtimeNs + 5_000_000_123n };
const REWRITTEN_E = '"2710-15e59a36e38ff27b"';
const REWRITTEN_LM = 'Wed, 01 Jan 2020 00:00:05 GMT';
/** fresh.bin: modified 30 s before the Date, so its Last-Modified is not a strong validator. */
const freshFile: FileMeta = { size: 10_000, mtimeNs: BigInt(NOW.getTime() - 30_500) * 1_000_000n };
const FRESH_LM = 'Sat, 01 Jun 2024 11:59:30 GMT';
const FRESH_E = `"2710-${freshFile.mtimeNs.toString(16)}"`;
/** Exactly 60 s older than the (floored) Date: the youngest date If-Range accepts. */
const sixtyFile: FileMeta = { size: 10_000, mtimeNs: BigInt(NOW.getTime() - 60_500) * 1_000_000n };
const SIXTY_LM = 'Sat, 01 Jun 2024 11:59:00 GMT';
const SIXTY_E = `"2710-${sixtyFile.mtimeNs.toString(16)}"`;

const every = (n: number, step: number, spec: (i: number) => string): string =>
  'bytes=' + Array.from({ length: n }, (_, i) => spec(i * step)).join(',');

const CASES: Case[] = [
  { name: 'row 1: GET without Range is 200 with CL, Accept-Ranges, strong ETag, Last-Modified', req: {}, get: full200() },
  { name: 'row 3: a future mtime gives Last-Modified equal to the Date, never later', req: {}, get: full200({ file: futureFile, etag: `"2710-${futureFile.mtimeNs.toString(16)}"`, lm: NOW_HTTP }), x: { file: futureFile } },
  { name: 'row 6: same size, new mtime gives a new ETag and a new Last-Modified', req: {}, get: full200({ file: rewritten, etag: REWRITTEN_E, lm: REWRITTEN_LM }), x: { file: rewritten } },

  { name: 'row 7: bytes=0-499 is 206 with Content-Range bytes 0-499/10000 and the 200 fields', req: { range: 'bytes=0-499' }, get: single206(0, 499) },
  { name: 'row 8: bytes=9500- selects the last 500 bytes', req: { range: 'bytes=9500-' }, get: single206(9500, 9999) },
  { name: 'row 8: bytes=-500 selects the last 500 bytes', req: { range: 'bytes=-500' }, get: single206(9500, 9999) },
  { name: 'row 9: bytes=0-0 is the first byte', req: { range: 'bytes=0-0' }, get: single206(0, 0) },
  { name: 'row 9: bytes=9999-9999 is the last byte', req: { range: 'bytes=9999-9999' }, get: single206(9999, 9999) },
  { name: 'row 9: bytes=-1 is the last byte', req: { range: 'bytes=-1' }, get: single206(9999, 9999) },
  { name: 'row 10: bytes=0- is a 206 for the whole file', req: { range: 'bytes=0-' }, get: single206(0, 9999) },
  { name: 'row 11: bytes=9000-20000 clips last-pos to 9999', req: { range: 'bytes=9000-20000' }, get: single206(9000, 9999) },
  { name: 'row 12: suffix longer than file selects whole file', req: { range: 'bytes=-20000' }, get: single206(0, 9999) },
  { name: 'row 13: bytes=10000- is 416 bytes */10000 with its own Content-Length', req: { range: 'bytes=10000-' }, get: unsatisfiable416() },
  { name: 'row 13: bytes=10000-10005 is 416', req: { range: 'bytes=10000-10005' }, get: unsatisfiable416() },
  { name: 'row 14: bytes=-0 is 416 (a zero suffix-length is never satisfiable)', req: { range: 'bytes=-0' }, get: unsatisfiable416() },
  { name: 'row 15: empty file without Range is 200 with CL 0 and no body piece', req: {}, get: full200({ file: EMPTY, etag: '"0-15e59a35b98a0000"' }), x: { file: EMPTY } },
  { name: 'row 15: empty file with bytes=0- ignores Range (200, CL 0)', req: { range: 'bytes=0-' }, get: full200({ file: EMPTY, etag: '"0-15e59a35b98a0000"' }), x: { file: EMPTY } },
  { name: 'row 15: empty file with bytes=-5 ignores Range (200, CL 0)', req: { range: 'bytes=-5' }, get: full200({ file: EMPTY, etag: '"0-15e59a35b98a0000"' }), x: { file: EMPTY } },
  { name: 'row 16: leading zeros are legal digits (bytes=0000-0009)', req: { range: 'bytes=0000-0009' }, get: single206(0, 9) },
  { name: 'row 17: a 23-digit last-pos clips to the end', req: { range: 'bytes=0-99999999999999999999999' }, get: single206(0, 9999) },
  { name: 'row 17: a 23-digit first-pos is 416', req: { range: 'bytes=99999999999999999999999-' }, get: unsatisfiable416() },
  { name: 'row 17: 2^53 + 1 never rounds into the file (416)', req: { range: 'bytes=9007199254740993-' }, get: unsatisfiable416() },
  { name: 'row 18: 5 GiB file, bytes=5368709000- is 206 with CL 120', req: { range: 'bytes=5368709000-' }, get: single206(5_368_709_000, 5_368_709_119, { file: BIG, etag: BIG_E }), x: { file: BIG, etag: BIG_E } },
  { name: 'row 18: 5 GiB file without Range is 200 with CL 5368709120', req: {}, get: full200({ file: BIG, etag: BIG_E }), x: { file: BIG, etag: BIG_E } },

  { name: 'row 19: the unit is case-insensitive (Bytes=0-4)', req: { range: 'Bytes=0-4' }, get: single206(0, 4) },
  { name: 'row 19: the unit is case-insensitive (BYTES=0-4)', req: { range: 'BYTES=0-4' }, get: single206(0, 4) },
  { name: 'row 20: OWS after = and around commas is a two-part multipart', req: { range: 'bytes= 0-4, 10-14' }, get: multipart206([[0, 4], [10, 14]]) },
  { name: 'row 21: empty list elements are skipped', req: { range: 'bytes=0-4,,10-14,' }, get: multipart206([[0, 4], [10, 14]]) },
  { name: 'row 22: an unknown unit is ignored (items=0-4 is 200)', req: { range: 'items=0-4' }, get: full200() },
  ...['bytes=abc', 'bytes=5', 'bytes=--5', 'bytes=1-2-3', 'bytes=0x10-', 'bytes=+1-2', 'bytes=1e3-', 'bytes=', 'bytes=-'].map(
    (range): Case => ({ name: `row 23: malformed ${range} is ignored (200)`, req: { range }, get: full200() }),
  ),
  { name: 'row 24: last-pos below first-pos makes the header invalid (200)', req: { range: 'bytes=500-400' }, get: full200() },
  { name: 'row 25: spaces inside an int-range are invalid, pinned to ignore (200)', req: { range: 'bytes=0 - 4' }, get: full200() },
  { name: 'row 25: a tab inside an int-range is invalid, pinned to ignore (200)', req: { range: 'bytes=0-\t4' }, get: full200() },
  { name: 'row 26: Range received on two lines is ignored (200)', req: { range: 'bytes=0-1, bytes=5-6', duplicated: new Set(['range']) }, get: full200() },
  { name: 'row 26: the duplicated flag alone makes even a valid Range ignored', req: { range: 'bytes=0-1', duplicated: new Set(['range']) }, get: full200() },
  { name: 'row 27: 10 000 specs are ignored (200)', req: { range: every(10_000, 2, (i) => `${i}-${i}`) }, get: full200() },
  { name: 'row 27: a header over 16 KiB is ignored (200)', req: { range: 'bytes=' + '0-0,'.repeat(5000) }, get: full200() },

  { name: 'row 28: bytes=0-49,100-149 is a multipart/byteranges 206 with exact CL', req: { range: 'bytes=0-49,100-149' }, get: multipart206([[0, 49], [100, 149]]) },
  { name: 'row 29: parts come in request order (100-149 first)', req: { range: 'bytes=100-149,0-49' }, get: multipart206([[100, 149], [0, 49]]) },
  { name: 'row 30: overlapping ranges coalesce into one single-part 206 (0-149)', req: { range: 'bytes=0-99,50-149' }, get: single206(0, 149) },
  { name: 'row 30: adjacent ranges coalesce into one single-part 206 (0-99)', req: { range: 'bytes=0-49,50-99' }, get: single206(0, 99) },
  { name: 'row 30: a coalesced span keeps its earliest member\'s place', req: { range: 'bytes=500-599,10-19,0-9' }, get: multipart206([[500, 599], [0, 19]]) },
  { name: 'row 31: only the satisfiable subset is served, never 416', req: { range: 'bytes=0-9,20000-20010' }, get: single206(0, 9) },
  { name: 'row 32: bytes=0- fifty times sums past the size and is ignored', req: { range: every(50, 0, () => '0-') }, get: full200() },
  { name: 'row 32: 200 disjoint one-byte ranges exceed maxRanges and are ignored', req: { range: every(200, 2, (i) => `${i}-${i}`) }, get: full200() },
  { name: 'row 32: 17 ranges after coalescing exceed maxRanges 16 (200)', req: { range: every(17, 10, (i) => `${i}-${i}`) }, get: full200() },
  { name: 'row 32: exactly maxRanges ranges are still served as multipart', req: { range: every(16, 10, (i) => `${i}-${i}`) }, get: multipart206(Array.from({ length: 16 }, (_, i) => [i * 10, i * 10] as const)) },
  { name: 'row 33: HEAD with Range is 200 with CL 10000 (GET gets the 206)', req: { range: 'bytes=0-499' }, get: single206(0, 499) },

  { name: 'row 36: If-None-Match E is 304 with ETag, Cache-Control, Vary and no CT/CL', req: { ifNoneMatch: E }, get: notModified304() },
  { name: 'row 37: If-None-Match W/E matches under weak comparison (304)', req: { ifNoneMatch: `W/${E}` }, get: notModified304() },
  { name: 'row 37: If-None-Match * matches an existing file (304)', req: { ifNoneMatch: '*' }, get: notModified304() },
  { name: 'row 38: If-None-Match E with Range is 304 (Range ignored)', req: { ifNoneMatch: E, range: 'bytes=0-9' }, get: notModified304() },
  { name: 'row 39: If-Modified-Since is ignored when If-None-Match is present', req: { ifNoneMatch: '"other"', ifModifiedSince: LM }, get: full200() },
  { name: 'row 40: If-Modified-Since LM is 304', req: { ifModifiedSince: LM }, get: notModified304() },
  { name: 'row 40: If-Modified-Since LM - 1 s is 200', req: { ifModifiedSince: LM_MINUS_1S }, get: full200() },
  { name: 'row 40: If-Modified-Since LM + 1 day is 304', req: { ifModifiedSince: LM_PLUS_1D }, get: notModified304() },
  { name: 'row 40: If-Modified-Since garbage is ignored (200)', req: { ifModifiedSince: 'garbage' }, get: full200() },
  { name: 'row 41: If-Match E with bytes=100- is 206', req: { ifMatch: E, range: 'bytes=100-' }, get: single206(100, 9999) },
  { name: 'row 41: If-Match * is 200', req: { ifMatch: '*' }, get: full200() },
  { name: 'row 42: If-Match "stale" is 412 with a small body and no Content-Range', req: { ifMatch: '"stale"' }, get: failed412() },
  { name: 'row 42: If-Match "stale" with Range is 412', req: { ifMatch: '"stale"', range: 'bytes=0-9' }, get: failed412() },
  { name: 'row 43: If-Match W/E fails strong comparison (412)', req: { ifMatch: `W/${E}` }, get: failed412() },
  { name: 'row 44: If-Unmodified-Since LM - 1 day is 412', req: { ifUnmodifiedSince: LM_MINUS_1D }, get: failed412() },
  { name: 'row 44: If-Unmodified-Since LM is 200', req: { ifUnmodifiedSince: LM }, get: full200() },
  { name: 'row 44: If-Unmodified-Since invalid date is ignored (200)', req: { ifUnmodifiedSince: 'yesterday' }, get: full200() },
  { name: 'row 44: If-Unmodified-Since is ignored when If-Match is present', req: { ifMatch: E, ifUnmodifiedSince: LM_MINUS_1D }, get: full200() },
  { name: 'row 45: If-Match is evaluated before If-None-Match (412)', req: { ifMatch: '"nope"', ifNoneMatch: E }, get: failed412() },

  { name: 'row 46: If-Range E with bytes=100- is 206', req: { range: 'bytes=100-', ifRange: E }, get: single206(100, 9999) },
  { name: 'row 47: If-Range "stale" is the full 200, never 412', req: { range: 'bytes=100-', ifRange: '"stale"' }, get: full200() },
  { name: 'row 48: If-Range W/E never matches (200)', req: { range: 'bytes=100-', ifRange: `W/${E}` }, get: full200() },
  { name: 'row 49: If-Range "zz", E is not one entity-tag (200)', req: { range: 'bytes=100-', ifRange: `"zz", ${E}` }, get: full200() },
  { name: 'row 49: If-Range xE is not an entity-tag (200)', req: { range: 'bytes=100-', ifRange: `x${E}` }, get: full200() },
  { name: 'row 50: If-Range equal to LM on a file older than 60 s is 206', req: { range: 'bytes=100-', ifRange: LM }, get: single206(100, 9999) },
  { name: 'row 51: If-Range LM + 1 s is 200 (exact equality only)', req: { range: 'bytes=100-', ifRange: LM_PLUS_1S }, get: full200() },
  { name: 'row 52: If-Range LM of a file modified 30 s ago is 200 (weak date)', req: { range: 'bytes=100-', ifRange: FRESH_LM }, get: full200({ file: freshFile, etag: FRESH_E, lm: FRESH_LM }), x: { file: freshFile } },
  { name: 'row 52: If-Range LM exactly 60 s before the Date is strong (206)', req: { range: 'bytes=100-', ifRange: SIXTY_LM }, get: single206(100, 9999, { file: sixtyFile, etag: SIXTY_E, lm: SIXTY_LM }), x: { file: sixtyFile, etag: SIXTY_E, lm: SIXTY_LM } },
  { name: 'row 53: If-Range garbage with Range is 200', req: { range: 'bytes=100-', ifRange: 'garbage' }, get: full200() },
  { name: 'row 53: If-Range E without Range is ignored (200)', req: { ifRange: E }, get: full200() },
  { name: 'row 54: If-Range E with an unsatisfiable Range is 416 (pinned)', req: { range: 'bytes=20000-', ifRange: E }, get: unsatisfiable416() },
  { name: 'row 54: a failed If-Range with an unsatisfiable Range is 200', req: { range: 'bytes=20000-', ifRange: '"stale"' }, get: full200() },
  { name: 'row 55: If-Range with the old ETag after a rewrite is the full 200 with the new ETag', req: { range: 'bytes=4000-', ifRange: E }, get: full200({ file: rewritten, etag: REWRITTEN_E, lm: REWRITTEN_LM }), x: { file: rewritten } },
  { name: 'row 55: If-Match with the old ETag after a rewrite is 412', req: { range: 'bytes=4000-', ifMatch: E }, get: failed412(), x: { file: rewritten } },
  { name: 'row 73: the 206 is identity-coded even if a base header claims a coding', req: { range: 'bytes=0-499' }, get: single206(0, 499), x: { opts: { ...OPTS, baseHeaders: { ...BASE, 'Content-Encoding': 'gzip', 'Transfer-Encoding': 'chunked' } } } },
];

for (const c of CASES) runCase(c);

test('row 2: HEAD has the same fields as GET, CL 10000, and no body', () => {
  const get = plan('GET', {});
  const head = plan('HEAD', {});
  assert.deepStrictEqual(head.headers, get.headers);
  assert.equal(head.headers['Content-Length'], '10000');
  assert.deepStrictEqual(head.body, []);
  assert.equal(head.bodyLength, 0);
  assert.equal(head.status, 200);
});

test('row 4: Content-Type comes from the options and nosniff from the base headers', () => {
  for (const contentType of ['application/octet-stream', 'video/mp4', 'text/plain; charset=utf-8']) {
    for (const method of ['GET', 'HEAD'] as const) {
      for (const range of [undefined, 'bytes=0-9']) {
        const p = plan(method, { range }, F, { ...OPTS, contentType });
        assert.equal(p.headers['Content-Type'], contentType);
        assert.equal(p.headers['X-Content-Type-Options'], 'nosniff');
      }
    }
  }
});

test('row 5: ETag and Last-Modified depend only on size and mtime (same on every node)', () => {
  for (const method of ['GET', 'HEAD'] as const) {
    const a = plan(method, {}, { size: 10_000, mtimeNs: 1_577_836_800_000_000_000n });
    const b = plan(method, {}, { ...F });
    assert.equal(a.headers['ETag'], E);
    assert.equal(b.headers['ETag'], E);
    assert.equal(a.headers['Last-Modified'], LM);
    assert.equal(b.headers['Last-Modified'], LM);
    assert.ok(!E.startsWith('W/'));
  }
});

test('row 34: the planner only models GET and HEAD; other methods get 405 from the HTTP layer', () => {
  // @ts-expect-error POST is not a PlanRequest method: it never reaches the planner.
  const post: PlanRequest = { method: 'POST', now: NOW };
  assert.equal(post.method, 'POST');
});

test('row 35: a missing file is 404 before planning', { skip: 'HTTP layer: preconditions and Range never see a missing file (§13.2.1)' }, () => {});

test('row 56: same size and same mtime give the same ETag (known, documented limitation)', () => {
  const copy: FileMeta = { size: F.size, mtimeNs: F.mtimeNs };
  assert.equal(plan('GET', {}, copy).headers['ETag'], E);
});

test('row 57: every header and the body piece come from the one FileMeta given', () => {
  const old: FileMeta = { size: 12_345, mtimeNs: F.mtimeNs };
  for (const method of ['GET', 'HEAD'] as const) {
    const p = plan(method, {}, old);
    assert.equal(p.headers['Content-Length'], '12345');
    assert.equal(p.headers['ETag'], '"3039-15e59a35b98a0000"');
  }
  assert.deepStrictEqual(plan('GET', {}, old).body, [{ kind: 'file', start: 0, end: 12_344 }]);
});

test('row 58: a file piece names its inclusive end, so an engine can detect a short read', () => {
  const p = plan('GET', { range: 'bytes=4000-' });
  assert.deepStrictEqual(p.body, [{ kind: 'file', start: 4000, end: 9999 }]);
  assert.equal(p.bodyLength, 6000);
});

test('row 59: the plan never reaches past the fstat size, so appended bytes are not sent', () => {
  for (const range of [undefined, 'bytes=0-', 'bytes=-20000', 'bytes=9000-99999', 'bytes=0-1,9990-']) {
    const p = plan('GET', { range });
    for (const piece of p.body) if (piece.kind === 'file') assert.ok(piece.end <= 9999, `${range}`);
  }
});

test('row 60: Content-Disposition encoding', { skip: 'HTTP layer (app/http/disposition.ts); the planner copies the header verbatim, see row 62' }, () => {});
test('row 61: Content-Disposition sanitising', { skip: 'HTTP layer (app/http/disposition.ts); the planner copies the header verbatim, see row 62' }, () => {});

test('row 62: Content-Disposition is identical on 200, 206, multipart 206 and HEAD', () => {
  const cd = BASE['Content-Disposition'];
  for (const method of ['GET', 'HEAD'] as const) {
    for (const range of [undefined, 'bytes=0-9', 'bytes=0-9,20-29']) {
      assert.equal(plan(method, { range }).headers['Content-Disposition'], cd);
    }
  }
});

test('row 74: every 200/206 plan has Content-Length equal to the body, and no Transfer-Encoding', () => {
  const ranges = [undefined, 'bytes=0-499', 'bytes=-500', 'bytes=0-49,100-149', 'bytes=0-0,2-2,4-4', 'bytes=abc'];
  for (const range of ranges) {
    for (const method of ['GET', 'HEAD'] as const) {
      const p = plan(method, { range });
      assert.ok(p.status === 200 || p.status === 206);
      assert.ok(!('Transfer-Encoding' in p.headers));
      const sum = p.body.reduce((n, piece) => n + (piece.kind === 'file' ? piece.end - piece.start + 1 : Buffer.byteLength(piece.data)), 0);
      assert.equal(p.bodyLength, sum);
      // HEAD ignores Range, so its CL is the full 200's (§8.6: what GET would send without it).
      assert.equal(p.headers['Content-Length'], method === 'GET' ? String(sum) : '10000');
    }
  }
});

test('multi-range without an injected boundary generates a valid random one', () => {
  const p = plan('GET', { range: 'bytes=0-1,5-6' }, F, { contentType: OCTETS, maxRanges: 16 });
  const m = /^multipart\/byteranges; boundary=([0-9a-f]{32})$/.exec(p.headers['Content-Type'] ?? '');
  assert.ok(m, p.headers['Content-Type']);
  const first = p.body[0];
  assert.ok(first !== undefined && first.kind === 'bytes' && first.data.startsWith(`--${m[1]}\r\n`));
});

test('a planner-owned base header never overrides the planner (Content-Length, ETag)', () => {
  const opts = { ...OPTS, baseHeaders: { 'content-length': '1', etag: '"x"', 'Last-Modified': 'never' } };
  const p = plan('GET', {}, F, opts);
  assert.deepStrictEqual(p.headers, {
    'Accept-Ranges': 'bytes',
    'Content-Length': '10000',
    'Content-Type': OCTETS,
    ETag: E,
    'Last-Modified': LM,
  });
});

test('an invalid maxRanges is a wiring error, not a silent "no limit"', () => {
  for (const maxRanges of [0, -1, 1.5, Number.NaN]) {
    assert.throws(() => plan('GET', {}, F, { ...OPTS, maxRanges }), RangeError);
  }
});
