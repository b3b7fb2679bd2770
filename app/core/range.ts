/**
 * The Range header (RFC 9110 §14.1-§14.2), parsed and resolved against a file size.
 *
 *   ranges-specifier = range-unit "=" range-set
 *   range-set        = 1#range-spec
 *   range-spec       = int-range / suffix-range / other-range
 *   int-range        = first-pos "-" [ last-pos ]
 *   suffix-range     = "-" suffix-length
 *
 * Policies pinned here (see also docs/decisions.md, decisions 4, 5 and 11):
 *
 * - Anything that is not a valid ranges-specifier for the `bytes` unit makes
 *   the whole header ignored (the response is the full 200); §14.2 lets a
 *   server "ignore or reject" an invalid one, and ignoring never breaks a
 *   client. That includes one bad spec among good ones, `last-pos < first-pos`
 *   (§14.1.1: "invalid if the last-pos value is present and less than the
 *   first-pos"), and whitespace inside a spec (`0 - 4`, a tab): the grammar
 *   has none there, only OWS around the commas of the list and after `=`.
 * - The unit is compared case-insensitively (§14.1: range units are
 *   case-insensitive); an unknown unit MUST be ignored (§14.2).
 * - Numbers are DIGIT strings compared exactly, however long ("recipients MUST
 *   anticipate potentially large decimal numerals", §14.1.2); nothing is
 *   converted to a float until it is known to be at most the file size.
 * - Coalescing: overlapping and adjacent spans are merged (§15.3.7.2 allows
 *   it). A merged span takes the request position of its earliest-requested
 *   member, and the merged spans keep request order by that position. So
 *   `bytes=500-599,0-9,10-19` yields `500-599, 0-19`; `bytes=100-149,0-49`
 *   stays in that order (row 29).
 * - Abuse limits (§17.15, CVE-2011-3192): more than MAX_RANGE_SPECS non-empty
 *   specs are not even parsed to the end; the satisfiable spans, as requested
 *   and before coalescing, may not add up to more than the file size; and
 *   more than `maxRanges` spans after coalescing is refused. Each of these
 *   ignores the header. Work is linear in the header length and memory is
 *   bounded by MAX_RANGE_SPECS.
 */
import type { ByteSpan } from './types';

/** Why a Range header was ignored (for logs and tests; every reason means a full 200). */
export type RangeIgnoreReason =
  | 'absent'
  | 'syntax'
  | 'unit'
  | 'empty-file'
  | 'too-many-specs'
  | 'too-many-ranges'
  | 'sum-exceeds-size';

export type RangeResult =
  | { readonly kind: 'ignore'; readonly reason: RangeIgnoreReason }
  | { readonly kind: 'unsatisfiable' }
  | { readonly kind: 'ranges'; readonly ranges: readonly ByteSpan[] };

/** Non-empty range-specs read before the header is ignored outright; generous for any real client. */
export const MAX_RANGE_SPECS = 1000;

/**
 * A syntactically valid byte-range-spec. Digit strings have their leading
 * zeros removed (`0000` becomes `0`), so longer means larger.
 */
type RangeSpec =
  | { readonly kind: 'int'; readonly first: string; readonly last: string | undefined }
  | { readonly kind: 'suffix'; readonly length: string };

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const INT_RANGE = /^([0-9]+)-([0-9]*)$/;
const SUFFIX_RANGE = /^-([0-9]+)$/;

function isOws(code: number): boolean {
  return code === 0x20 || code === 0x09;
}

function stripLeadingZeros(digits: string): string {
  let i = 0;
  while (i < digits.length - 1 && digits.charCodeAt(i) === 0x30) i += 1;
  return digits.slice(i);
}

