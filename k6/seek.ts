/**
 * seek — random single ranges across a large file (a video player seeking).
 *
 *   k6 run -e SEEK_FILE=big.bin -e VUS=20 -e DURATION=1m k6/seek.ts
 *
 * Each iteration asks for one random range of at most SEEK_MAX_BYTES: 80 %
 * `bytes=a-b`, 10 % suffix `bytes=-n`, 10 % open `bytes=a-` near the end.
 * Ranges up to SEEK_BINARY_MAX bytes are received as ArrayBuffers and their
 * length checked (and their bytes, when FIXTURES says the file is a pattern
 * file — byte i = i mod 251 — or all zeros); longer ranges use
 * responseType 'none', which gives no body to measure, so those are checked by
 * status, Content-Range, Content-Length and the absence of a transport error.
 */
import http from 'k6/http';
import { check } from 'k6';
import type { Options } from 'k6/options';
import { envInt, envStr, withIdentity } from './lib/config.ts';
import {
  bodyBytes,
  contentLength,
  describe,
  expectStatuses,
  firstNonZero,
  firstPatternMismatch,
  hasContentRange,
  header,
} from './lib/http-util.ts';
import { randomSeek } from './lib/ranges.ts';
import { resolveFile } from './lib/files.ts';
import type { ResolvedFile } from './lib/files.ts';
import { summaryHandler } from './lib/summary.ts';
import type { SummaryData } from './lib/summary.ts';

const FILE = envStr('SEEK_FILE', 'big.bin');
const VUS = envInt('VUS', 20);
const DURATION = envStr('DURATION', '1m');
const MAX_BYTES = Math.max(1, envInt('SEEK_MAX_BYTES', 4 * 1024 * 1024));
const BINARY_MAX = envInt('SEEK_BINARY_MAX', 1024 * 1024);
const SHORT_MAX = envInt('SEEK_SHORT_MAX', 64 * 1024);
const P95_MS = envInt('SEEK_P95_MS', 200);
const P99_MS = envInt('SEEK_P99_MS', 500);

export const options: Options = {
  scenarios: {
    seek: { executor: 'constant-vus', vus: VUS, duration: DURATION },
  },
  thresholds: {
    checks: ['rate==1.0'],
    http_req_failed: ['rate==0'],
    'http_req_duration{scenario:seek}': [`p(95)<${P95_MS}`, `p(99)<${P99_MS}`],
    'http_req_duration{scenario:seek,body:binary}': [`p(95)<${P95_MS}`],
  },
};

expectStatuses(206);

export function setup(): { file: ResolvedFile } {
  return { file: resolveFile(FILE, false) };
}

export default function seek(data: { file: ResolvedFile }): void {
  const f = data.file;
  // Mostly short seeks (a player's probe), some long ones (a segment fetch).
  const s = randomSeek(f.size, MAX_BYTES, 0.7, SHORT_MAX);
  const len = s.end - s.start + 1;
  const headers = withIdentity({ Range: s.header });
  if (f.etag !== '') headers['If-Range'] = f.etag;
  const tags = { kind: s.kind, body: len <= BINARY_MAX ? 'binary' : 'none' };

  if (len <= BINARY_MAX) {
    const res = http.get(f.url, { headers, responseType: 'binary', tags });
    const ok = check(res, {
      'seek: 206': (r) => r.status === 206,
      'seek: Content-Range': (r) => hasContentRange(r, s.start, s.end, f.size),
      'seek: Content-Length': (r) => contentLength(r) === len,
      'seek: body length': (r) => bodyBytes(r.body) === len,
      'seek: bytes (pattern/zero fixtures)': (r) => {
        if (f.content === 'pattern') return firstPatternMismatch(r.body, s.start, f.offset) < 0;
        if (f.content === 'zero') return firstNonZero(r.body) < 0;
        return true;
      },
      'seek: same ETag': (r) => f.etag === '' || header(r, 'ETag') === f.etag,
    });
    if (!ok) console.error(`seek failed: ${s.header} ${describe(res)}`);
  } else {
    const res = http.get(f.url, { headers, responseType: 'none', tags });
    const ok = check(res, {
      'seek: 206': (r) => r.status === 206,
      'seek: Content-Range': (r) => hasContentRange(r, s.start, s.end, f.size),
      'seek: Content-Length': (r) => contentLength(r) === len,
      'seek: received without transport error': (r) => !r.error && r.error_code === 0,
      'seek: same ETag': (r) => f.etag === '' || header(r, 'ETag') === f.etag,
    });
    if (!ok) console.error(`seek failed: ${s.header} ${describe(res)}`);
  }
}

export function handleSummary(data: SummaryData): { [output: string]: string } {
  return summaryHandler('seek')(data);
}
