/**
 * slow-disk — isolation: a slow volume must not slow down healthy files.
 *
 *   k6 run -e SLOW_FILE=slow/slow.bin -e HEALTHY_FILE=small.bin k6/slow-disk.ts
 *
 * Two scenarios at once:
 *  - `slow`: SLOW_VUS users keep downloading SLOW_FILE, a file on a slow or
 *    dying volume (responseType 'none', timeout SLOW_TIMEOUT). Errors are
 *    tolerated: a 200 or a 503 are both acceptable answers, a timeout or reset
 *    is counted in `slow_transport_errors` but fails nothing. The one check
 *    asserts that when the server does answer, it answers 200 (with the full
 *    Content-Length) or 503.
 *  - `healthy`: HEALTHY_VUS users, starting HEALTHY_DELAY later (so the slow
 *    volume is already saturated), fetch HEALTHY_FILE whole, a range of it and
 *    /healthz. Everything here is strict, and latency is bounded:
 *    `http_req_duration{scenario:healthy}` p(99) < HEALTHY_P99_MS (200 ms).
 *
 * SLOW_FILE must be on its own mount inside the served root (rangeserve sees
 * volumes by mount point and refuses symlinks out of the root). `npm run k6 --
 * slow-disk` run as root mounts the FUSE slow disk there itself (see
 * k6/README.md); without one, point SLOW_FILE at a big file: the scenario then
 * measures isolation from a heavy neighbour instead.
 */
import http from 'k6/http';
import { check, sleep } from 'k6';
import { Counter } from 'k6/metrics';
import type { Options } from 'k6/options';
import { BASE_URL, IDENTITY, envInt, envNum, envStr, fileUrl, withIdentity } from './lib/config.ts';
import {
  bodyBytes,
  contentLength,
  describe,
  hasContentRange,
  header,
  sha256Hex,
} from './lib/http-util.ts';
import { resolveFile } from './lib/files.ts';
import type { ResolvedFile } from './lib/files.ts';
import { summaryHandler } from './lib/summary.ts';
import type { SummaryData } from './lib/summary.ts';

const SLOW_FILE = envStr('SLOW_FILE', 'slow/slow.bin');
const HEALTHY_FILE = envStr('HEALTHY_FILE', 'small.bin');
const SLOW_VUS = envInt('SLOW_VUS', 20);
const HEALTHY_VUS = envInt('HEALTHY_VUS', 10);
const DURATION = envStr('DURATION', '1m');
const HEALTHY_DELAY = envStr('HEALTHY_DELAY', '5s');
const SLOW_TIMEOUT = envStr('SLOW_TIMEOUT', '30s');
const HEALTHY_P99_MS = envInt('HEALTHY_P99_MS', 200);
const HEALTHY_PAUSE_MS = envNum('HEALTHY_PAUSE_MS', 50);

export const options: Options = {
  scenarios: {
    slow: {
      executor: 'constant-vus',
      exec: 'slowLoad',
      vus: SLOW_VUS,
      duration: DURATION,
      gracefulStop: SLOW_TIMEOUT,
    },
    healthy: {
      executor: 'constant-vus',
      exec: 'healthyLoad',
      vus: HEALTHY_VUS,
      duration: DURATION,
      startTime: HEALTHY_DELAY,
      gracefulStop: '10s',
    },
  },
  thresholds: {
    // The point of the test: healthy files stay fast while the slow volume struggles.
    'http_req_duration{scenario:healthy}': [`p(99)<${HEALTHY_P99_MS}`],
    'http_req_failed{scenario:healthy}': ['rate==0'],
    'checks{scenario:healthy}': ['rate==1.0'],
    // The slow side may time out, but whatever the server answers must be 200 or 503.
    'checks{scenario:slow}': ['rate==1.0'],
  },
};

// Default callback: only 200 and 206 are expected (the healthy side). The slow
// side passes its own responseCallback that also accepts 503.
http.setResponseCallback(http.expectedStatuses(200, 206));
const slowCallback = http.expectedStatuses(200, 503);

const transportErrors = new Counter('slow_transport_errors');
const slow503 = new Counter('slow_503');

interface SetupData {
  healthy: ResolvedFile;
  slowUrl: string;
}

export function setup(): SetupData {
  // Only the healthy file is resolved: HEADing the slow one could hang setup.
  return { healthy: resolveFile(HEALTHY_FILE, true), slowUrl: fileUrl(SLOW_FILE) };
}

export function slowLoad(data: SetupData): void {
  const res = http.get(data.slowUrl, {
    headers: IDENTITY,
    responseType: 'none',
    timeout: SLOW_TIMEOUT,
    responseCallback: slowCallback,
    tags: { volume: 'slow' },
  });
  if (res.status === 0) {
    // Timeout or reset: tolerated on the slow volume, but counted.
    transportErrors.add(1);
    sleep(1);
    return;
  }
  if (res.status === 503) slow503.add(1);
  const ok = check(res, {
    'slow: answered 200 (full length) or 503': (r) =>
      r.status === 503 || (r.status === 200 && Number.isFinite(contentLength(r)) && !r.error),
  });
  if (!ok) console.warn(`slow volume: ${describe(res)}`);
  if (res.status === 503) sleep(1);
}

export function healthyLoad(data: SetupData): void {
  const f = data.healthy;
  const tags = { volume: 'healthy' };

  const full = http.get(f.url, { headers: IDENTITY, responseType: 'binary', tags });
  const okFull = check(full, {
    'healthy: full 200': (r) => r.status === 200,
    'healthy: full length': (r) => bodyBytes(r.body) === f.size && contentLength(r) === f.size,
    'healthy: full sha256': (r) => f.sha256 === '' || sha256Hex(r.body) === f.sha256,
  });
  if (!okFull) console.error(`healthy download failed: ${describe(full)}`);

  const end = Math.min(f.size, 65536) - 1;
  const rangeHeaders = withIdentity({ Range: `bytes=0-${end}` });
  if (f.etag !== '') rangeHeaders['If-Range'] = f.etag;
  const part = http.get(f.url, {
    headers: rangeHeaders,
    responseType: 'binary',
    tags,
  });
  check(part, {
    'healthy: range 206': (r) => r.status === 206,
    'healthy: range Content-Range': (r) => hasContentRange(r, 0, end, f.size),
    'healthy: range length': (r) => bodyBytes(r.body) === end + 1,
  });

  const health = http.get(`${BASE_URL}/healthz`, { tags });
  check(health, {
    'healthy: healthz 200': (r) => r.status === 200,
    'healthy: healthz JSON': (r) => /^application\/json/i.test(header(r, 'Content-Type') ?? ''),
  });

  if (HEALTHY_PAUSE_MS > 0) sleep(HEALTHY_PAUSE_MS / 1000);
}

export function handleSummary(data: SummaryData): { [output: string]: string } {
  return summaryHandler('slow-disk')(data);
}
