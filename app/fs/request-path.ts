/**
 * Turns the path a client asked for into safe relative segments, or a refusal.
 * Pure: no filesystem access. The realpath check against the root (symlinks)
 * happens later, in resolve.ts.
 *
 * Refusals are 404 ("never a hint that the file exists", decisions.md 8),
 * except malformed percent-encoding and NUL bytes, which are 400: the request
 * itself is broken, whatever the filesystem holds.
 */

export type PathParse =
  | { readonly ok: true; readonly segments: readonly string[]; readonly directory: boolean }
  | { readonly ok: false; readonly status: 400 | 404; readonly reason: string };

const ENCODED_SEPARATOR = /%(2f|5c)/i;

function refuse(status: 400 | 404, reason: string): PathParse {
  return { ok: false, status, reason };
}

/** Checks one decoded segment. Returns a refusal, or undefined when the segment is acceptable. */
function checkSegment(segment: string, showDotfiles: boolean): PathParse | undefined {
  if (segment.includes('\0')) return refuse(400, 'NUL byte in path');
  if (segment === '' ) return refuse(404, 'empty path segment');
  if (segment === '.' || segment === '..') return refuse(404, 'dot segment');
  // A backslash is a separator on Windows clients and in some proxies; never let it
  // smuggle a ".." past the segment check.
  if (segment.includes('\\')) return refuse(404, 'backslash in path');
  if (!showDotfiles && segment.startsWith('.')) return refuse(404, 'dotfile hidden');
  return undefined;
}

/**
 * Parses the still-encoded part of a `/files/<path>` URL after the `/files/` prefix
 * (no query string). An empty string is the root directory.
 */
export function parseUrlPath(encoded: string, showDotfiles: boolean): PathParse {
  const directory = encoded === '' || encoded.endsWith('/');
  const body = directory ? encoded.slice(0, -1) : encoded;
  if (body === '') return { ok: true, segments: [], directory: true };
  const segments: string[] = [];
  for (const raw of body.split('/')) {
    if (ENCODED_SEPARATOR.test(raw)) return refuse(404, 'encoded separator in path');
    let segment: string;
    try {
      segment = decodeURIComponent(raw);
    } catch {
      return refuse(400, 'malformed percent-encoding');
    }
    const refusal = checkSegment(segment, showDotfiles);
    if (refusal) return refusal;
    segments.push(segment);
  }
  return { ok: true, segments, directory };
}

/**
 * Parses the already-decoded `path` query parameter of `/files?path=` (the form the
 * Tornado predecessor used). It is always relative to the root: an absolute path is
 * refused rather than re-rooted, so `path=/etc/passwd` can never look like it worked.
 */
export function parseQueryPath(value: string, showDotfiles: boolean): PathParse {
  if (value.includes('\0')) return refuse(400, 'NUL byte in path');
  if (value.startsWith('/') || value.startsWith('\\') || /^[A-Za-z]:/.test(value)) {
    return refuse(404, 'absolute path');
  }
  const directory = value === '' || value.endsWith('/');
  const body = directory ? value.slice(0, -1) : value;
  if (body === '') return { ok: true, segments: [], directory: true };
  const segments: string[] = [];
  for (const segment of body.split('/')) {
    const refusal = checkSegment(segment, showDotfiles);
    if (refusal) return refusal;
    segments.push(segment);
  }
  return { ok: true, segments, directory };
}
