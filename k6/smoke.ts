/**
 * smoke — one of each request kind, strict checks, one VU, one iteration.
 *
 *   k6 run -e BASE_URL=http://127.0.0.1:8080 -e SMOKE_FILE=small.bin k6/smoke.ts
 *
 * Every expectation is derived from one full download of SMOKE_FILE, so the
 * scenario works on any file of at least 8 KiB (byte ranges are compared with
 * the matching slice of that download).
 */
import http from 'k6/http';
import { check, fail, group } from 'k6';
import type { Options } from 'k6/options';
import { BASE_URL, IDENTITY, dirUrl, envStr, fileUrl, fixture, withIdentity } from './lib/config.ts';
import {
  bodyBytes,
  contentLength,
  expectStatuses,
  hasContentRange,
  header,
  isStrongEtag,
  sameBytes,
  sha256Hex,
  toArrayBuffer,
} from './lib/http-util.ts';
import { parseMultipart } from './lib/multipart.ts';
import { summaryHandler } from './lib/summary.ts';
import type { SummaryData } from './lib/summary.ts';

const FILE = envStr('SMOKE_FILE', 'small.bin');

export const options: Options = {
  scenarios: {
    smoke: { executor: 'shared-iterations', vus: 1, iterations: 1, maxDuration: '60s' },
  },
  thresholds: {
    checks: ['rate==1.0'],
    http_req_failed: ['rate==0'],
    http_req_duration: ['max<2000'],
  },
};

// RFC 9110 §5.6.7 preferred HTTP date (checked by shape: Date.parse of this format is engine-specific).
const IMF_FIXDATE = /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d{2}:\d{2}:\d{2} GMT$/;

// 206, 304, 412 and 416 are answers we ask for; anything else is a failure.
expectStatuses(200, 206, 304, 412, 416);

const textOrJson = (s: string | null): unknown => {
  try {
    return s === null ? undefined : JSON.parse(s);
  } catch (_e) {
    return undefined;
  }
};

