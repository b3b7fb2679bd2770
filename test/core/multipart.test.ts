/**
 * multipart/byteranges framing. The plan's body pieces are materialised
 * against the f.bin pattern (byte i = i mod 251) and read back with a small
 * multipart parser written here from RFC 2046 §5.1.1, independently of
 * app/core/multipart.ts, so a framing mistake cannot cancel itself out.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  contentRange,
  generateBoundary,
  isValidBoundary,
  multipartBody,
  multipartContentType,
} from '../../app/core/multipart';
import { planResponse } from '../../app/core/plan';
import type { BodyPiece, ByteSpan, FileMeta, PlanOptions } from '../../app/core/types';

const F: FileMeta = { size: 10_000, mtimeNs: 1_577_836_800_000_000_000n };
const NOW = new Date('2024-06-01T12:00:00Z');

function fileBytes(start: number, end: number): Buffer {
  const b = Buffer.alloc(end - start + 1);
  for (let i = start; i <= end; i++) b[i - start] = i % 251;
  return b;
}

function materialise(pieces: readonly BodyPiece[]): Buffer {
  return Buffer.concat(
    pieces.map((p) => (p.kind === 'file' ? fileBytes(p.start, p.end) : Buffer.from(p.data, 'utf8'))),
  );
}

interface Part {
  readonly headers: Map<string, string>;
  readonly data: Buffer;
}

/**
 * Parses a multipart body per RFC 2046: a delimiter is CRLF "--" boundary
 * (the first one may start the body), followed by CRLF and the part headers,
 * an empty line, and the data up to the next delimiter; "--" after the
 * boundary closes the body. Throws on anything unexpected.
 */
function parseMultipart(body: Buffer, boundary: string): { parts: Part[]; epilogue: Buffer } {
  const dash = Buffer.from(`--${boundary}`);
  const delimiter = Buffer.from(`\r\n--${boundary}`);
  assert.ok(body.subarray(0, dash.length).equals(dash), 'body must start with the first dash-boundary (no preamble)');
  let pos = dash.length;
  const parts: Part[] = [];
  for (;;) {
    if (body.subarray(pos, pos + 2).toString('latin1') === '--') {
      return { parts, epilogue: body.subarray(pos + 2) };
    }
    assert.equal(body.subarray(pos, pos + 2).toString('latin1'), '\r\n', 'CRLF after the boundary');
    pos += 2;
    const headerEnd = body.indexOf('\r\n\r\n', pos, 'latin1');
    assert.ok(headerEnd >= 0, 'part headers end with an empty line');
    const headers = new Map<string, string>();
    for (const line of body.subarray(pos, headerEnd).toString('latin1').split('\r\n')) {
      const colon = line.indexOf(':');
      assert.ok(colon > 0, `header line ${JSON.stringify(line)}`);
      headers.set(line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim());
    }
    const dataStart = headerEnd + 4;
    const next = body.indexOf(delimiter, dataStart);
    assert.ok(next >= 0, 'every part is followed by a delimiter');
    parts.push({ headers, data: body.subarray(dataStart, next) });
    pos = next + delimiter.length;
  }
}

function checkAgainstSpans(pieces: readonly BodyPiece[], length: number, boundary: string, spans: readonly ByteSpan[], type: string): void {
  const body = materialise(pieces);
  assert.equal(body.length, length, 'declared length equals the bytes produced');
  const { parts, epilogue } = parseMultipart(body, boundary);
  assert.equal(epilogue.toString('latin1'), '\r\n', 'close-delimiter ends with CRLF and nothing after');
  assert.equal(parts.length, spans.length);
  parts.forEach((part, i) => {
    const span = spans[i]!;
    assert.equal(part.headers.get('content-range'), `bytes ${span.start}-${span.end}/${F.size}`);
    assert.equal(part.headers.get('content-type'), type);
    assert.equal(part.headers.size, 2);
    assert.ok(part.data.equals(fileBytes(span.start, span.end)), `part ${i} bytes`);
  });
}

const OPTS: PlanOptions = { contentType: 'application/octet-stream', maxRanges: 16, boundary: 'BOUNDARY' };

interface Row {
  readonly name: string;
  readonly range: string;
  readonly spans: readonly ByteSpan[];
  readonly boundary?: string;
}

const ROWS: Row[] = [
  { name: 'row 28: bytes=0-49,100-149 parses back into two parts with the right Content-Range and bytes', range: 'bytes=0-49,100-149', spans: [{ start: 0, end: 49 }, { start: 100, end: 149 }] },
  { name: 'row 29: bytes=100-149,0-49 keeps request order', range: 'bytes=100-149,0-49', spans: [{ start: 100, end: 149 }, { start: 0, end: 49 }] },
  { name: 'row 20: bytes= 0-4, 10-14 is two parts', range: 'bytes= 0-4, 10-14', spans: [{ start: 0, end: 4 }, { start: 10, end: 14 }] },
  { name: 'row 21: bytes=0-4,,10-14, is two parts', range: 'bytes=0-4,,10-14,', spans: [{ start: 0, end: 4 }, { start: 10, end: 14 }] },
  { name: 'row 30: a coalesced span is one part among others', range: 'bytes=500-599,10-19,0-9', spans: [{ start: 500, end: 599 }, { start: 0, end: 19 }] },
  { name: 'row 9: first and last byte (bytes=0-0,-1)', range: 'bytes=0-0,-1', spans: [{ start: 0, end: 0 }, { start: 9999, end: 9999 }] },
  { name: 'row 32: sixteen one-byte parts (the cap)', range: 'bytes=' + Array.from({ length: 16 }, (_, i) => `${i * 7}-${i * 7}`).join(','), spans: Array.from({ length: 16 }, (_, i) => ({ start: i * 7, end: i * 7 })) },
  { name: 'row 28: a 70-character boundary of every allowed character class', range: 'bytes=0-1,3-4', spans: [{ start: 0, end: 1 }, { start: 3, end: 4 }], boundary: "'+_.-" + 'a'.repeat(54) + 'Z0123456789' },
];

