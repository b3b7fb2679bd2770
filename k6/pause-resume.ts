/**
 * pause-resume — downloads in chunks with pauses, like a browser resuming.
 *
 *   k6 run -e RESUME_FILE=medium.bin -e VARIANT=both k6/pause-resume.ts
 *
 * Scenario `resume` (VARIANT=resume|both): each iteration fetches RESUME_FILE
 * as CHUNK_BYTES chunks. The first request is `Range: bytes=0-(CHUNK-1)`; its
 * ETag is remembered and every later chunk sends `Range: bytes=N-M` plus
 * `If-Range: <that ETag>`. Between chunks the VU sleeps PAUSE_MS (±50 %).
 * Checks: every answer is 206 with exactly `Content-Range: bytes N-M/size`
 * and the same ETag, and the SHA-256 of the concatenated chunks (hashed
 * incrementally with crypto.createHash('sha256').update(ArrayBuffer)) equals
 * the file's. The file never changes here, so a restart is a failure.
 *
 * Scenario `changing` (VARIANT=changing|both): same loop on CHANGING_FILE,
 * which the runner (npm run k6) REWRITES every CHANGE_EVERY_MS by writing a
 * new version beside it and renaming it over the old one (the script cannot
 * change files). Version v of the file is the pattern byte i = (i + v) mod 251,
 * so byte 0 of any body names its version. Each chunk must be EITHER 206 with
 * the same ETag and the right Content-Range (bytes must continue version v)
 * OR 200 with a different ETag and the whole new file — the server's If-Range
 * restart. On 200 the hash restarts from that full body and the download is
 * complete. Finally the digest must equal CHANGING_SHA256S[v] (a comma list,
 * one per version, from the runner) when given, and every byte must belong to
 * a single version. EXPECT_RESTARTS=1 additionally requires that at least one
 * restart happened (proves the rewrite actually raced the downloads).
 */
import http from 'k6/http';
import crypto from 'k6/crypto';
import { check, sleep } from 'k6';
import { Counter } from 'k6/metrics';
import type { Options, Scenario } from 'k6/options';
import type { RefinedResponse } from 'k6/http';
import { envBool, envInt, envList, envNum, envStr, withIdentity } from './lib/config.ts';
import {
  bodyBytes,
  contentLength,
  describe,
  expectStatuses,
  firstPatternMismatch,
  hasContentRange,
  header,
  isStrongEtag,
} from './lib/http-util.ts';
import { resolveFile } from './lib/files.ts';
import type { ResolvedFile } from './lib/files.ts';
import { summaryHandler } from './lib/summary.ts';
import type { SummaryData } from './lib/summary.ts';

const VARIANT = envStr('VARIANT', 'resume');
const RUN_RESUME = VARIANT === 'resume' || VARIANT === 'both';
const RUN_CHANGING = VARIANT === 'changing' || VARIANT === 'both';
if (!RUN_RESUME && !RUN_CHANGING) throw new Error(`VARIANT=${VARIANT}: expected resume, changing or both`);

const RESUME_FILE = envStr('RESUME_FILE', 'medium.bin');
const CHANGING_FILE = envStr('CHANGING_FILE', 'changing.bin');
const CHUNK = Math.max(1, envInt('CHUNK_BYTES', 512 * 1024));
const PAUSE_MS = envNum('PAUSE_MS', 200);
const VUS = envInt('VUS', 20);
const CHANGING_VUS = envInt('CHANGING_VUS', 10);
const DURATION = envStr('DURATION', '1m');
const CHANGING_SHAS = envList('CHANGING_SHA256S', []).map((s) => s.toLowerCase());
const EXPECT_RESTARTS = envBool('EXPECT_RESTARTS', false);
const CHUNK_P95_MS = envInt('CHUNK_P95_MS', 500);

const scenarios: { [name: string]: Scenario } = {};
const thresholds: { [metric: string]: string[] } = {
  checks: ['rate==1.0'],
  http_req_failed: ['rate==0'],
};
if (RUN_RESUME) {
  scenarios['resume'] = { executor: 'constant-vus', exec: 'resume', vus: VUS, duration: DURATION, gracefulStop: '60s' };
  thresholds['http_req_duration{scenario:resume}'] = [`p(95)<${CHUNK_P95_MS}`];
  // The resume file never changes: any 200 restart is a server bug.
  thresholds['resume_restarts{scenario:resume}'] = ['count==0'];
  thresholds['resume_completed{scenario:resume}'] = ['count>0'];
}
if (RUN_CHANGING) {
  scenarios['changing'] = {
    executor: 'constant-vus',
    exec: 'changing',
    vus: CHANGING_VUS,
    duration: DURATION,
    gracefulStop: '60s',
  };
  thresholds['http_req_duration{scenario:changing}'] = [`p(95)<${CHUNK_P95_MS}`];
  thresholds['resume_completed{scenario:changing}'] = ['count>0'];
  if (EXPECT_RESTARTS) thresholds['resume_restarts{scenario:changing}'] = ['count>0'];
}

export const options: Options = { scenarios, thresholds };

// A resumed chunk is 206; a restart after a change is 200. Nothing else is expected.
expectStatuses(200, 206);

/** Downloads restarted because the server answered 200 to an If-Range request. */
const restarts = new Counter('resume_restarts');
/** Downloads that finished with a verified body. */
const completed = new Counter('resume_completed');

interface SetupData {
  resume: ResolvedFile | null;
  changing: ResolvedFile | null;
}

