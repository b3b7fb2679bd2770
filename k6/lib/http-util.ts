/**
 * Small response helpers shared by the scenarios. k6 hands response headers
 * over with Go's canonical names ("Etag", "Content-Range"), so lookups here
 * are case-insensitive instead of guessing the spelling.
 */
import crypto from 'k6/crypto';
import http from 'k6/http';
import type { Response } from 'k6/http';

/** A header's value, matched case-insensitively; undefined when absent. */
export function header(res: Response, name: string): string | undefined {
  const headers = res.headers;
  if (headers === null || headers === undefined) return undefined;
  const direct = headers[name];
  if (direct !== undefined) return direct;
  const lower = name.toLowerCase();
  for (const k of Object.keys(headers)) {
    if (k.toLowerCase() === lower) return headers[k];
  }
  return undefined;
}

/** Content-Length header as a number, or NaN when absent or malformed. */
export function contentLength(res: Response): number {
  const v = header(res, 'Content-Length');
  return v !== undefined && /^\d+$/.test(v.trim()) ? Number(v.trim()) : NaN;
}

/** Byte length of a body: ArrayBuffer (binary) length; 0 for null. Strings are NOT byte counts. */
export function bodyBytes(body: ArrayBuffer | string | null | undefined): number {
  if (body === null || body === undefined) return 0;
  if (typeof body === 'string') return body.length;
  return body.byteLength;
}

export interface ByteRange {
  start: number;
  end: number; // inclusive
}

export type ContentRange =
  | { kind: 'range'; start: number; end: number; size: number }
  | { kind: 'unsatisfied'; size: number };

/** Parses "bytes a-b/size" or the unsatisfied form "bytes *\/size"; undefined when malformed. */
export function parseContentRange(value: string | undefined): ContentRange | undefined {
  if (value === undefined) return undefined;
  const v = value.trim();
  let m = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(v);
  if (m !== null) {
    const start = Number(m[1]);
    const end = Number(m[2]);
    const size = Number(m[3]);
    if (start > end || end >= size) return undefined;
    return { kind: 'range', start, end, size };
  }
  m = /^bytes \*\/(\d+)$/.exec(v);
  if (m !== null) return { kind: 'unsatisfied', size: Number(m[1]) };
  return undefined;
}

/** True when the Content-Range header says exactly `bytes start-end/size`. */
export function hasContentRange(res: Response, start: number, end: number, size: number): boolean {
  const cr = parseContentRange(header(res, 'Content-Range'));
  return cr !== undefined && cr.kind === 'range' && cr.start === start && cr.end === end && cr.size === size;
}

/** A strong entity tag: quoted, never W/. */
export function isStrongEtag(etag: string | undefined): boolean {
  return etag !== undefined && /^"[\x21\x23-\x7e\x80-\xff]*"$/.test(etag);
}

/** Byte-wise equality of two buffers (or a buffer and a slice of another). */
export function sameBytes(a: ArrayBuffer, b: ArrayBuffer, bOffset = 0): boolean {
  if (bOffset + a.byteLength > b.byteLength) return false;
  const x = new Uint8Array(a);
  const y = new Uint8Array(b, bOffset, a.byteLength);
  for (let i = 0; i < x.length; i++) {
    if (x[i] !== y[i]) return false;
  }
  return true;
}

/** The value of byte `index` in a pattern file with the given offset. */
export function patternByte(index: number, offset = 0): number {
  return (index + offset) % 251;
}

/**
 * Checks that `data` holds pattern bytes starting at file position `start`.
 * Returns the index within data of the first wrong byte, or -1 when all match.
 */
export function firstPatternMismatch(
  data: ArrayBuffer | Uint8Array,
  start: number,
  offset = 0,
): number {
  const bytes = data instanceof Uint8Array ? data : new Uint8Array(data);
  let expected = (start + offset) % 251;
  for (let i = 0; i < bytes.length; i++) {
    if (bytes[i] !== expected) return i;
    expected = expected === 250 ? 0 : expected + 1;
  }
  return -1;
}

/** Checks that every byte is zero (sparse fixtures); same contract as firstPatternMismatch. */
export function firstNonZero(data: ArrayBuffer | Uint8Array): number {
  const bytes = data instanceof Uint8Array ? data : new Uint8Array(data);
  for (let i = 0; i < bytes.length; i++) {
    if (bytes[i] !== 0) return i;
  }
  return -1;
}

/**
 * SHA-256 of an ArrayBuffer as lowercase hex. k6/crypto accepts string or
 * ArrayBuffer input (not typed-array views), so views are copied out first.
 */
export function sha256Hex(data: ArrayBuffer | Uint8Array): string {
  return crypto.sha256(toArrayBuffer(data), 'hex');
}

/** An ArrayBuffer holding exactly the bytes of a view (no copy when it already is one). */
export function toArrayBuffer(data: ArrayBuffer | Uint8Array): ArrayBuffer {
  if (!(data instanceof Uint8Array)) return data;
  if (data.byteOffset === 0 && data.byteLength === data.buffer.byteLength) return data.buffer as ArrayBuffer;
  return (data.buffer as ArrayBuffer).slice(data.byteOffset, data.byteOffset + data.byteLength);
}

/** Random integer in [min, max], inclusive. */
export function randInt(min: number, max: number): number {
  return min + Math.floor(Math.random() * (max - min + 1));
}

/** Seconds from a millisecond setting, for sleep(). */
export function seconds(ms: number): number {
  return ms / 1000;
}

/**
 * Statuses the scenarios expect. Passed to http.setResponseCallback so that
 * http_req_failed only counts statuses outside this list (by default k6 would
 * count every 4xx, e.g. our deliberate 412 and 416, as failed).
 */
export function expectStatuses(...statuses: number[]): void {
  http.setResponseCallback(http.expectedStatuses(...statuses));
}

/** Short description of a response for check failure logs. */
export function describe(res: Response): string {
  const cr = header(res, 'Content-Range');
  return `${res.request ? res.request.method : '?'} ${res.url} -> ${res.status}${res.error ? ` error=${res.error}` : ''}` +
    `${cr !== undefined ? ` Content-Range=${cr}` : ''} Content-Length=${header(res, 'Content-Length') ?? '-'}`;
}
