/**
 * Parser for `multipart/byteranges` bodies (RFC 9110 §14.6 and RFC 2046
 * §5.1.1), working on the raw bytes of a `responseType: 'binary'` response.
 *
 *   [preamble] --BOUNDARY CRLF
 *   Content-Type: …  CRLF
 *   Content-Range: bytes a-b/size CRLF
 *   CRLF
 *   <b-a+1 bytes>
 *   CRLF --BOUNDARY CRLF  …  CRLF --BOUNDARY-- [epilogue]
 *
 * A part's data is taken by the length its Content-Range announces (the bytes
 * may contain anything, even the boundary), and the delimiter must follow it
 * exactly. Parts without Content-Range fall back to scanning for the next
 * delimiter. Headers are ASCII; no TextDecoder is needed (k6 has none).
 */
import { parseContentRange } from './http-util.ts';
import type { ContentRange } from './http-util.ts';

export interface MultipartPart {
  /** Header names lower-cased. */
  headers: { [name: string]: string };
  /** Parsed Content-Range, when present and well formed. */
  range: ContentRange | undefined;
  /** The part's bytes: a view into the response body (no copy). */
  data: Uint8Array;
}

export type MultipartResult =
  | { ok: true; parts: MultipartPart[] }
  | { ok: false; error: string; parts: MultipartPart[] };

const CR = 13;
const LF = 10;
const DASH = 45;

/** The boundary parameter of a multipart Content-Type, unquoted; undefined if absent. */
export function boundaryOf(contentType: string | undefined): string | undefined {
  if (contentType === undefined) return undefined;
  const m = /;\s*boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType);
  if (m === null) return undefined;
  return m[1] !== undefined ? m[1] : m[2];
}

/** True when a Content-Type is multipart/byteranges. */
export function isByteranges(contentType: string | undefined): boolean {
  return contentType !== undefined && /^\s*multipart\/byteranges\s*(;|$)/i.test(contentType);
}

function asciiBytes(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i) & 0xff;
  return out;
}

function ascii(bytes: Uint8Array, from: number, to: number): string {
  let s = '';
  for (let i = from; i < to; i++) s += String.fromCharCode(bytes[i]);
  return s;
}

function matchesAt(hay: Uint8Array, at: number, needle: Uint8Array): boolean {
  if (at < 0 || at + needle.length > hay.length) return false;
  for (let j = 0; j < needle.length; j++) {
    if (hay[at + j] !== needle[j]) return false;
  }
  return true;
}

function indexOf(hay: Uint8Array, needle: Uint8Array, from: number): number {
  const first = needle[0];
  const last = hay.length - needle.length;
  for (let i = from; i <= last; i++) {
    if (hay[i] === first && matchesAt(hay, i, needle)) return i;
  }
  return -1;
}

/** Skips transport padding (spaces/tabs) then one CRLF; returns the next index or -1. */
function skipLineEnd(bytes: Uint8Array, at: number): number {
  let i = at;
  while (i < bytes.length && (bytes[i] === 32 || bytes[i] === 9)) i++;
  if (bytes[i] === CR && bytes[i + 1] === LF) return i + 2;
  return -1;
}

/**
 * Splits a multipart/byteranges body into parts.
 * @param body - the response body (ArrayBuffer from responseType 'binary').
 * @param contentType - the response's Content-Type header (carries the boundary).
 */
export function parseMultipart(body: ArrayBuffer, contentType: string | undefined): MultipartResult {
  const parts: MultipartPart[] = [];
  const fail = (error: string): MultipartResult => ({ ok: false, error, parts });

  if (!isByteranges(contentType)) return fail(`not multipart/byteranges: ${String(contentType)}`);
  const boundary = boundaryOf(contentType);
  if (boundary === undefined || boundary === '') return fail('no boundary parameter');

  const bytes = new Uint8Array(body);
  const dashBoundary = asciiBytes('--' + boundary);
  const delimiter = asciiBytes('\r\n--' + boundary);

  // The first boundary may start the body or follow a preamble ending in CRLF.
  let pos: number;
  if (matchesAt(bytes, 0, dashBoundary)) {
    pos = dashBoundary.length;
  } else {
    const at = indexOf(bytes, delimiter, 0);
    if (at < 0) return fail('opening boundary not found');
    pos = at + delimiter.length;
  }

  for (;;) {
    // Just after a "--boundary": either "--" (close) or CRLF then a part.
    if (bytes[pos] === DASH && bytes[pos + 1] === DASH) {
      return parts.length > 0 ? { ok: true, parts } : fail('no parts before the closing boundary');
    }
    const headerStart = skipLineEnd(bytes, pos);
    if (headerStart < 0) return fail(`expected CRLF after boundary at byte ${pos}`);

    // Header lines up to the empty line.
    const headers: { [name: string]: string } = {};
    let lineStart = headerStart;
    for (;;) {
      let eol = lineStart;
      while (eol + 1 < bytes.length && !(bytes[eol] === CR && bytes[eol + 1] === LF)) eol++;
      if (eol + 1 >= bytes.length) return fail('part headers not terminated');
      if (eol === lineStart) {
        lineStart = eol + 2; // empty line: data starts here
        break;
      }
      const line = ascii(bytes, lineStart, eol);
      const colon = line.indexOf(':');
      if (colon <= 0) return fail(`malformed part header line: ${JSON.stringify(line)}`);
      headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
      lineStart = eol + 2;
    }
    const dataStart = lineStart;

    const range = parseContentRange(headers['content-range']);
    let dataEnd: number;
    if (range !== undefined && range.kind === 'range') {
      dataEnd = dataStart + (range.end - range.start + 1);
      if (dataEnd > bytes.length) {
        return fail(`part ${parts.length} announces ${range.end - range.start + 1} bytes but the body ends first`);
      }
      if (!matchesAt(bytes, dataEnd, delimiter)) {
        return fail(`part ${parts.length}: no boundary right after its ${range.end - range.start + 1} announced bytes`);
      }
    } else {
      if (headers['content-range'] !== undefined) {
        return fail(`part ${parts.length}: malformed Content-Range ${JSON.stringify(headers['content-range'])}`);
      }
      dataEnd = indexOf(bytes, delimiter, dataStart);
      if (dataEnd < 0) return fail(`part ${parts.length}: closing boundary not found`);
    }

    parts.push({ headers, range, data: bytes.subarray(dataStart, dataEnd) });
    pos = dataEnd + delimiter.length;
    if (pos > bytes.length) return fail('body truncated after a part');
  }
}
