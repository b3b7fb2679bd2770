/**
 * Conditional requests (RFC 9110 §13), evaluated in the order of §13.2.2 for a
 * file that exists. The caller has already decided that the unconditional
 * answer would be 2xx (§13.2.1): missing files are 404 before this runs.
 *
 * Each header has its own check returning a three-valued result: 'none' when
 * the header is absent or must be ignored, 'pass' when the condition is true,
 * 'fail' when it is false.
 */
import { parseEntityTag, parseEntityTagList, strongMatch, weakMatch, type EntityTag } from './etag';
import { parseHttpDate } from './http-date';
import type { PlanRequest } from './types';

export type CondResult = 'none' | 'pass' | 'fail';

/** What the preconditions leave the planner to do. */
export type PreconditionOutcome =
  /** Serve the file; `honorRange` is false when If-Range failed, so Range must be ignored. */
  | { readonly kind: 'proceed'; readonly honorRange: boolean }
  | { readonly kind: 'not-modified' }
  | { readonly kind: 'precondition-failed' };

/** The current representation's validators, as the response will state them. */
export interface Validators {
  /** The strong ETag as sent, quotes included. */
  readonly etag: string;
  /** Last-Modified in epoch ms (a whole second, already clamped to the Date). */
  readonly lastModifiedMs: number;
}

/**
 * If-Range's date form only counts when the date is itself a strong validator:
 * Last-Modified at least this long before Date (§8.8.2.2 allows treating an
 * older date as strong; 60 s is the margin Chromium uses, decision 2).
 */
export const IF_RANGE_DATE_MIN_AGE_MS = 60_000;

function currentTag(validators: Validators): EntityTag {
  const tag = parseEntityTag(validators.etag);
  if (tag === undefined) throw new TypeError(`not an entity-tag: ${validators.etag}`);
  return tag;
}

/**
 * checkIfMatch (§13.1.1) uses strong comparison, so `W/"o"` never matches
 * (row 43); `*` matches because the file exists. A malformed value fails: the
 * client asked for a guard we cannot confirm, so we refuse rather than guess.
 * A value with no element at all is treated as absent.
 */
export function checkIfMatch(value: string | undefined, etag: EntityTag): CondResult {
  if (value === undefined) return 'none';
  const list = parseEntityTagList(value);
  if (list === undefined) return 'fail';
  if (list.kind === 'any') return 'pass';
  if (list.tags.length === 0) return 'none';
  return list.tags.some((tag) => strongMatch(tag, etag)) ? 'pass' : 'fail';
}

/**
 * checkIfUnmodifiedSince (§13.1.4): true when Last-Modified is at or before
 * the date. An invalid date, or more than one member (a repeated header), is
 * ignored as §13.1.4 requires.
 */
export function checkIfUnmodifiedSince(
  value: string | undefined,
  lastModifiedMs: number,
  now: Date,
  duplicated = false,
): CondResult {
  if (value === undefined || duplicated) return 'none';
  const date = parseHttpDate(value, now);
  if (date === undefined) return 'none';
  return lastModifiedMs <= date ? 'pass' : 'fail';
}

/**
 * checkIfNoneMatch (§13.1.2) uses weak comparison, so `W/"o"` matches the
 * strong `"o"` (row 37), and `*` matches the existing file. The condition is
 * true (pass) when nothing matches. A malformed value matches nothing, and a
 * value with no element is treated as absent.
 */
export function checkIfNoneMatch(value: string | undefined, etag: EntityTag): CondResult {
  if (value === undefined) return 'none';
  const list = parseEntityTagList(value);
  if (list === undefined) return 'pass';
  if (list.kind === 'any') return 'fail';
  if (list.tags.length === 0) return 'none';
  return list.tags.some((tag) => weakMatch(tag, etag)) ? 'fail' : 'pass';
}

/**
 * checkIfModifiedSince (§13.1.3): false (not modified) when Last-Modified is
 * at or before the date. Ignored for an invalid date or more than one member.
 * Only GET and HEAD reach the planner, so the method rule needs no check here.
 */
