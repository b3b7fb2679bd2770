/**
 * planResponse: the whole protocol decision for one GET or HEAD of a regular
 * file, as a pure function of the request headers, one fstat and the options.
 * Engines only execute the plan (write `headers` with `status`, then `body`).
 *
 * Header policy, per status:
 *
 * - 200 / 206: Accept-Ranges, Content-Length (§8.6, always, decision 7),
 *   Content-Type, ETag, Last-Modified, plus every base header. A single range
 *   adds Content-Range; several ranges make the type multipart/byteranges and
 *   have no top-level Content-Range (§14.4). The 206 repeats the 200's fields
 *   even when answering If-Range: §15.3.7 only says SHOULD NOT there, and a
 *   uniform 206 (Content-Disposition included, row 62) suits download clients.
 * - 304 (§15.4.5): ETag and Accept-Ranges, plus only the base headers a 304
 *   MUST repeat (Cache-Control, Content-Location, Date, Expires, Vary). No
 *   Content-Type or Content-Length, and no Last-Modified, since "a sender
 *   SHOULD NOT generate representation metadata other than the above listed
 *   fields" and the ETag already identifies the representation.
 * - 412 / 416: a short text/plain body with its own Content-Length; 416 adds
 *   a Content-Range in the unsatisfied-range form, `bytes *` then `/SIZE`
 *   (§14.4, §15.5.17); no file validators. Base headers are kept except content metadata (Content-Disposition would name the
 *   error text after the file) and Cache-Control/Expires (an error made
 *   cacheable could be served in place of the file).
 *
 * Headers the planner owns (Accept-Ranges, Content-Encoding, Content-Length,
 * Content-Range, Content-Type, ETag, Last-Modified, Transfer-Encoding) are
 * never taken from the base headers: the file is sent
 * in identity coding with a known length (decision 7, rows 73-74). `Date` is
 * set by Node; `req.now` stands for it. CORS headers are the HTTP layer's.
 */
import { makeETag } from './etag';
import { formatHttpDate, lastModifiedMs } from './http-date';
import { byteLength, contentRange, generateBoundary, multipartBody, multipartContentType } from './multipart';
import { evaluatePreconditions, type Validators } from './preconditions';
import { parseRange } from './range';
import type { BodyPiece, ByteSpan, FileMeta, PlanOptions, PlanRequest, PlanStatus, ResponsePlan } from './types';

type Headers = Record<string, string>;

/** The body of a 412 response. */
export const PRECONDITION_FAILED_BODY = 'Precondition Failed\n';
/** The body of a 416 response. */
export const RANGE_NOT_SATISFIABLE_BODY = 'Range Not Satisfiable\n';
const ERROR_CONTENT_TYPE = 'text/plain; charset=utf-8';

/** Lower-case names of the headers the planner alone decides. */
const PLANNER_OWNED = new Set([
  'accept-ranges',
  'content-encoding',
  'content-length',
  'content-range',
  'content-type',
  'etag',
  'last-modified',
  'transfer-encoding',
]);

/** Base headers a 304 carries (§15.4.5); ETag comes from the planner itself. */
const NOT_MODIFIED_KEEPS = new Set(['cache-control', 'content-location', 'date', 'expires', 'vary']);

function copyBaseHeaders(opts: PlanOptions, keep: (lowerName: string) => boolean): Headers {
  const headers: Headers = {};
  for (const [name, value] of Object.entries(opts.baseHeaders ?? {})) {
    const lower = name.toLowerCase();
    if (!PLANNER_OWNED.has(lower) && keep(lower)) headers[name] = value;
  }
  return headers;
}

function forFileResponse(): boolean {
  return true;
}

function forNotModified(lower: string): boolean {
  return NOT_MODIFIED_KEEPS.has(lower);
}

function forErrorResponse(lower: string): boolean {
  return !lower.startsWith('content-') && lower !== 'cache-control' && lower !== 'expires';
}

function makePlan(
  req: PlanRequest,
  status: PlanStatus,
  headers: Headers,
  body: readonly BodyPiece[],
  bodyLength: number,
): ResponsePlan {
  const isHead = req.method === 'HEAD';
  return {
    status,
    headers,
    body: isHead ? [] : body,
    bodyLength: isHead ? 0 : bodyLength,
    partial: status === 206,
  };
}

/**
 * fileValidators computes the validators every file response states: the
 * strong ETag and Last-Modified, clamped to the response Date (row 3).
 */
export function fileValidators(file: FileMeta, now: Date): Validators {
  return { etag: makeETag(file), lastModifiedMs: lastModifiedMs(file.mtimeNs, now) };
}

function validatorHeaders(v: Validators): Headers {
  return { ETag: v.etag, 'Last-Modified': formatHttpDate(v.lastModifiedMs) };
}

