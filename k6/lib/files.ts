/**
 * Resolves what a scenario must know about a served file, in setup():
 * its size (from FIXTURES, else a HEAD), its ETag, and the SHA-256 the body
 * must have (from FIXTURES, else — for files up to HASH_MAX_BYTES — the hash
 * of one reference download, which turns the check into "every download is
 * byte-identical to the first").
 */
import http from 'k6/http';
import { fail } from 'k6';
import { HASH_MAX_BYTES, DOWNLOAD_TIMEOUT, IDENTITY, fileUrl, fixture } from './config.ts';
import { bodyBytes, contentLength, header, sha256Hex } from './http-util.ts';

export interface ResolvedFile {
  name: string;
  url: string;
  size: number;
  etag: string;
  /** Expected SHA-256 (hex) when hashing is possible, else ''. */
  sha256: string;
  /** 'fixtures' when the runner supplied the hash, 'reference' when taken from a setup download. */
  shaSource: 'fixtures' | 'reference' | 'none';
  content: 'random' | 'pattern' | 'zero' | 'changing' | 'unknown';
  offset: number;
}

/** Setup-only: HEADs the file (and downloads it once when a reference hash is needed). */
// Setup requests expect 200 whatever the scenario's default response callback
// says (seek and multi-range only expect 206), so they never count as failed.
const setupExpect = http.expectedStatuses(200);

export function resolveFile(name: string, wantHash: boolean): ResolvedFile {
  const url = fileUrl(name);
  const info = fixture(name);
  const head = http.head(url, { headers: IDENTITY, tags: { phase: 'setup' }, responseCallback: setupExpect });
  if (head.status !== 200) {
    fail(`setup: HEAD ${url} answered ${head.status}${head.error ? ' (' + head.error + ')' : ''}; is the file served?`);
  }
  const headSize = contentLength(head);
  const size = info.size !== undefined ? info.size : headSize;
  if (!Number.isFinite(size)) fail(`setup: no size for ${name} (no FIXTURES entry and no Content-Length)`);
  if (info.size !== undefined && Number.isFinite(headSize) && headSize !== info.size) {
    fail(`setup: ${name} is ${headSize} bytes on the server but FIXTURES says ${info.size}`);
  }
  const etag = header(head, 'ETag') ?? '';

  let sha256 = '';
  let shaSource: ResolvedFile['shaSource'] = 'none';
  if (wantHash && size <= HASH_MAX_BYTES) {
    if (info.sha256 !== undefined && info.sha256 !== '') {
      sha256 = info.sha256.toLowerCase();
      shaSource = 'fixtures';
    } else if (info.content !== 'changing') {
      const res = http.get(url, {
        headers: IDENTITY,
        responseType: 'binary',
        timeout: DOWNLOAD_TIMEOUT,
        tags: { phase: 'setup' },
        responseCallback: setupExpect,
      });
      if (res.status !== 200 || bodyBytes(res.body) !== size) {
        fail(`setup: reference download of ${name} failed (${res.status}, ${bodyBytes(res.body)} of ${size} bytes)`);
      }
      sha256 = sha256Hex(res.body);
      shaSource = 'reference';
      console.warn(`${name}: no sha256 in FIXTURES; checking downloads against a reference download (${sha256.slice(0, 12)}…)`);
    }
  }
  return {
    name,
    url,
    size,
    etag,
    sha256,
    shaSource,
    content: info.content ?? 'unknown',
    offset: info.offset ?? 0,
  };
}
