/**
 * The checklist (../shared/notes/range-conformance.md) over real HTTP, against
 * `node dist/app/main.js` in the mode RS_TEST_MODE names. One named case per
 * row; rows that need a process restart, clients or load live in their own files.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { BIG_SIZE, bigTail, F_LM, F_SIZE, makeFixtures, pattern, UNICODE_NAME, type Fixtures } from '../helpers/fixtures';
import { parseMultipart, raw, type RawResponse } from '../helpers/http';
import { startTestServer, type TestServer } from '../helpers/server';
import { SUITE_TIMEOUT_MS } from '../helpers/timeouts';

let fx: Fixtures;
let srv: TestServer;
let E: string;

before(async () => {
  fx = makeFixtures();
  srv = await startTestServer({ FILES_ROOT: fx.root });
  const r = await raw(srv.url, { path: '/files/f.bin', method: 'HEAD' });
  E = String(r.headers.etag);
});
after(async () => {
  await srv?.stop();
  fx?.cleanup();
});

type HeaderExpect = string | RegExp | null | ((v: string | undefined) => void);
interface Case {
  readonly row: number | string;
  readonly name: string;
  readonly method?: string;
  readonly path?: string;
  readonly headers?: () => Record<string, string | string[]>;
  readonly status: number;
  readonly expectHeaders?: () => Record<string, HeaderExpect>;
  readonly body?: (b: Buffer, r: RawResponse) => void;
}

const slice = (a: number, b: number): Buffer => pattern(a, b - a + 1);
const minusDays = (lm: string, s: number): string => new Date(Date.parse(lm) + s * 1000).toUTCString();

function check(c: Case, r: RawResponse): void {
  assert.equal(r.status, c.status, `status (got headers ${JSON.stringify(r.headers)})`);
  for (const [name, exp] of Object.entries(c.expectHeaders?.() ?? {})) {
    const v = r.headers[name.toLowerCase()];
    const value = Array.isArray(v) ? v.join(', ') : v;
    if (exp === null) assert.equal(value, undefined, `${name} must be absent`);
    else if (typeof exp === 'string') assert.equal(value, exp, name);
    else if (exp instanceof RegExp) assert.match(value ?? '', exp, name);
    else exp(value);
  }
  assert.equal(r.headers['transfer-encoding'], undefined, 'never chunked');
  if (c.method === 'HEAD') assert.equal(r.body.length, 0, 'HEAD has no body');
  else if (r.headers['content-length'] !== undefined) {
    assert.equal(r.body.length, Number(r.headers['content-length']), 'body length equals Content-Length');
  }
  c.body?.(r.body, r);
}

const fileHeaders = (): Record<string, HeaderExpect> => ({
  'Accept-Ranges': 'bytes',
  ETag: E,
  'Last-Modified': F_LM,
  'Content-Type': 'application/octet-stream',
  'Content-Disposition': 'attachment; filename="f.bin"',
});

const cases: Case[] = [
  // A. Baseline
  { row: 1, name: 'GET f.bin: 200 with strong ETag, Last-Modified, no Content-Range', path: '/files/f.bin', status: 200,
    expectHeaders: () => ({ ...fileHeaders(), 'Content-Length': '10000', 'Content-Range': null, ETag: /^"[^"]+"$/ }),
    body: (b) => assert.ok(b.equals(fx.fBin)) },
  { row: 2, name: 'HEAD f.bin: same headers as GET, no body', method: 'HEAD', path: '/files/f.bin', status: 200,
    expectHeaders: () => ({ ...fileHeaders(), 'Content-Length': '10000' }) },
  { row: 3, name: 'future mtime: Last-Modified is never later than Date', path: '/files/future.bin', status: 200,
    body: (_b, r) => assert.ok(Date.parse(String(r.headers['last-modified'])) <= Date.parse(String(r.headers.date))) },
  { row: '4a', name: 'unknown extension is application/octet-stream with nosniff', path: '/files/x.unknownext', status: 200,
    expectHeaders: () => ({ 'Content-Type': 'application/octet-stream', 'X-Content-Type-Options': 'nosniff' }) },
  { row: '4b', name: '.mp4 is video/mp4', path: '/files/a.mp4', status: 200, expectHeaders: () => ({ 'Content-Type': 'video/mp4' }) },
  { row: '4c', name: '.txt is text/plain with utf-8 charset', path: '/files/a.txt', status: 200,
    expectHeaders: () => ({ 'Content-Type': 'text/plain; charset=utf-8' }) },
  // B. Single ranges
  { row: 7, name: 'bytes=0-499: 206 with Content-Range and file Content-Type', path: '/files/f.bin', headers: () => ({ Range: 'bytes=0-499' }),
    status: 206, expectHeaders: () => ({ ...fileHeaders(), 'Content-Range': 'bytes 0-499/10000', 'Content-Length': '500' }),
    body: (b) => assert.ok(b.equals(slice(0, 499))) },
  { row: '8a', name: 'bytes=9500-: open range to the end', path: '/files/f.bin', headers: () => ({ Range: 'bytes=9500-' }), status: 206,
    expectHeaders: () => ({ 'Content-Range': 'bytes 9500-9999/10000', 'Content-Length': '500' }), body: (b) => assert.ok(b.equals(slice(9500, 9999))) },
  { row: '8b', name: 'bytes=-500: suffix range', path: '/files/f.bin', headers: () => ({ Range: 'bytes=-500' }), status: 206,
    expectHeaders: () => ({ 'Content-Range': 'bytes 9500-9999/10000', 'Content-Length': '500' }), body: (b) => assert.ok(b.equals(slice(9500, 9999))) },
  { row: '9a', name: 'bytes=0-0: first byte', path: '/files/f.bin', headers: () => ({ Range: 'bytes=0-0' }), status: 206,
    expectHeaders: () => ({ 'Content-Range': 'bytes 0-0/10000', 'Content-Length': '1' }), body: (b) => assert.deepEqual([...b], [0]) },
  { row: '9b', name: 'bytes=9999-9999: last byte', path: '/files/f.bin', headers: () => ({ Range: 'bytes=9999-9999' }), status: 206,
    expectHeaders: () => ({ 'Content-Range': 'bytes 9999-9999/10000', 'Content-Length': '1' }), body: (b) => assert.deepEqual([...b], [9999 % 251]) },
  { row: '9c', name: 'bytes=-1: last byte', path: '/files/f.bin', headers: () => ({ Range: 'bytes=-1' }), status: 206,
    expectHeaders: () => ({ 'Content-Range': 'bytes 9999-9999/10000', 'Content-Length': '1' }) },
  { row: 10, name: 'bytes=0-: whole file as 206', path: '/files/f.bin', headers: () => ({ Range: 'bytes=0-' }), status: 206,
    expectHeaders: () => ({ 'Content-Range': 'bytes 0-9999/10000', 'Content-Length': '10000' }), body: (b) => assert.ok(b.equals(fx.fBin)) },
  { row: 11, name: 'bytes=9000-20000: last-pos clipped', path: '/files/f.bin', headers: () => ({ Range: 'bytes=9000-20000' }), status: 206,
    expectHeaders: () => ({ 'Content-Range': 'bytes 9000-9999/10000', 'Content-Length': '1000' }) },
  { row: 12, name: 'bytes=-20000: suffix longer than the file selects it all', path: '/files/f.bin', headers: () => ({ Range: 'bytes=-20000' }),
    status: 206, expectHeaders: () => ({ 'Content-Range': 'bytes 0-9999/10000', 'Content-Length': '10000' }) },
  { row: '13a', name: 'bytes=10000-: 416 with bytes */10000 and its own length', path: '/files/f.bin', headers: () => ({ Range: 'bytes=10000-' }),
    status: 416, expectHeaders: () => ({ 'Content-Range': 'bytes */10000', 'Content-Length': (v) => assert.notEqual(v, '10000') }) },
  { row: '13b', name: 'bytes=10000-10005: 416', path: '/files/f.bin', headers: () => ({ Range: 'bytes=10000-10005' }), status: 416,
    expectHeaders: () => ({ 'Content-Range': 'bytes */10000' }) },
  { row: 14, name: 'bytes=-0: 416', path: '/files/f.bin', headers: () => ({ Range: 'bytes=-0' }), status: 416, expectHeaders: () => ({ 'Content-Range': 'bytes */10000' }) },
  { row: '15a', name: 'empty file without Range: 200, length 0', path: '/files/empty.bin', status: 200, expectHeaders: () => ({ 'Content-Length': '0', 'Content-Range': null }) },
  { row: '15b', name: 'empty file with bytes=0-: 200', path: '/files/empty.bin', headers: () => ({ Range: 'bytes=0-' }), status: 200,
    expectHeaders: () => ({ 'Content-Length': '0', 'Content-Range': null }) },
  { row: '15c', name: 'empty file with bytes=-5: 200', path: '/files/empty.bin', headers: () => ({ Range: 'bytes=-5' }), status: 200,
    expectHeaders: () => ({ 'Content-Length': '0', 'Content-Range': null }) },
  { row: 16, name: 'leading zeros are digits', path: '/files/f.bin', headers: () => ({ Range: 'bytes=0000-0009' }), status: 206,
    expectHeaders: () => ({ 'Content-Range': 'bytes 0-9/10000' }) },
  { row: '17a', name: 'huge last-pos is clipped, not an overflow', path: '/files/f.bin', headers: () => ({ Range: 'bytes=0-99999999999999999999999' }),
    status: 206, expectHeaders: () => ({ 'Content-Range': 'bytes 0-9999/10000' }) },
  { row: '17b', name: 'huge first-pos is unsatisfiable', path: '/files/f.bin', headers: () => ({ Range: 'bytes=99999999999999999999999-' }), status: 416 },
  { row: '17c', name: '2^53+1 does not round into range', path: '/files/f.bin', headers: () => ({ Range: 'bytes=9007199254740993-' }), status: 416 },
  { row: '18a', name: 'offset beyond 4 GiB in a 5 GiB file', path: '/files/big.bin', headers: () => ({ Range: 'bytes=5368709000-' }), status: 206,
    expectHeaders: () => ({ 'Content-Range': 'bytes 5368709000-5368709119/5368709120', 'Content-Length': '120' }),
    body: (b) => assert.ok(b.equals(bigTail(5368709000, 120))) },
  { row: '18b', name: 'HEAD of the 5 GiB file carries its full length', method: 'HEAD', path: '/files/big.bin', status: 200,
    expectHeaders: () => ({ 'Content-Length': String(BIG_SIZE) }) },
  // C. Syntax robustness
  { row: '19a', name: 'unit is case-insensitive (Bytes)', path: '/files/f.bin', headers: () => ({ Range: 'Bytes=0-4' }), status: 206,
    expectHeaders: () => ({ 'Content-Range': 'bytes 0-4/10000' }) },
  { row: '19b', name: 'unit is case-insensitive (BYTES)', path: '/files/f.bin', headers: () => ({ Range: 'BYTES=0-4' }), status: 206 },
  { row: 20, name: 'spaces after = and around commas: two ranges', path: '/files/f.bin', headers: () => ({ Range: 'bytes= 0-4, 10-14' }), status: 206,
    expectHeaders: () => ({ 'Content-Type': /^multipart\/byteranges; boundary=/ }),
    body: (b, r) => assert.deepEqual(parseMultipart(b, String(r.headers['content-type'])).map((p) => p.contentRange), ['bytes 0-4/10000', 'bytes 10-14/10000']) },
  { row: 21, name: 'empty list elements are skipped', path: '/files/f.bin', headers: () => ({ Range: 'bytes=0-4,,10-14,' }), status: 206,
    body: (b, r) => assert.deepEqual(parseMultipart(b, String(r.headers['content-type'])).map((p) => p.contentRange), ['bytes 0-4/10000', 'bytes 10-14/10000']) },
  { row: 22, name: 'unknown unit is ignored', path: '/files/f.bin', headers: () => ({ Range: 'items=0-4' }), status: 200, expectHeaders: () => ({ 'Content-Range': null }) },
  ...['bytes=abc', 'bytes=5', 'bytes=--5', 'bytes=1-2-3', 'bytes=0x10-', 'bytes=+1-2', 'bytes=1e3-', 'bytes=', 'bytes=-'].map(
    (v, i): Case => ({ row: `23${'abcdefghi'[i]}`, name: `malformed ${v} is ignored`, path: '/files/f.bin', headers: () => ({ Range: v }), status: 200,
      expectHeaders: () => ({ 'Content-Range': null, 'Content-Length': '10000' }) }),
  ),
  { row: 24, name: 'last < first is invalid: ignored', path: '/files/f.bin', headers: () => ({ Range: 'bytes=500-400' }), status: 200 },
  { row: '25a', name: 'whitespace inside an int-range: one fixed policy, never 500', path: '/files/f.bin', headers: () => ({ Range: 'bytes=0 - 4' }),
    status: 200, expectHeaders: () => ({ 'Content-Range': null }) },
  { row: '25b', name: 'a tab inside the spec: same policy', path: '/files/f.bin', headers: () => ({ Range: 'bytes=0-\t4' }), status: 200 },
  { row: 26, name: 'two Range lines: ignored', path: '/files/f.bin', headers: () => ({ Range: ['bytes=0-1', 'bytes=5-6'] }), status: 200,
    expectHeaders: () => ({ 'Content-Range': null }) },
  { row: '27a', name: '1 400 range specs under the header limit: bounded, whole file', path: '/files/f.bin',
    headers: () => ({ Range: 'bytes=' + Array.from({ length: 1400 }, (_, i) => `${i * 2}-${i * 2}`).join(',') }), status: 200,
    expectHeaders: () => ({ 'Content-Length': '10000' }) },
  // D. Multiple ranges
  { row: 28, name: 'two ranges: exact multipart/byteranges', path: '/files/f.bin', headers: () => ({ Range: 'bytes=0-49,100-149' }), status: 206,
    expectHeaders: () => ({ 'Content-Range': null, 'Content-Type': /^multipart\/byteranges; boundary=[0-9A-Za-z'()+_,./:=?-]{1,70}$/ }),
    body: (b, r) => {
      const parts = parseMultipart(b, String(r.headers['content-type']));
      assert.deepEqual(parts.map((p) => [p.contentRange, p.contentType]), [['bytes 0-49/10000', 'application/octet-stream'], ['bytes 100-149/10000', 'application/octet-stream']]);
      assert.ok(parts[0]!.data.equals(slice(0, 49)) && parts[1]!.data.equals(slice(100, 149)));
    } },
  { row: 29, name: 'parts keep request order', path: '/files/f.bin', headers: () => ({ Range: 'bytes=100-149,0-49' }), status: 206,
    body: (b, r) => {
      const parts = parseMultipart(b, String(r.headers['content-type']));
      assert.deepEqual(parts.map((p) => p.contentRange), ['bytes 100-149/10000', 'bytes 0-49/10000']);
      assert.ok(parts[0]!.data.equals(slice(100, 149)));
    } },
  { row: '30a', name: 'overlapping ranges are coalesced to one part', path: '/files/f.bin', headers: () => ({ Range: 'bytes=0-99,50-149' }), status: 206,
    expectHeaders: () => ({ 'Content-Range': 'bytes 0-149/10000', 'Content-Length': '150' }) },
  { row: '30b', name: 'adjacent ranges are coalesced to one part', path: '/files/f.bin', headers: () => ({ Range: 'bytes=0-49,50-99' }), status: 206,
    expectHeaders: () => ({ 'Content-Range': 'bytes 0-99/10000' }) },
  { row: 31, name: 'satisfiable subset only, never 416', path: '/files/f.bin', headers: () => ({ Range: 'bytes=0-9,20000-20010' }), status: 206,
    expectHeaders: () => ({ 'Content-Range': 'bytes 0-9/10000', 'Content-Length': '10' }) },
  { row: '32a', name: '50 × bytes=0-: whole file, no huge multipart', path: '/files/f.bin', headers: () => ({ Range: 'bytes=' + Array(50).fill('0-').join(',') }),
    status: 200, expectHeaders: () => ({ 'Content-Length': '10000', 'Content-Range': null }) },
  { row: '32b', name: '200 single-byte ranges exceed MAX_RANGES: 200 full', path: '/files/f.bin',
    headers: () => ({ Range: 'bytes=' + Array.from({ length: 200 }, (_, i) => `${i * 4}-${i * 4}`).join(',') }), status: 200,
    expectHeaders: () => ({ 'Content-Length': '10000', 'Content-Range': null }) },
  // E. Methods
  { row: 33, name: 'HEAD with Range is 200 without Content-Range', method: 'HEAD', path: '/files/f.bin', headers: () => ({ Range: 'bytes=0-499' }), status: 200,
    expectHeaders: () => ({ 'Content-Length': '10000', 'Content-Range': null }) },
  ...['POST', 'PUT', 'DELETE'].map((m): Case => ({ row: `34 ${m}`, name: `${m} with Range: 405 with Allow`, method: m, path: '/files/f.bin',
    headers: () => ({ Range: 'bytes=0-9' }), status: 405, expectHeaders: () => ({ Allow: 'GET, HEAD', 'Content-Range': null }) })),
  { row: 35, name: 'missing file with Range and If-Match: 404', path: '/files/missing.bin', headers: () => ({ Range: 'bytes=0-9', 'If-Match': '*' }), status: 404 },
  // F. Preconditions
  { row: 36, name: 'If-None-Match: E is 304 without body or Content-Type', path: '/files/f.bin', headers: () => ({ 'If-None-Match': E }), status: 304,
    expectHeaders: () => ({ ETag: E, 'Content-Type': null, 'Content-Range': null, Date: /GMT$/ }), body: (b) => assert.equal(b.length, 0) },
  { row: '37a', name: 'If-None-Match weak form matches (weak comparison)', path: '/files/f.bin', headers: () => ({ 'If-None-Match': `W/${E}` }), status: 304 },
  { row: '37b', name: 'If-None-Match: * matches an existing file', path: '/files/f.bin', headers: () => ({ 'If-None-Match': '*' }), status: 304 },
  { row: '37c', name: 'If-None-Match on HEAD is 304 too', method: 'HEAD', path: '/files/f.bin', headers: () => ({ 'If-None-Match': E }), status: 304 },
  { row: 38, name: 'If-None-Match: E with Range is 304', path: '/files/f.bin', headers: () => ({ 'If-None-Match': E, Range: 'bytes=0-9' }), status: 304 },
  { row: 39, name: 'IMS ignored when INM present', path: '/files/f.bin', headers: () => ({ 'If-None-Match': '"other"', 'If-Modified-Since': F_LM }), status: 200 },
  { row: '40a', name: 'IMS = LM: 304', path: '/files/f.bin', headers: () => ({ 'If-Modified-Since': F_LM }), status: 304 },
  { row: '40b', name: 'IMS = LM - 1 s: 200', path: '/files/f.bin', headers: () => ({ 'If-Modified-Since': minusDays(F_LM, -1) }), status: 200 },
  { row: '40c', name: 'IMS = LM + 1 day: 304', path: '/files/f.bin', headers: () => ({ 'If-Modified-Since': minusDays(F_LM, 86400) }), status: 304 },
  { row: '40d', name: 'IMS garbage: 200', path: '/files/f.bin', headers: () => ({ 'If-Modified-Since': 'garbage' }), status: 200 },
  { row: '40e', name: 'IMS = LM on HEAD: 304', method: 'HEAD', path: '/files/f.bin', headers: () => ({ 'If-Modified-Since': F_LM }), status: 304 },
  { row: '41a', name: 'If-Match: E with Range: 206', path: '/files/f.bin', headers: () => ({ 'If-Match': E, Range: 'bytes=100-' }), status: 206,
    expectHeaders: () => ({ 'Content-Range': 'bytes 100-9999/10000' }) },
  { row: '41b', name: 'If-Match: * : 200', path: '/files/f.bin', headers: () => ({ 'If-Match': '*' }), status: 200 },
  { row: '42a', name: 'If-Match stale: 412 without Content-Range', path: '/files/f.bin', headers: () => ({ 'If-Match': '"stale"' }), status: 412,
    expectHeaders: () => ({ 'Content-Range': null }) },
  { row: '42b', name: 'If-Match stale with Range: 412', path: '/files/f.bin', headers: () => ({ 'If-Match': '"stale"', Range: 'bytes=0-9' }), status: 412 },
  { row: 43, name: 'If-Match weak tag never matches', path: '/files/f.bin', headers: () => ({ 'If-Match': `W/${E}` }), status: 412 },
  { row: '44a', name: 'IUS before LM: 412', path: '/files/f.bin', headers: () => ({ 'If-Unmodified-Since': minusDays(F_LM, -86400) }), status: 412 },
  { row: '44b', name: 'IUS = LM: 200', path: '/files/f.bin', headers: () => ({ 'If-Unmodified-Since': F_LM }), status: 200 },
  { row: '44c', name: 'IUS invalid date: 200', path: '/files/f.bin', headers: () => ({ 'If-Unmodified-Since': 'not a date' }), status: 200 },
  { row: '44d', name: 'If-Match E makes IUS ignored', path: '/files/f.bin', headers: () => ({ 'If-Match': E, 'If-Unmodified-Since': minusDays(F_LM, -86400) }), status: 200 },
  { row: 45, name: 'If-Match is evaluated before If-None-Match', path: '/files/f.bin', headers: () => ({ 'If-Match': '"nope"', 'If-None-Match': E }), status: 412 },
  // G. If-Range
  { row: 46, name: 'If-Range: E: 206', path: '/files/f.bin', headers: () => ({ Range: 'bytes=100-', 'If-Range': E }), status: 206,
    expectHeaders: () => ({ 'Content-Range': 'bytes 100-9999/10000' }) },
  { row: 47, name: 'If-Range stale: 200 full with current ETag', path: '/files/f.bin', headers: () => ({ Range: 'bytes=100-', 'If-Range': '"stale"' }), status: 200,
    expectHeaders: () => ({ ETag: E, 'Content-Length': '10000', 'Content-Range': null }) },
  { row: 48, name: 'If-Range weak: 200 full', path: '/files/f.bin', headers: () => ({ Range: 'bytes=100-', 'If-Range': `W/${E}` }), status: 200 },
  { row: '49a', name: 'If-Range list containing E: 200', path: '/files/f.bin', headers: () => ({ Range: 'bytes=100-', 'If-Range': `"zz", ${E}` }), status: 200 },
  { row: '49b', name: 'If-Range with E inside a longer value: 200', path: '/files/f.bin', headers: () => ({ Range: 'bytes=100-', 'If-Range': `x${E}` }), status: 200 },
  { row: 50, name: 'If-Range date equal to a strong LM: 206', path: '/files/f.bin', headers: () => ({ Range: 'bytes=100-', 'If-Range': F_LM }), status: 206 },
  { row: 51, name: 'If-Range date one second later: 200', path: '/files/f.bin', headers: () => ({ Range: 'bytes=100-', 'If-Range': minusDays(F_LM, 1) }), status: 200 },
  { row: 53.1, name: 'If-Range garbage: 200', path: '/files/f.bin', headers: () => ({ Range: 'bytes=100-', 'If-Range': 'garbage' }), status: 200 },
  { row: 53.2, name: 'If-Range without Range: 200', path: '/files/f.bin', headers: () => ({ 'If-Range': E }), status: 200 },
  { row: 54, name: 'If-Range matches but range unsatisfiable: 416', path: '/files/f.bin', headers: () => ({ Range: 'bytes=20000-', 'If-Range': E }), status: 416,
    expectHeaders: () => ({ 'Content-Range': 'bytes */10000' }) },
  // I. Content-Disposition
  { row: 60, name: 'non-ASCII name: ASCII fallback and filename*', path: '/files/' + encodeURIComponent(UNICODE_NAME), status: 200,
    expectHeaders: () => ({ 'Content-Disposition': (v) => {
      assert.match(v ?? '', /^attachment; filename="[\x20-\x7e]+"; filename\*=UTF-8''r%C3%A9sum%C3%A9%20%E6%97%A5%E6%9C%AC%20%28v2%29%2A%27\.pdf$/);
      assert.doesNotMatch(/filename="([^"]*)"/.exec(v ?? '')?.[1] ?? '', /%[0-9A-F]{2}|\\/);
    } }) },
  { row: 61, name: 'Latin-1 name still gets filename*', path: '/files/' + encodeURIComponent('résumé.pdf'), status: 200,
    expectHeaders: () => ({ 'Content-Disposition': `attachment; filename="resume.pdf"; filename*=UTF-8''r%C3%A9sum%C3%A9.pdf` }) },
  { row: '62a', name: '206 carries the same Content-Disposition', path: '/files/f.bin', headers: () => ({ Range: 'bytes=0-1' }), status: 206,
    expectHeaders: () => ({ 'Content-Disposition': 'attachment; filename="f.bin"' }) },
  { row: '62b', name: 'inline on request', path: '/files/f.bin?disposition=inline', status: 200, expectHeaders: () => ({ 'Content-Disposition': 'inline; filename="f.bin"' }) },
  // J. Paths
  ...['/files/../../etc/passwd', '/files/%2e%2e/%2e%2e/etc/passwd', '/files/%2E%2e%2fetc%2fpasswd', '/files/sub%2f..%2f..%2fetc%2fpasswd',
    '/files/..%5c..%5cetc%5cpasswd', '/files/..\\..\\x', '/files//etc/passwd', '/files/C:/Windows/win.ini', '/files/%5c%5cserver%5cshare',
    '/files?path=/etc/passwd', '/files?path=../../etc/passwd', '/files?path=sub/../../x', '/files/link-out/passwd', '/files/.env',
    '/files/.git/config', '/files/sub/.hidden/x', '/files/pipe', '/files/f.bin/x', '/files/' + 'a'.repeat(4096), '/files/dir/child.txt/']
    .map((p, i): Case => ({ row: `63-69.${i}`, name: `refused without a byte from outside: ${p.slice(0, 60)}`, path: p, status: 404,
      body: (b) => assert.ok(!b.toString().includes('secret') && !b.toString().includes('/tmp') && !b.toString().includes('at ')) })),
  { row: '65a', name: 'NUL byte: 400', path: '/files/f.bin%00.txt', status: 400 },
  { row: '65b', name: 'broken percent-encoding: 400', path: '/files/%E0%A4%A', status: 400 },
  { row: '66b', name: 'a symlink inside the root is served', path: '/files/link-in.bin', status: 200, expectHeaders: () => ({ 'Content-Length': '10000' }) },
  { row: '68a', name: 'directory without slash redirects to the listing', path: '/files/dir', status: 301, expectHeaders: () => ({ Location: '/files/dir/' }) },
  { row: 'query', name: 'query form serves the same file', path: '/files?path=f.bin', headers: () => ({ Range: 'bytes=0-9' }), status: 206,
    expectHeaders: () => ({ ETag: E, 'Content-Range': 'bytes 0-9/10000' }) },
  // K. Coding
  { row: 73, name: 'Accept-Encoding gzip: identity 206', path: '/files/a.txt', headers: () => ({ 'Accept-Encoding': 'gzip, br', Range: 'bytes=0-4' }), status: 206,
    expectHeaders: () => ({ 'Content-Encoding': null, 'Content-Range': 'bytes 0-4/11' }) },
  // M. CORS
  { row: '79a', name: 'CORS on 206', path: '/files/f.bin', headers: () => ({ Origin: 'https://app.example', Range: 'bytes=0-99' }), status: 206,
    expectHeaders: () => ({ 'Access-Control-Allow-Origin': '*', 'Access-Control-Expose-Headers': /Content-Range.*Accept-Ranges.*ETag.*Content-Disposition.*Content-Length/ }) },
  { row: '79b', name: 'CORS on 304', path: '/files/f.bin', headers: () => ({ Origin: 'https://app.example', 'If-None-Match': E }), status: 304,
    expectHeaders: () => ({ 'Access-Control-Allow-Origin': '*' }) },
  { row: '79c', name: 'CORS on 412', path: '/files/f.bin', headers: () => ({ Origin: 'https://app.example', 'If-Match': '"x"' }), status: 412,
    expectHeaders: () => ({ 'Access-Control-Allow-Origin': '*' }) },
  { row: '79d', name: 'CORS on 416', path: '/files/f.bin', headers: () => ({ Origin: 'https://app.example', Range: 'bytes=20000-' }), status: 416,
    expectHeaders: () => ({ 'Access-Control-Allow-Origin': '*' }) },
  { row: 80, name: 'preflight for range and if-range', method: 'OPTIONS', path: '/files/f.bin',
    headers: () => ({ Origin: 'https://app.example', 'Access-Control-Request-Method': 'GET', 'Access-Control-Request-Headers': 'range, if-range' }), status: 204,
    expectHeaders: () => ({ 'Access-Control-Allow-Methods': 'GET, HEAD',
      'Access-Control-Allow-Headers': (v) => { for (const h of ['Range', 'If-Range', 'If-Match', 'If-None-Match', 'If-Modified-Since', 'If-Unmodified-Since']) assert.ok(v?.includes(h), h); } }) },
];

describe(`checklist over HTTP (${process.env['RS_TEST_MODE'] ?? 'stream'})`, { timeout: SUITE_TIMEOUT_MS }, () => {
  for (const c of cases) {
    test(`row ${c.row}: ${c.name}`, async () => {
      const r = await raw(srv.url, { method: c.method ?? 'GET', path: c.path ?? '/files/f.bin', headers: c.headers?.() ?? {} });
      check(c, r);
    });
  }

  test('row 27b: a Range header over 16 KiB gets 431 from the header limit (or a reset while still sending), never a crash', async () => {
    const huge = 'bytes=' + Array.from({ length: 10_000 }, (_, i) => `${i * 2}-${i * 2}`).join(',');
    // Node answers 431 and closes while the client may still be writing the header,
    // so the client can see the reset before it reads the 431.
    const outcome = await raw(srv.url, { path: '/files/f.bin', headers: { Range: huge } }).then(
      (r) => r.status,
      (err: NodeJS.ErrnoException) => err.code,
    );
    assert.ok(outcome === 431 || outcome === 'ECONNRESET' || outcome === 'EPIPE', String(outcome));
    assert.equal((await raw(srv.url, { path: '/files/f.bin' })).status, 200, 'the server still serves');
  });

  test('row 52: If-Range with the Last-Modified of a file changed within 60 s: 200', async () => {
    const head = await raw(srv.url, { method: 'HEAD', path: '/files/fresh.bin' });
    const r = await raw(srv.url, { path: '/files/fresh.bin', headers: { Range: 'bytes=10-', 'If-Range': String(head.headers['last-modified']) } });
    assert.equal(r.status, 200);
  });

  test('row 5: ETag has no inode, device or pid and is identical for a copy with the same size and mtime', async () => {
    const copy = path.join(fx.root, 'copy-of-f.bin');
    fs.copyFileSync(path.join(fx.root, 'f.bin'), copy);
    const st = fs.statSync(path.join(fx.root, 'f.bin'), { bigint: true });
    // utimes only takes seconds with sub-second fractions; set ns-exact copies via the same seconds value (f.bin has whole seconds).
    fs.utimesSync(copy, Number(st.atimeMs) / 1000, Number(st.mtimeNs / 1000000n) / 1000);
    const a = await raw(srv.url, { method: 'HEAD', path: '/files/copy-of-f.bin' });
    assert.equal(a.headers.etag, E);
    assert.equal(a.headers['last-modified'], F_LM);
    // The copy has another inode: equal tags prove the inode is not in them.
    assert.notEqual(fs.statSync(copy).ino, Number(st.ino));
    fs.rmSync(copy);
  });

  test('row 6 and 55: a rewritten file gets a new ETag; If-Range with the old one gets 200, If-Match gets 412', async () => {
    const p = path.join(fx.root, 'changing.bin');
    fs.writeFileSync(p, pattern(0, 8000));
    fs.utimesSync(p, new Date('2021-01-01T00:00:00Z'), new Date('2021-01-01T00:00:00Z'));
    const e1 = String((await raw(srv.url, { method: 'HEAD', path: '/files/changing.bin' })).headers.etag);
    fs.writeFileSync(p, pattern(7, 8000));
    fs.utimesSync(p, new Date('2021-01-02T00:00:00Z'), new Date('2021-01-02T00:00:00Z'));
    const r = await raw(srv.url, { path: '/files/changing.bin', headers: { Range: 'bytes=4000-', 'If-Range': e1 } });
    assert.equal(r.status, 200);
    assert.notEqual(r.headers.etag, e1);
    assert.ok(r.body.equals(pattern(7, 8000)));
    const m = await raw(srv.url, { path: '/files/changing.bin', headers: { Range: 'bytes=4000-', 'If-Match': e1 } });
    assert.equal(m.status, 412);
  });

  test('row 68: /files/dir/ is a listing (HTML for browsers, JSON on request) without dotfiles or escapes', async () => {
    const html = await raw(srv.url, { path: '/files/', headers: { Accept: 'text/html,application/xhtml+xml,*/*;q=0.8' } });
    assert.equal(html.status, 200);
    assert.match(String(html.headers['content-type']), /^text\/html/);
    assert.match(html.body.toString(), /href="\/files\/f\.bin"/);
    const json = await raw(srv.url, { path: '/files/', headers: { Accept: 'application/json' } });
    const listing = JSON.parse(json.body.toString()) as { path: string; entries: { name: string; type: string; size: number; href: string }[] };
    const names = listing.entries.map((e) => e.name);
    assert.ok(names.includes('f.bin') && names.includes('dir') && names.includes('link-in.bin'));
    for (const hidden of ['.env', '.git', 'pipe', 'link-out']) assert.ok(!names.includes(hidden), `${hidden} not listed`);
    assert.deepEqual(listing.entries.find((e) => e.name === 'f.bin'), { ...listing.entries.find((e) => e.name === 'f.bin')!, size: F_SIZE, type: 'file', href: '/files/f.bin' });
    const sub = await raw(srv.url, { path: '/files/dir/', headers: { Accept: 'application/json' } });
    assert.deepEqual((JSON.parse(sub.body.toString()) as { entries: { name: string }[] }).entries.map((e) => e.name), ['child.txt']);
  });

  test('healthz: 200 JSON with mode, version and pid', async () => {
    const r = await raw(srv.url, { path: '/healthz' });
    assert.equal(r.status, 200);
    const h = JSON.parse(r.body.toString()) as { status: string; mode: string; version: string; pid: number };
    assert.equal(h.status, 'ok');
    assert.equal(typeof h.version, 'string');
    assert.equal(typeof h.pid, 'number');
    assert.ok(['stream', 'worker', 'cluster'].includes(h.mode));
  });

  test('no response carries a stack trace or an absolute path', async () => {
    for (const p of ['/files/%E0%A4%A', '/files/missing', '/nope', '/files/pipe', '/files?path=/etc/passwd']) {
      const r = await raw(srv.url, { path: p });
      const text = r.body.toString();
      assert.ok(!text.includes(fx.root) && !/\n\s+at /.test(text), `${p}: ${text}`);
    }
  });
});