for (const row of ROWS) {
  test(row.name, () => {
    const boundary = row.boundary ?? 'BOUNDARY';
    assert.ok(boundary.length >= 1 && boundary.length <= 70);
    const plan = planResponse({ method: 'GET', range: row.range, now: NOW }, F, { ...OPTS, boundary });
    assert.equal(plan.status, 206);
    assert.equal(plan.headers['Content-Type'], `multipart/byteranges; boundary=${boundary}`);
    assert.equal(plan.headers['Content-Range'], undefined, 'no top-level Content-Range on a multipart 206 (§14.4)');
    assert.equal(plan.headers['Content-Length'], String(plan.bodyLength));
    checkAgainstSpans(plan.body, plan.bodyLength, boundary, row.spans, 'application/octet-stream');
  });
}

test('row 28: the exact wire bytes of bytes=0-4,10-14', () => {
  const { pieces, length } = multipartBody([{ start: 0, end: 4 }, { start: 10, end: 14 }], 10_000, 'application/octet-stream', 'B');
  const expected =
    '--B\r\nContent-Type: application/octet-stream\r\nContent-Range: bytes 0-4/10000\r\n\r\n' +
    '\u0000\u0001\u0002\u0003\u0004' +
    '\r\n--B\r\nContent-Type: application/octet-stream\r\nContent-Range: bytes 10-14/10000\r\n\r\n' +
    '\u000a\u000b\u000c\u000d\u000e' +
    '\r\n--B--\r\n';
  assert.equal(materialise(pieces).toString('latin1'), expected);
  assert.equal(length, expected.length);
  assert.equal(length, 181);
});

test('the part Content-Type is the file type, with its charset', () => {
  const type = 'text/plain; charset=utf-8';
  const spans = [{ start: 0, end: 9 }, { start: 20, end: 29 }];
  const { pieces, length } = multipartBody(spans, F.size, type, 'xyz');
  checkAgainstSpans(pieces, length, 'xyz', spans, type);
});

test('the length is computed up front for a 5 GiB file and equals the framing plus the data', () => {
  const size = 5_368_709_120;
  const spans = [{ start: 0, end: 0 }, { start: size - 120, end: size - 1 }];
  const { pieces, length } = multipartBody(spans, size, 'application/octet-stream', 'B');
  const framing = pieces.reduce((n, p) => n + (p.kind === 'bytes' ? Buffer.byteLength(p.data) : 0), 0);
  assert.equal(length, framing + 1 + 120);
  const heads = pieces.filter((p): p is Extract<BodyPiece, { kind: 'bytes' }> => p.kind === 'bytes').map((p) => p.data);
  assert.ok(heads[1]!.includes('Content-Range: bytes 5368709000-5368709119/5368709120\r\n'));
});

test('boundaries: 1-70 token-safe characters, generated ones are 32 hex digits', () => {
  for (const ok of ['a', 'B', '0', 'a'.repeat(70), "x'+_.-y", 'BOUNDARY']) assert.ok(isValidBoundary(ok), ok);
  for (const bad of ['', 'a'.repeat(71), 'has space', 'quo"te', 'a,b', 'a/b', 'a:b', 'a=b', 'a?b', 'a(b)', 'é', 'a\r\nb']) {
    assert.ok(!isValidBoundary(bad), JSON.stringify(bad));
  }
  const a = generateBoundary();
  const b = generateBoundary();
  assert.match(a, /^[0-9a-f]{32}$/);
  assert.notEqual(a, b);
  assert.ok(isValidBoundary(a));
  assert.throws(() => multipartBody([{ start: 0, end: 1 }], 10, 'x/y', 'bad boundary'), RangeError);
});

test('helpers: Content-Type and Content-Range values', () => {
  assert.equal(multipartContentType('B'), 'multipart/byteranges; boundary=B');
  assert.equal(contentRange({ start: 0, end: 49 }, 10_000), 'bytes 0-49/10000');
});

test('the planner is deterministic when a boundary is injected', () => {
  const a = planResponse({ method: 'GET', range: 'bytes=0-1,5-6', now: NOW }, F, OPTS);
  const b = planResponse({ method: 'GET', range: 'bytes=0-1,5-6', now: NOW }, F, OPTS);
  assert.deepStrictEqual(a, b);
});