/** Compares two digit strings without leading zeros, exactly, at any length. */
function compareDigits(a: string, b: string): number {
  if (a.length !== b.length) return a.length < b.length ? -1 : 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Returns the value of a digit string, or `cap` when the value is larger than
 * `cap`. Up to 15 digits a double is exact; longer strings are compared as
 * BigInt first, so 9007199254740993 can never round down into the file.
 */
function clampDigits(digits: string, cap: number): number {
  if (digits.length <= 15) return Math.min(Number(digits), cap);
  return BigInt(digits) > BigInt(cap) ? cap : Number(digits);
}

/** Parses one non-empty list element; undefined when it is not a byte-range-spec. */
function parseRangeSpec(element: string): RangeSpec | undefined {
  const int = INT_RANGE.exec(element);
  if (int !== null) {
    const first = stripLeadingZeros(int[1]!);
    const last = int[2] === '' ? undefined : stripLeadingZeros(int[2]!);
    if (last !== undefined && compareDigits(last, first) < 0) return undefined;
    return { kind: 'int', first, last };
  }
  const suffix = SUFFIX_RANGE.exec(element);
  if (suffix !== null) return { kind: 'suffix', length: stripLeadingZeros(suffix[1]!) };
  return undefined;
}

/**
 * Splits the range-set on commas in one pass (§5.6.1.2: OWS around commas,
 * empty elements skipped) and parses each element. Stops as soon as the spec
 * count passes MAX_RANGE_SPECS, so a 10 000-spec header costs one bounded scan.
 */
function parseRangeSet(set: string): RangeSpec[] | 'syntax' | 'too-many-specs' {
  const specs: RangeSpec[] = [];
  let pos = 0;
  while (pos <= set.length) {
    let comma = set.indexOf(',', pos);
    if (comma === -1) comma = set.length;
    let start = pos;
    let end = comma;
    while (start < end && isOws(set.charCodeAt(start))) start += 1;
    while (end > start && isOws(set.charCodeAt(end - 1))) end -= 1;
    if (end > start) {
      if (specs.length === MAX_RANGE_SPECS) return 'too-many-specs';
      const spec = parseRangeSpec(set.slice(start, end));
      if (spec === undefined) return 'syntax';
      specs.push(spec);
    }
    pos = comma + 1;
  }
  return specs.length === 0 ? 'syntax' : specs;
}

/**
 * Resolves one spec against a non-empty file (§14.1.2): last-pos is clipped to
 * size - 1, a suffix longer than the file selects all of it, and a first-pos at
 * or past the end, or a zero suffix-length, is unsatisfiable (undefined).
 */
function resolveSpec(spec: RangeSpec, size: number): ByteSpan | undefined {
  if (spec.kind === 'suffix') {
    const length = clampDigits(spec.length, size);
    return length === 0 ? undefined : { start: size - length, end: size - 1 };
  }
  const first = clampDigits(spec.first, size);
  if (first >= size) return undefined;
  const last = spec.last === undefined ? size - 1 : clampDigits(spec.last, size - 1);
  return { start: first, end: last };
}

/**
 * Merges overlapping and adjacent spans in O(n log n). Each merged span is
 * placed where its earliest-requested member was (see the module comment).
 */
export function coalesceSpans(spans: readonly ByteSpan[]): ByteSpan[] {
  const byStart = spans
    .map((span, order) => ({ start: span.start, end: span.end, order }))
    .sort((a, b) => a.start - b.start || a.order - b.order);
  const merged: { start: number; end: number; order: number }[] = [];
  for (const span of byStart) {
    const last = merged[merged.length - 1];
    if (last !== undefined && span.start <= last.end + 1) {
      last.end = Math.max(last.end, span.end);
      last.order = Math.min(last.order, span.order);
    } else {
      merged.push({ ...span });
    }
  }
  return merged.sort((a, b) => a.order - b.order).map(({ start, end }) => ({ start, end }));
}

/**
 * parseRange reads a Range header value for a file of `size` bytes and says
 * whether to ignore it (full 200), answer 416, or send the listed spans (206).
 * `maxRanges` is the number of spans allowed after coalescing (decision 5).
 * The spans are inclusive, clipped to the file, coalesced and in request order.
 */
export function parseRange(header: string | undefined, size: number, maxRanges: number): RangeResult {
  if (header === undefined) return { kind: 'ignore', reason: 'absent' };
  const equals = header.indexOf('=');
  if (equals === -1) return { kind: 'ignore', reason: 'syntax' };
  let unitStart = 0;
  while (unitStart < equals && isOws(header.charCodeAt(unitStart))) unitStart += 1;
  const unit = header.slice(unitStart, equals);
  if (!TOKEN.test(unit)) return { kind: 'ignore', reason: 'syntax' };
  if (unit.toLowerCase() !== 'bytes') return { kind: 'ignore', reason: 'unit' };

  const specs = parseRangeSet(header.slice(equals + 1));
  if (typeof specs === 'string') return { kind: 'ignore', reason: specs };

  // §14.2 lets a server ignore Range when the representation has no content;
  // every range of an empty file would otherwise be a pointless 416 (row 15).
  if (size === 0) return { kind: 'ignore', reason: 'empty-file' };

  const spans: ByteSpan[] = [];
  let total = 0;
  for (const spec of specs) {
    const span = resolveSpec(spec, size);
    if (span === undefined) continue;
    total += span.end - span.start + 1;
    if (total > size) return { kind: 'ignore', reason: 'sum-exceeds-size' };
    spans.push(span);
  }
  // §14.1.1: the set is satisfiable if any one spec is; otherwise 416.
  if (spans.length === 0) return { kind: 'unsatisfiable' };

  const ranges = coalesceSpans(spans);
  if (ranges.length > maxRanges) return { kind: 'ignore', reason: 'too-many-ranges' };
  return { kind: 'ranges', ranges };
}
