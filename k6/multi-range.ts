/**
 * multi-range — 2 to 5 disjoint ranges per request, multipart/byteranges parsed.
 *
 *   k6 run -e MR_FILE=pattern.bin -e VUS=20 -e DURATION=1m k6/multi-range.ts
 *
 * Ranges are ascending, 1..MR_MAX_PART bytes each, separated by at least
 * MR_MIN_GAP bytes so the server cannot legitimately coalesce them (it merges
 * overlapping/adjacent ranges and would answer a single remaining range with a
 * plain 206). The binary body is split by k6/lib/multipart.ts; each part must
 * carry the requested Content-Range and exactly that many bytes. When the file
 * is a pattern fixture (byte i = i mod 251; FIXTURES content "pattern", or
 * MR_PATTERN=1) every byte of every part is verified without reading the file.
 */
import http from 'k6/http';
import { check } from 'k6';
import type { Options } from 'k6/options';
import { envBool, envInt, envStr, withIdentity } from './lib/config.ts';
import {
  bodyBytes,
  contentLength,
  describe,
  expectStatuses,
  firstPatternMismatch,
  header,
  randInt,
} from './lib/http-util.ts';
import { isByteranges, parseMultipart } from './lib/multipart.ts';
import { disjointRanges, rangeHeader } from './lib/ranges.ts';
import { resolveFile } from './lib/files.ts';
import type { ResolvedFile } from './lib/files.ts';
import { summaryHandler } from './lib/summary.ts';
import type { SummaryData } from './lib/summary.ts';

const FILE = envStr('MR_FILE', 'pattern.bin');
const VUS = envInt('VUS', 20);
const DURATION = envStr('DURATION', '1m');
const MIN_RANGES = Math.max(2, envInt('MR_MIN_RANGES', 2));
const MAX_RANGES = Math.max(MIN_RANGES, envInt('MR_MAX_RANGES', 5));
const MAX_PART = Math.max(1, envInt('MR_MAX_PART', 64 * 1024));
const MIN_GAP = Math.max(1, envInt('MR_MIN_GAP', 4096));
const FORCE_PATTERN = envBool('MR_PATTERN', false);
const P95_MS = envInt('MR_P95_MS', 300);

export const options: Options = {
  scenarios: {
    multi_range: { executor: 'constant-vus', vus: VUS, duration: DURATION },
  },
  thresholds: {
    checks: ['rate==1.0'],
    http_req_failed: ['rate==0'],
    'http_req_duration{scenario:multi_range}': [`p(95)<${P95_MS}`],
  },
};

expectStatuses(206);

export function setup(): { file: ResolvedFile } {
  const file = resolveFile(FILE, false);
  if (file.size < MAX_RANGES * (1 + MIN_GAP)) {
    throw new Error(`${FILE} (${file.size} bytes) is too small for ${MAX_RANGES} ranges ${MIN_GAP} bytes apart`);
  }
  return { file };
}

export default function multiRange(data: { file: ResolvedFile }): void {
  const f = data.file;
  const pattern = FORCE_PATTERN || f.content === 'pattern';
  const count = randInt(MIN_RANGES, MAX_RANGES);
  const ranges = disjointRanges(f.size, count, MAX_PART, MIN_GAP);
  const res = http.get(f.url, {
    headers: withIdentity({ Range: rangeHeader(ranges) }),
    responseType: 'binary',
    tags: { ranges: String(ranges.length) },
  });
  const contentType = header(res, 'Content-Type');
  const parsed = res.status === 206 ? parseMultipart(res.body, contentType) : undefined;

  // Parts may come in any order: match them to the requested ranges by Content-Range.
  const matched: boolean[] = ranges.map(() => false);
  let partsOk = parsed !== undefined && parsed.ok && parsed.parts.length === ranges.length;
  let bytesOk = partsOk;
  if (parsed !== undefined && partsOk) {
    for (const p of parsed.parts) {
      const r = p.range;
      const i = r !== undefined && r.kind === 'range' ? ranges.findIndex((w) => w.start === r.start && w.end === r.end) : -1;
      if (i < 0 || matched[i] || r === undefined || r.kind !== 'range' || r.size !== f.size) {
        partsOk = false;
        bytesOk = false;
        break;
      }
      matched[i] = true;
      if (p.data.length !== r.end - r.start + 1) bytesOk = false;
      else if (pattern && firstPatternMismatch(p.data, r.start, f.offset) >= 0) bytesOk = false;
    }
  }

  const ok = check(res, {
    'multi: 206': (r) => r.status === 206,
    'multi: multipart/byteranges with boundary': () => isByteranges(contentType) && /boundary=/i.test(contentType ?? ''),
    'multi: Content-Length equals body length': (r) => contentLength(r) === bodyBytes(r.body),
    'multi: well-formed body': () => parsed !== undefined && parsed.ok,
    'multi: one part per range, Content-Range as requested': () => partsOk && matched.every((m) => m),
    'multi: part lengths and bytes': () => bytesOk,
  });
  if (!ok) {
    const why = parsed === undefined ? 'not a 206' : parsed.ok ? `${parsed.parts.length} parts` : parsed.error;
    console.error(`multi-range failed: ${rangeHeader(ranges)} ${describe(res)}: ${why}`);
  }
}

export function handleSummary(data: SummaryData): { [output: string]: string } {
  return summaryHandler('multi-range')(data);
}
