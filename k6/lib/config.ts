/**
 * Everything a scenario knows comes from the environment (`k6 run -e NAME=v`
 * or the process environment). Nothing here touches the file system: the
 * scripts must run the same against a remote server.
 */

/** Raw environment value, or the fallback when unset or empty. */
export function envStr(name: string, fallback: string): string {
  const v = __ENV[name];
  return v === undefined || v === '' ? fallback : v;
}

/** Optional environment value (undefined when unset or empty). */
export function envOpt(name: string): string | undefined {
  const v = __ENV[name];
  return v === undefined || v === '' ? undefined : v;
}

/** Non-negative integer from the environment; throws (fails init) on junk. */
export function envInt(name: string, fallback: number): number {
  const v = envOpt(name);
  if (v === undefined) return fallback;
  if (!/^\d+$/.test(v.trim())) throw new Error(`${name}=${JSON.stringify(v)}: expected a whole number`);
  return Number(v.trim());
}

/** Number (may be fractional) from the environment. */
export function envNum(name: string, fallback: number): number {
  const v = envOpt(name);
  if (v === undefined) return fallback;
  const n = Number(v.trim());
  if (!Number.isFinite(n) || n < 0) throw new Error(`${name}=${JSON.stringify(v)}: expected a non-negative number`);
  return n;
}

export function envBool(name: string, fallback: boolean): boolean {
  const v = envOpt(name);
  if (v === undefined) return fallback;
  return ['1', 'true', 'yes', 'on'].indexOf(v.trim().toLowerCase()) >= 0;
}

/** Comma-separated list, trimmed, empties dropped. */
export function envList(name: string, fallback: string[]): string[] {
  const v = envOpt(name);
  if (v === undefined) return fallback;
  return v.split(',').map((s) => s.trim()).filter((s) => s !== '');
}

/** Base URL of the server under test, without a trailing slash. */
export const BASE_URL: string = envStr('BASE_URL', 'http://127.0.0.1:8080').replace(/\/+$/, '');

/** Files whose size is at most this are downloaded as ArrayBuffers and hashed. */
export const HASH_MAX_BYTES: number = envInt('HASH_MAX_BYTES', 16 * 1024 * 1024);

/** Where handleSummary writes its files (relative to k6's working directory). The folder must exist. */
export const RESULTS_DIR: string = envStr('RESULTS_DIR', 'k6/results').replace(/\/+$/, '');

/** URL of a file under /files/, each path segment percent-encoded. */
export function fileUrl(relPath: string): string {
  const segments = relPath.split('/').filter((s) => s !== '').map((s) => encodeURIComponent(s));
  return `${BASE_URL}/files/${segments.join('/')}`;
}

/** URL of a folder listing under /files/ (always ends with a slash). */
export function dirUrl(relDir: string): string {
  const segments = relDir.split('/').filter((s) => s !== '').map((s) => encodeURIComponent(s));
  return `${BASE_URL}/files/${segments.length > 0 ? segments.join('/') + '/' : ''}`;
}

/**
 * What the runner knows about the fixtures, passed as JSON in FIXTURES:
 * `{ "small.bin": { "size": 262144, "sha256": "…", "content": "random" }, … }`.
 * `content: "pattern"` means byte i is (i + offset) mod 251 (offset 0 unless
 * given), so any range can be verified without the file.
 */
export interface FixtureInfo {
  size?: number;
  sha256?: string;
  content?: 'random' | 'pattern' | 'zero' | 'changing';
  offset?: number;
}

let fixturesCache: { [name: string]: FixtureInfo } | undefined;

export function fixtures(): { [name: string]: FixtureInfo } {
  if (fixturesCache !== undefined) return fixturesCache;
  const raw = envOpt('FIXTURES');
  let parsed: { [name: string]: FixtureInfo } = {};
  if (raw !== undefined) {
    const value: unknown = JSON.parse(raw);
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      throw new Error('FIXTURES must be a JSON object keyed by file name');
    }
    parsed = value as { [name: string]: FixtureInfo };
  }
  fixturesCache = parsed;
  return parsed;
}

export function fixture(name: string): FixtureInfo {
  const f = fixtures()[name];
  return f === undefined ? {} : f;
}

/** Per-request timeout for whole-file downloads (k6's default is 60s). */
export const DOWNLOAD_TIMEOUT: string = envStr('DOWNLOAD_TIMEOUT', '300s');

/** Headers sent on every file request: no content coding, so byte counts are the file's. */
export const IDENTITY: { [name: string]: string } = { 'Accept-Encoding': 'identity' };

export function withIdentity(extra: { [name: string]: string }): { [name: string]: string } {
  const h: { [name: string]: string } = { 'Accept-Encoding': 'identity' };
  for (const k of Object.keys(extra)) h[k] = extra[k];
  return h;
}