export function checkIfModifiedSince(
  value: string | undefined,
  lastModifiedMs: number,
  now: Date,
  duplicated = false,
): CondResult {
  if (value === undefined || duplicated) return 'none';
  const date = parseHttpDate(value, now);
  if (date === undefined) return 'none';
  return lastModifiedMs <= date ? 'fail' : 'pass';
}

/**
 * checkIfRange (§13.1.5), strict (decision 2). The value is ONE entity-tag or
 * ONE HTTP-date ("a valid entity-tag can be distinguished from a valid
 * HTTP-date by examining the first three characters for a DQUOTE"):
 *
 * - a tag passes only under strong comparison with the current ETag, so a weak
 *   tag never passes (row 48) and `"zz", "o"` or `x"o"` is no tag at all (row 49);
 * - a date passes only when it equals Last-Modified exactly (row 51: "<=" is
 *   wrong) and Last-Modified is at least IF_RANGE_DATE_MIN_AGE_MS before the
 *   Date, since §13.1.5 requires the date to be a strong validator (row 52).
 *
 * Anything else, or a repeated header, fails: the client then gets the full
 * 200, which is always safe for a resume (it restarts) whereas a wrong 206
 * would splice two versions of the file.
 */
export function checkIfRange(
  value: string | undefined,
  validators: Validators,
  now: Date,
  duplicated = false,
): CondResult {
  if (value === undefined) return 'none';
  if (duplicated) return 'fail';
  const trimmed = value.replace(/^[ \t]+|[ \t]+$/g, '');
  if (trimmed.startsWith('"') || trimmed.startsWith('W/')) {
    const tag = parseEntityTag(trimmed);
    return tag !== undefined && strongMatch(tag, currentTag(validators)) ? 'pass' : 'fail';
  }
  const date = parseHttpDate(trimmed, now);
  if (date === undefined || date !== validators.lastModifiedMs) return 'fail';
  return now.getTime() - validators.lastModifiedMs >= IF_RANGE_DATE_MIN_AGE_MS ? 'pass' : 'fail';
}

/**
 * evaluatePreconditions follows RFC 9110 §13.2.2 step by step:
 * If-Match, else If-Unmodified-Since (412 when false); If-None-Match, else
 * If-Modified-Since (304 for GET/HEAD when false); then If-Range, which only
 * matters for a GET carrying Range and, when false, makes the Range ignored.
 */
export function evaluatePreconditions(req: PlanRequest, validators: Validators): PreconditionOutcome {
  const etag = currentTag(validators);
  const dup = (name: string): boolean => req.duplicated?.has(name) ?? false;

  const ifMatch = checkIfMatch(req.ifMatch, etag);
  if (ifMatch === 'fail') return { kind: 'precondition-failed' };
  if (ifMatch === 'none') {
    const ius = checkIfUnmodifiedSince(req.ifUnmodifiedSince, validators.lastModifiedMs, req.now, dup('if-unmodified-since'));
    if (ius === 'fail') return { kind: 'precondition-failed' };
  }

  const ifNoneMatch = checkIfNoneMatch(req.ifNoneMatch, etag);
  if (ifNoneMatch === 'fail') return { kind: 'not-modified' };
  if (ifNoneMatch === 'none') {
    const ims = checkIfModifiedSince(req.ifModifiedSince, validators.lastModifiedMs, req.now, dup('if-modified-since'));
    if (ims === 'fail') return { kind: 'not-modified' };
  }

  // §13.2.2 step 5: only "when the method is GET and both Range and If-Range
  // are present"; If-Range without Range is ignored (row 53).
  if (req.method === 'GET' && req.range !== undefined && req.ifRange !== undefined) {
    const ifRange = checkIfRange(req.ifRange, validators, req.now, dup('if-range'));
    return { kind: 'proceed', honorRange: ifRange !== 'fail' };
  }
  return { kind: 'proceed', honorRange: true };
}