export default function smoke(): void {
  const url = fileUrl(FILE);
  const expected = fixture(FILE);

  group('healthz', () => {
    const res = http.get(`${BASE_URL}/healthz`);
    const body = textOrJson(typeof res.body === 'string' ? res.body : null) as { [k: string]: unknown } | undefined;
    check(res, {
      'healthz: 200': (r) => r.status === 200,
      'healthz: JSON content type': (r) => /^application\/json/i.test(header(r, 'Content-Type') ?? ''),
      'healthz: status ok': () => body !== undefined && body['status'] === 'ok',
      'healthz: mode, engine, version, pid': () =>
        body !== undefined &&
        typeof body['mode'] === 'string' &&
        typeof body['engine'] === 'string' &&
        typeof body['version'] === 'string' &&
        typeof body['pid'] === 'number',
    });
  });

  // --- 200 full -----------------------------------------------------------
  const full = http.get(url, { headers: IDENTITY, responseType: 'binary' });
  const size = bodyBytes(full.body);
  const etag = header(full, 'ETag');
  const okFull = check(full, {
    '200: status': (r) => r.status === 200,
    '200: Content-Length equals body length': (r) => contentLength(r) === size && size > 0,
    '200: Accept-Ranges bytes': (r) => (header(r, 'Accept-Ranges') ?? '').toLowerCase() === 'bytes',
    '200: strong ETag': () => isStrongEtag(etag),
    '200: Last-Modified is an IMF-fixdate': (r) => IMF_FIXDATE.test(header(r, 'Last-Modified') ?? ''),
    '200: Content-Disposition attachment': (r) => /^attachment\b/i.test(header(r, 'Content-Disposition') ?? ''),
    '200: size matches FIXTURES': () => expected.size === undefined || expected.size === size,
    '200: sha256 matches FIXTURES': (r) =>
      expected.sha256 === undefined || sha256Hex(r.body) === expected.sha256.toLowerCase(),
  });
  if (!okFull || etag === undefined || size < 8192) {
    fail(`smoke: the full download of ${FILE} failed (status ${full.status}, ${size} bytes); nothing else can be checked`);
  }
  const whole = full.body;

  // --- HEAD ------------------------------------------------------------------
  const head = http.head(url, { headers: IDENTITY });
  check(head, {
    'HEAD: 200': (r) => r.status === 200,
    'HEAD: Content-Length is the size': (r) => contentLength(r) === size,
    'HEAD: no body': (r) => bodyBytes(r.body) === 0,
    'HEAD: same ETag': (r) => header(r, 'ETag') === etag,
    'HEAD: Accept-Ranges bytes': (r) => (header(r, 'Accept-Ranges') ?? '').toLowerCase() === 'bytes',
  });
  const headRange = http.head(url, { headers: withIdentity({ Range: 'bytes=0-99' }) });
  check(headRange, {
    'HEAD+Range: ignored, 200': (r) => r.status === 200,
    'HEAD+Range: full Content-Length': (r) => contentLength(r) === size,
    'HEAD+Range: no Content-Range': (r) => header(r, 'Content-Range') === undefined,
  });

  // --- 206 single ------------------------------------------------------------
  const a = 100;
  const b = 4195;
  const single = http.get(url, { headers: withIdentity({ Range: `bytes=${a}-${b}` }), responseType: 'binary' });
  check(single, {
    '206 single: status': (r) => r.status === 206,
    '206 single: Content-Range': (r) => hasContentRange(r, a, b, size),
    '206 single: Content-Length': (r) => contentLength(r) === b - a + 1,
    '206 single: bytes': (r) => bodyBytes(r.body) === b - a + 1 && sameBytes(r.body, whole, a),
    '206 single: same ETag': (r) => header(r, 'ETag') === etag,
  });

  // --- suffix and open ranges -------------------------------------------------
  const n = 500;
  const suffix = http.get(url, { headers: withIdentity({ Range: `bytes=-${n}` }), responseType: 'binary' });
  check(suffix, {
    '206 suffix: status': (r) => r.status === 206,
    '206 suffix: Content-Range': (r) => hasContentRange(r, size - n, size - 1, size),
    '206 suffix: bytes': (r) => bodyBytes(r.body) === n && sameBytes(r.body, whole, size - n),
  });
  const openStart = size - 300;
  const open = http.get(url, { headers: withIdentity({ Range: `bytes=${openStart}-` }), responseType: 'binary' });
  check(open, {
    '206 open: status': (r) => r.status === 206,
    '206 open: Content-Range': (r) => hasContentRange(r, openStart, size - 1, size),
    '206 open: bytes': (r) => bodyBytes(r.body) === 300 && sameBytes(r.body, whole, openStart),
  });

  // --- multi-range (disjoint, non-adjacent, ascending) -------------------------
  const wanted = [
    { start: 0, end: 99 },
    { start: 1000, end: 1999 },
    { start: size - 1000, end: size - 901 },
  ];
  const multi = http.get(url, {
    headers: withIdentity({ Range: 'bytes=' + wanted.map((r) => `${r.start}-${r.end}`).join(',') }),
    responseType: 'binary',
  });
  const parsed = parseMultipart(multi.body, header(multi, 'Content-Type'));
  if (!parsed.ok) console.error(`smoke: multipart body rejected: ${parsed.error}`);
  check(multi, {
    '206 multi: status': (r) => r.status === 206,
    '206 multi: well-formed multipart/byteranges': () => parsed.ok,
    '206 multi: Content-Length equals body length': (r) => contentLength(r) === bodyBytes(r.body),
    '206 multi: one part per range': () => parsed.parts.length === wanted.length,
    '206 multi: each part Content-Range and bytes': () =>
      parsed.parts.length === wanted.length &&
      wanted.every((w, i) => {
        const p = parsed.parts[i];
        return (
          p.range !== undefined &&
          p.range.kind === 'range' &&
          p.range.start === w.start &&
          p.range.end === w.end &&
          p.range.size === size &&
          p.data.length === w.end - w.start + 1 &&
          sameBytes(toArrayBuffer(p.data), whole, w.start)
        );
      }),
    '206 multi: parts carry Content-Type': () => parsed.parts.every((p) => p.headers['content-type'] !== undefined),
  });

  // --- 416 --------------------------------------------------------------------
  const unsat = http.get(url, { headers: withIdentity({ Range: `bytes=${size}-${size + 10}` }) });
  check(unsat, {
    '416: status': (r) => r.status === 416,
    '416: Content-Range bytes */size': (r) => (header(r, 'Content-Range') ?? '').trim() === `bytes */${size}`,
  });

  // --- conditionals -------------------------------------------------------------
  const notModified = http.get(url, { headers: withIdentity({ 'If-None-Match': etag }) });
  check(notModified, {
    '304: status': (r) => r.status === 304,
    '304: no body': (r) => bodyBytes(r.body) === 0,
    '304: same ETag': (r) => header(r, 'ETag') === etag,
  });
  const otherTag = http.get(url, { headers: withIdentity({ 'If-None-Match': '"not-this-one"' }), responseType: 'none' });
  check(otherTag, {
    'If-None-Match other: 200': (r) => r.status === 200,
  });
  const precondition = http.get(url, { headers: withIdentity({ 'If-Match': '"stale"' }) });
  check(precondition, {
    '412: status': (r) => r.status === 412,
  });

  // --- If-Range -----------------------------------------------------------------
  const ifRangeMatch = http.get(url, {
    headers: withIdentity({ Range: 'bytes=0-9', 'If-Range': etag }),
    responseType: 'binary',
  });
  check(ifRangeMatch, {
    'If-Range match: 206': (r) => r.status === 206,
    'If-Range match: Content-Range': (r) => hasContentRange(r, 0, 9, size),
    'If-Range match: bytes': (r) => bodyBytes(r.body) === 10 && sameBytes(r.body, whole, 0),
  });
  const ifRangeMismatch = http.get(url, {
    headers: withIdentity({ Range: 'bytes=0-9', 'If-Range': '"some-older-version"' }),
    responseType: 'binary',
  });
  check(ifRangeMismatch, {
    'If-Range mismatch: 200 with the whole file': (r) => r.status === 200,
    'If-Range mismatch: full body': (r) => bodyBytes(r.body) === size && sameBytes(r.body, whole, 0),
    'If-Range mismatch: no Content-Range': (r) => header(r, 'Content-Range') === undefined,
  });

  // --- listing ------------------------------------------------------------------
  const slash = FILE.lastIndexOf('/');
  const dir = slash >= 0 ? FILE.slice(0, slash) : '';
  const base = slash >= 0 ? FILE.slice(slash + 1) : FILE;
  const listing = http.get(dirUrl(dir), { headers: { Accept: 'application/json' } });
  const list = textOrJson(typeof listing.body === 'string' ? listing.body : null) as
    | { path?: unknown; entries?: Array<{ [k: string]: unknown }> }
    | undefined;
  const entry = list !== undefined && Array.isArray(list.entries) ? list.entries.find((e) => e['name'] === base) : undefined;
  check(listing, {
    'listing: 200': (r) => r.status === 200,
    'listing: JSON content type': (r) => /^application\/json/i.test(header(r, 'Content-Type') ?? ''),
    'listing: path and entries': () => list !== undefined && typeof list.path === 'string' && Array.isArray(list.entries),
    'listing: entry for the file': () => entry !== undefined,
    'listing: entry type, size, mtime, href': () =>
      entry !== undefined &&
      entry['type'] === 'file' &&
      entry['size'] === size &&
      typeof entry['mtime'] === 'string' &&
      !Number.isNaN(Date.parse(entry['mtime'] as string)) &&
      typeof entry['href'] === 'string',
    'listing: every entry well-formed': () =>
      list !== undefined &&
      Array.isArray(list.entries) &&
      list.entries.every(
        (e) =>
          typeof e['name'] === 'string' &&
          (e['type'] === 'file' || e['type'] === 'directory') &&
          typeof e['href'] === 'string',
      ),
  });
}

export function handleSummary(data: SummaryData): { [output: string]: string } {
  return summaryHandler('smoke')(data);
}
