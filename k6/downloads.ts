/**
 * downloads — full downloads under a ramp to VUS virtual users (default 100).
 *
 *   k6 run -e DOWNLOAD_FILES=small.bin,medium.bin,big.bin -e VUS=100 k6/downloads.ts
 *
 * Each iteration downloads one file (round-robin over DOWNLOAD_FILES by VU and
 * iteration). Files up to HASH_MAX_BYTES are received as ArrayBuffers and their
 * SHA-256 compared with FIXTURES (or with a reference download made in setup);
 * bigger files use responseType 'none' (k6 reads and discards the body) and
 * are checked by status, Content-Length and the absence of a transport error.
 */
import http from 'k6/http';
import { check } from 'k6';
import { Counter, Trend } from 'k6/metrics';
import type { Options } from 'k6/options';
import { DOWNLOAD_TIMEOUT, HASH_MAX_BYTES, IDENTITY, envInt, envList, envStr, fixture } from './lib/config.ts';
import { bodyBytes, contentLength, describe, expectStatuses, header, sha256Hex } from './lib/http-util.ts';
import { resolveFile } from './lib/files.ts';
import type { ResolvedFile } from './lib/files.ts';
import { summaryHandler } from './lib/summary.ts';
import type { SummaryData } from './lib/summary.ts';

const FILES = envList('DOWNLOAD_FILES', ['small.bin', 'medium.bin', 'big.bin']);
const VUS = envInt('VUS', 100);
const RAMP = envStr('RAMP', '30s');
const DURATION = envStr('DURATION', '1m');
const TTFB_P95_MS = envInt('TTFB_P95_MS', 1000);

/**
 * Latency bound per file: DOWNLOAD_P95_MS when given, else by size when the
 * runner told us the size (FIXTURES), else a generous default.
 */
function p95For(name: string): number {
  const forced = envInt('DOWNLOAD_P95_MS', 0);
  if (forced > 0) return forced;
  const size = fixture(name).size;
  if (size === undefined) return 60000;
  if (size <= 1024 * 1024) return 1000;
  if (size <= 16 * 1024 * 1024) return 5000;
  return 120000;
}

const thresholds: { [metric: string]: string[] } = {
  checks: ['rate==1.0'],
  http_req_failed: ['rate==0'],
  // Time to first byte does not depend on the file size: the server must start answering promptly under load.
  'http_req_waiting{scenario:downloads}': [`p(95)<${TTFB_P95_MS}`],
};
for (const name of FILES) {
  thresholds[`http_req_duration{file:${name}}`] = [`p(95)<${p95For(name)}`];
}

export const options: Options = {
  scenarios: {
    downloads: {
      executor: 'ramping-vus',
      startVUs: 0,
      stages: [
        { duration: RAMP, target: VUS },
        { duration: DURATION, target: VUS },
        { duration: '10s', target: 0 },
      ],
      gracefulRampDown: envStr('GRACEFUL', '120s'),
      gracefulStop: envStr('GRACEFUL', '120s'),
    },
  },
  thresholds,
  // Big bodies are discarded per request (responseType 'none'); keep the summary light.
  summaryTrendStats: ['avg', 'min', 'med', 'max', 'p(90)', 'p(95)', 'p(99)'],
};

expectStatuses(200);

const bytesReceived = new Counter('download_bytes');
const throughput = new Trend('download_mib_per_s');

export function setup(): { files: ResolvedFile[] } {
  return { files: FILES.map((name) => resolveFile(name, true)) };
}

export default function downloads(data: { files: ResolvedFile[] }): void {
  const files = data.files;
  const f = files[(__VU + __ITER) % files.length];
  const tags = { file: f.name };
  if (f.size <= HASH_MAX_BYTES) {
    const res = http.get(f.url, { headers: IDENTITY, responseType: 'binary', timeout: DOWNLOAD_TIMEOUT, tags });
    const ok = check(
      res,
      {
        'download: 200': (r) => r.status === 200,
        'download: Content-Length is the size': (r) => contentLength(r) === f.size,
        'download: body length is the size': (r) => bodyBytes(r.body) === f.size,
        'download: sha256': (r) => f.sha256 === '' || sha256Hex(r.body) === f.sha256,
        'download: ETag unchanged': (r) => f.etag === '' || header(r, 'ETag') === f.etag,
      },
      tags,
    );
    if (!ok) console.error(`download failed: ${describe(res)}`);
    record(res.timings.duration, f.size, res.status === 200);
  } else {
    const res = http.get(f.url, { headers: IDENTITY, responseType: 'none', timeout: DOWNLOAD_TIMEOUT, tags });
    const ok = check(
      res,
      {
        'download: 200': (r) => r.status === 200,
        'download: Content-Length is the size': (r) => contentLength(r) === f.size,
        'download: body received without transport error': (r) => !r.error && r.error_code === 0,
        'download: ETag unchanged': (r) => f.etag === '' || header(r, 'ETag') === f.etag,
      },
      tags,
    );
    if (!ok) console.error(`download failed: ${describe(res)}`);
    record(res.timings.duration, f.size, res.status === 200);
  }

  function record(durationMs: number, size: number, ok: boolean): void {
    if (!ok) return;
    bytesReceived.add(size, tags);
    if (durationMs > 0) throughput.add(size / 1048576 / (durationMs / 1000), tags);
  }
}

export function handleSummary(data: SummaryData): { [output: string]: string } {
  return summaryHandler('downloads')(data);
}