function fullResponse(req: PlanRequest, file: FileMeta, opts: PlanOptions, v: Validators): ResponsePlan {
  const headers: Headers = {
    ...copyBaseHeaders(opts, forFileResponse),
    'Accept-Ranges': 'bytes',
    'Content-Length': String(file.size),
    'Content-Type': opts.contentType,
    ...validatorHeaders(v),
  };
  const body: BodyPiece[] = file.size === 0 ? [] : [{ kind: 'file', start: 0, end: file.size - 1 }];
  return makePlan(req, 200, headers, body, file.size);
}

function singleRangeResponse(
  req: PlanRequest,
  file: FileMeta,
  opts: PlanOptions,
  v: Validators,
  span: ByteSpan,
): ResponsePlan {
  const length = span.end - span.start + 1;
  const headers: Headers = {
    ...copyBaseHeaders(opts, forFileResponse),
    'Accept-Ranges': 'bytes',
    'Content-Length': String(length),
    'Content-Range': contentRange(span, file.size),
    'Content-Type': opts.contentType,
    ...validatorHeaders(v),
  };
  return makePlan(req, 206, headers, [{ kind: 'file', start: span.start, end: span.end }], length);
}

function multiRangeResponse(
  req: PlanRequest,
  file: FileMeta,
  opts: PlanOptions,
  v: Validators,
  spans: readonly ByteSpan[],
): ResponsePlan {
  const boundary = opts.boundary ?? generateBoundary();
  const multipart = multipartBody(spans, file.size, opts.contentType, boundary);
  const headers: Headers = {
    ...copyBaseHeaders(opts, forFileResponse),
    'Accept-Ranges': 'bytes',
    'Content-Length': String(multipart.length),
    'Content-Type': multipartContentType(boundary),
    ...validatorHeaders(v),
  };
  return makePlan(req, 206, headers, multipart.pieces, multipart.length);
}

function notModifiedResponse(req: PlanRequest, opts: PlanOptions, v: Validators): ResponsePlan {
  const headers: Headers = {
    ...copyBaseHeaders(opts, forNotModified),
    'Accept-Ranges': 'bytes',
    ETag: v.etag,
  };
  return makePlan(req, 304, headers, [], 0);
}

function errorResponse(
  req: PlanRequest,
  opts: PlanOptions,
  status: 412 | 416,
  text: string,
  extra: Headers,
): ResponsePlan {
  const length = byteLength(text);
  const headers: Headers = {
    ...copyBaseHeaders(opts, forErrorResponse),
    'Accept-Ranges': 'bytes',
    'Content-Length': String(length),
    'Content-Type': ERROR_CONTENT_TYPE,
    ...extra,
  };
  return makePlan(req, status, headers, [{ kind: 'bytes', data: text }], length);
}

/**
 * Decides whether the Range header applies at all. It does not on HEAD
 * (§14.2: "A server MUST ignore a Range header field received with a request
 * method that is unrecognized or for which range handling is not defined",
 * and only GET defines it; decision 6, row 33), nor when it arrived on more
 * than one line (Range is a singleton field, §5.3; row 26), nor after a
 * failed If-Range (§13.1.5).
 */
function rangeHeaderApplies(req: PlanRequest, honorRange: boolean): boolean {
  if (req.method !== 'GET' || req.range === undefined) return false;
  if (req.duplicated?.has('range') ?? false) return false;
  return honorRange;
}

/**
 * planResponse decides status, headers and body pieces for a GET or HEAD of
 * `file`: preconditions first (RFC 9110 §13.2.2), then Range (§14.2).
 * HEAD gets exactly the GET plan's status and headers, with no body.
 */
export function planResponse(req: PlanRequest, file: FileMeta, opts: PlanOptions): ResponsePlan {
  if (!Number.isInteger(opts.maxRanges) || opts.maxRanges < 1) {
    throw new RangeError(`opts.maxRanges must be a positive integer, got ${opts.maxRanges}`);
  }
  const v = fileValidators(file, req.now);
  const outcome = evaluatePreconditions(req, v);
  if (outcome.kind === 'precondition-failed') {
    return errorResponse(req, opts, 412, PRECONDITION_FAILED_BODY, {});
  }
  if (outcome.kind === 'not-modified') return notModifiedResponse(req, opts, v);

  if (!rangeHeaderApplies(req, outcome.honorRange)) return fullResponse(req, file, opts, v);
  const range = parseRange(req.range, file.size, opts.maxRanges);
  switch (range.kind) {
    case 'ignore':
      return fullResponse(req, file, opts, v);
    case 'unsatisfiable':
      return errorResponse(req, opts, 416, RANGE_NOT_SATISFIABLE_BODY, { 'Content-Range': `bytes */${file.size}` });
    case 'ranges': {
      const [first, ...rest] = range.ranges;
      if (first !== undefined && rest.length === 0) return singleRangeResponse(req, file, opts, v, first);
      return multiRangeResponse(req, file, opts, v, range.ranges);
    }
  }
}
