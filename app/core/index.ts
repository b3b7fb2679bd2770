/** The pure protocol core: Range, validators, preconditions, multipart framing and the planner. */
export * from './types';
export { makeETag, parseEntityTag, parseEntityTagList, strongMatch, weakMatch } from './etag';
export type { EntityTag, EntityTagList } from './etag';
export { formatHttpDate, parseHttpDate, lastModifiedMs, floorNsToSecondMs } from './http-date';
export { parseRange, coalesceSpans, MAX_RANGE_SPECS } from './range';
export type { RangeResult, RangeIgnoreReason } from './range';
export {
  evaluatePreconditions,
  checkIfMatch,
  checkIfUnmodifiedSince,
  checkIfNoneMatch,
  checkIfModifiedSince,
  checkIfRange,
  IF_RANGE_DATE_MIN_AGE_MS,
} from './preconditions';
export type { CondResult, PreconditionOutcome, Validators } from './preconditions';
export {
  multipartBody,
  multipartContentType,
  generateBoundary,
  isValidBoundary,
  contentRange,
  byteLength,
} from './multipart';
export type { MultipartBody } from './multipart';
export { planResponse, fileValidators, PRECONDITION_FAILED_BODY, RANGE_NOT_SATISFIABLE_BODY } from './plan';