export function setup(): SetupData {
  return {
    resume: RUN_RESUME ? resolveFile(RESUME_FILE, true) : null,
    changing: RUN_CHANGING ? resolveFile(CHANGING_FILE, false) : null,
  };
}

/**
 * Adds a zero to both counters so their per-scenario sub-metrics always have
 * samples: a threshold on a metric that never received one would not test anything.
 */
function touchCounters(): void {
  restarts.add(0);
  completed.add(0);
}

function pause(): void {
  if (PAUSE_MS > 0) sleep((PAUSE_MS * (0.5 + Math.random())) / 1000);
}

function chunkEnd(start: number, size: number): number {
  return Math.min(size, start + CHUNK) - 1;
}

type Bin = RefinedResponse<'binary'>;

function getChunk(url: string, start: number, end: number, etag: string | undefined): Bin {
  const headers: { [k: string]: string } = { Range: `bytes=${start}-${end}` };
  if (etag !== undefined) headers['If-Range'] = etag;
  return http.get(url, { headers: withIdentity(headers), responseType: 'binary' });
}

/** The stable file: 206 all the way, same ETag, exact Content-Range, final SHA-256. */
export function resume(data: SetupData): void {
  const f = data.resume;
  if (f === null) return;
  touchCounters();
  const hasher = crypto.createHash('sha256');
  let etag: string | undefined;
  let received = 0;
  let start = 0;
  while (start < f.size) {
    const end = chunkEnd(start, f.size);
    const res = getChunk(f.url, start, end, etag);
    const first = etag === undefined;
    const ok = check(res, {
      'resume: 206': (r) => r.status === 206,
      'resume: Content-Range bytes N-M/size': (r) => hasContentRange(r, start, end, f.size),
      'resume: chunk length': (r) => bodyBytes(r.body) === end - start + 1 && contentLength(r) === end - start + 1,
      'resume: strong ETag, unchanged': (r) =>
        first ? isStrongEtag(header(r, 'ETag')) : header(r, 'ETag') === etag,
    });
    if (res.status === 200) restarts.add(1);
    if (!ok) {
      console.error(`resume chunk failed: ${describe(res)}`);
      return; // the download is broken; the failed checks already count it
    }
    if (first) etag = header(res, 'ETag');
    hasher.update(res.body);
    received += bodyBytes(res.body);
    start = end + 1;
    if (start < f.size) pause();
  }
  const digest = hasher.digest('hex');
  const ok = check(digest, {
    'resume: total bytes is the size': () => received === f.size,
    'resume: sha256 of the chunks': (d) => f.sha256 === '' || d === f.sha256,
  });
  if (ok) completed.add(1);
}

/**
 * The file the runner rewrites: each chunk is a resumed 206 of the same
 * version, or a 200 restart carrying the whole new version.
 */
export function changing(data: SetupData): void {
  const f = data.changing;
  if (f === null) return;
  touchCounters();
  let hasher = crypto.createHash('sha256');
  let etag: string | undefined;
  let version = -1;
  let size = f.size;
  let received = 0;
  let start = 0;
  let done = false;
  while (!done) {
    const end = chunkEnd(start, size);
    const res = getChunk(f.url, start, end, etag);
    const first = etag === undefined;
    const body = res.body;
    const len = bodyBytes(body);

    if (res.status === 200 && !first) {
      // Restart: the file changed, the server sent the whole new version.
      restarts.add(1);
      const newTag = header(res, 'ETag');
      const bytes = len > 0 ? new Uint8Array(body) : new Uint8Array(0);
      const newVersion = len > 0 ? bytes[0] : -1;
      const ok = check(res, {
        'changing: restart carries a new strong ETag': () => isStrongEtag(newTag) && newTag !== etag,
        'changing: restart body is the whole file': (r) => len > 0 && contentLength(r) === len,
        'changing: restart body is one version': () => len > 0 && firstPatternMismatch(bytes, 0, newVersion) < 0,
      });
      if (!ok) {
        console.error(`changing restart failed: ${describe(res)}`);
        return;
      }
      hasher = crypto.createHash('sha256');
      hasher.update(body);
      etag = newTag;
      version = newVersion;
      size = len;
      received = len;
      done = true;
      break;
    }

    // A chunk: 206 of the version we started (or the first chunk).
    const bytes = len > 0 ? new Uint8Array(body) : new Uint8Array(0);
    if (first && len > 0) version = bytes[0];
    const ok = check(res, {
      'changing: 206 for a resumed chunk': (r) => r.status === 206,
      'changing: Content-Range bytes N-M/size': (r) => hasContentRange(r, start, end, size),
      'changing: chunk length': () => len === end - start + 1,
      'changing: ETag unchanged on 206': (r) => (first ? isStrongEtag(header(r, 'ETag')) : header(r, 'ETag') === etag),
      'changing: bytes continue the same version': () => version >= 0 && firstPatternMismatch(bytes, start, version) < 0,
    });
    if (!ok) {
      console.error(`changing chunk failed: ${describe(res)} (version ${version})`);
      return;
    }
    if (first) etag = header(res, 'ETag');
    hasher.update(body);
    received += len;
    start = end + 1;
    if (start >= size) done = true;
    else pause();
  }
  const digest = hasher.digest('hex');
  const ok = check(digest, {
    'changing: total bytes is the size': () => received === size,
    'changing: sha256 is the one of the version': (d) =>
      CHANGING_SHAS.length === 0 || (version >= 0 && version < CHANGING_SHAS.length && d === CHANGING_SHAS[version]),
  });
  if (ok) completed.add(1);
}

export function handleSummary(data: SummaryData): { [output: string]: string } {
  return summaryHandler('pause-resume')(data);
}
