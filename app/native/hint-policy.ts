/**
 * The page-cache hint policy (issue 5, part 3), as pure functions: no I/O, no clock,
 * no addon. Callers turn the returned {@link Hint}s into `addon.fadvise(fd, ...)` calls
 * on a worker thread (POSIX_FADV_WILLNEED submits I/O synchronously).
 *
 * What the kernel does with each hint (measured, see docs/hints.md):
 * - SEQUENTIAL and RANDOM act on the open file (the fd), whatever offset/length is given.
 *   SEQUENTIAL doubles the readahead window; RANDOM switches readahead off, so every
 *   read(2) fetches exactly the pages it asks for.
 * - WILLNEED starts reading the given range now, but at most one readahead window
 *   (max of read_ahead_kb and max_sectors_kb) per call, so it is issued in chunks.
 * - DONTNEED drops the range's clean pages from the page cache for every reader of the
 *   file, not just this fd. Only whole pages are dropped; length 0 means "to EOF".
 *
 * The policy, per response body range [start, end] of a file of `size` bytes:
 * - whole file or open-ended range (`bytes=N-`, the resume case): SEQUENTIAL at open.
 * - small range (length <= smallRangeBytes): RANDOM at open (no readahead beyond the
 *   range), plus one WILLNEED for exactly the range, so its pages are requested
 *   together rather than one read at a time.
 * - any other bounded range: no fd-wide hint (NORMAL; SEQUENTIAL's doubled window
 *   would read past the range end).
 * - all but small ranges: WILLNEED for the first prefetchBytes at open, then kept up to
 *   prefetchBytes ahead of the reader, topped up in chunks once less than half of it is
 *   left, never past the range.
 * - all but small ranges of files larger than dontneedThreshold: DONTNEED for the
 *   region already read, in batches of at least dontneedBatchBytes, and the rest when
 *   the reader reaches the end. Nothing ahead of the reader is dropped, even if the
 *   client goes away: a paused download usually comes back for exactly those bytes.
 */

/** A posix_fadvise advice name, as accepted by the native addon. */
export type HintAdvice = 'normal' | 'sequential' | 'random' | 'willneed' | 'dontneed';

/** One posix_fadvise call to make. `length` 0 means "to the end of the file". */
export interface Hint {
  readonly advice: HintAdvice;
  readonly offset: number;
  readonly length: number;
}

/** Tunables of the policy; every field has a default (see {@link DEFAULT_HINT_OPTIONS}). */
export interface HintOptions {
  /** How far ahead of the reader to keep prefetched (WILLNEED). 0 disables prefetch. */
  readonly prefetchBytes: number;
  /** Files larger than this get DONTNEED behind the reader. */
  readonly dontneedThreshold: number;
  /** Ranges of at most this many bytes are "small random ranges". */
  readonly smallRangeBytes: number;
  /** Size of one WILLNEED call; the kernel honours at most one readahead window per call. */
  readonly prefetchChunkBytes: number;
  /** DONTNEED is issued once at least this much has been read past the last drop. */
  readonly dontneedBatchBytes: number;
}

const MiB = 1024 * 1024;

/**
 * DEFAULT_HINT_OPTIONS. prefetchChunkBytes is 1 MiB because WILLNEED is capped per call
 * at max(read_ahead_kb, max_sectors_kb): 128 KiB/1280 KiB on a default block device, so
 * larger chunks would leave holes there.
 */
export const DEFAULT_HINT_OPTIONS: HintOptions = Object.freeze({
  prefetchBytes: 8 * MiB,
  dontneedThreshold: 64 * MiB,
  smallRangeBytes: 256 * 1024,
  prefetchChunkBytes: 1 * MiB,
  dontneedBatchBytes: 8 * MiB,
});

/** Page size used to align DONTNEED so consecutive batches leave no partial page behind. */
export const PAGE_BYTES = 4096;

/** What is being served: a byte range of a file. */
export interface HintRequest {
  /** File size in bytes. */
  readonly size: number;
  /** First byte served (inclusive). */
  readonly start: number;
  /** Last byte served (inclusive). */
  readonly end: number;
  /** True for a 200 with the whole file or an open-ended range (`bytes=N-`). */
  readonly wholeOrOpenEnded: boolean;
}

/** How the file is read, as decided at open. */
export type ReadPattern = 'sequential' | 'random' | 'normal' | 'none';

/** A hint plan for one response body. */
export interface HintPlan {
  readonly pattern: ReadPattern;
  /**
   * Hints to issue right after open, before the first read: the fd-wide hint, then
   * WILLNEED for the first window (the whole range when it is small).
   */
  readonly atOpen: readonly Hint[];
  /** atOpen prefetches [start, prefetchedAtOpen). */
  readonly prefetchedAtOpen: number;
  /** First byte and one past the last byte of the body range. */
  readonly start: number;
  readonly endExclusive: number;
  readonly size: number;
  /** Whether afterRead prefetches ahead / drops behind. */
  readonly prefetch: boolean;
  readonly dropBehind: boolean;
  readonly options: HintOptions;
}

/** Progress of a plan: how far hints have been issued. Immutable; see {@link afterRead}. */
export interface HintCursor {
  /** WILLNEED has been issued for [start, prefetchedUpTo). */
  readonly prefetchedUpTo: number;
  /** DONTNEED has been issued for [alignDown(start), droppedUpTo). */
  readonly droppedUpTo: number;
  /** True once the final DONTNEED (if any) was returned; later calls return nothing. */
  readonly done: boolean;
}

function assertSafeNonNegativeInteger(name: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(`${name} must be a non-negative safe integer, got ${value}`);
  }
}

/** resolveHintOptions fills defaults and validates; it throws RangeError on a bad value. */
export function resolveHintOptions(options: Partial<HintOptions> = {}): HintOptions {
  const resolved: HintOptions = { ...DEFAULT_HINT_OPTIONS, ...stripUndefined(options) };
  for (const [name, value] of Object.entries(resolved) as [string, number][]) {
    assertSafeNonNegativeInteger(name, value);
  }
  if (resolved.prefetchChunkBytes === 0) throw new RangeError('prefetchChunkBytes must be positive');
  return resolved;
}

function stripUndefined(options: Partial<HintOptions>): Partial<HintOptions> {
  return Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) as Partial<HintOptions>;
}

/** willneedChunks splits [from, to) into WILLNEED hints of at most `chunk` bytes. */
function willneedChunks(from: number, to: number, chunk: number): Hint[] {
  const hints: Hint[] = [];
  for (let offset = from; offset < to; offset += chunk) {
    hints.push({ advice: 'willneed', offset, length: Math.min(chunk, to - offset) });
  }
  return hints;
}

function alignDown(n: number): number {
  return n - (n % PAGE_BYTES);
}

/**
 * planHints decides the hints for serving bytes [start, end] of a file of `size`
 * bytes. An empty file yields pattern 'none' and no hints. It throws RangeError when
 * the range is not inside the file (a caller bug: ranges are resolved before I/O).
 */
export function planHints(request: HintRequest, options: Partial<HintOptions> = {}): HintPlan {
  const opts = resolveHintOptions(options);
  const { size, start, end, wholeOrOpenEnded } = request;
  assertSafeNonNegativeInteger('size', size);
  if (size === 0) {
    return {
      pattern: 'none',
      atOpen: [],
      prefetchedAtOpen: 0,
      start: 0,
      endExclusive: 0,
      size,
      prefetch: false,
      dropBehind: false,
      options: opts,
    };
  }
  assertSafeNonNegativeInteger('start', start);
  assertSafeNonNegativeInteger('end', end);
  if (start > end || end >= size) {
    throw new RangeError(`range ${start}-${end} is not inside a file of ${size} bytes`);
  }
  const length = end - start + 1;
  const endExclusive = end + 1;
  const small = !wholeOrOpenEnded && length <= opts.smallRangeBytes;

  if (small) {
    return {
      pattern: 'random',
      atOpen: [
        { advice: 'random', offset: 0, length: 0 },
        { advice: 'willneed', offset: start, length },
      ],
      prefetchedAtOpen: endExclusive,
      start,
      endExclusive,
      size,
      prefetch: false,
      dropBehind: false,
      options: opts,
    };
  }
  const prefetch = opts.prefetchBytes > 0;
  const prefetchedAtOpen = prefetch ? Math.min(start + opts.prefetchBytes, endExclusive) : start;
  const atOpen: Hint[] = wholeOrOpenEnded ? [{ advice: 'sequential', offset: 0, length: 0 }] : [];
  atOpen.push(...willneedChunks(start, prefetchedAtOpen, opts.prefetchChunkBytes));
  return {
    pattern: wholeOrOpenEnded ? 'sequential' : 'normal',
    atOpen,
    prefetchedAtOpen,
    start,
    endExclusive,
    size,
    prefetch,
    dropBehind: size > opts.dontneedThreshold,
    options: opts,
  };
}

/** initialCursor is the cursor after the atOpen hints: first window prefetched, nothing dropped. */
export function initialCursor(plan: HintPlan): HintCursor {
  return { prefetchedUpTo: plan.prefetchedAtOpen, droppedUpTo: alignDown(plan.start), done: plan.endExclusive === plan.start };
}

/** The result of one {@link afterRead} step. */
export interface HintStep {
  readonly hints: readonly Hint[];
  readonly cursor: HintCursor;
}

/**
 * afterRead returns the hints to issue once the reader has consumed the file up to
 * `readUpTo` (an absolute file offset, exclusive, clamped to the range), and the
 * next cursor. Call it after each read (or after every few); it is cheap when there
 * is nothing to do. WILLNEED hints come before DONTNEED hints. When `readUpTo`
 * reaches the end of the range the remaining region behind the reader is dropped
 * (to EOF, length 0, when the range ends at the end of the file, so the last partial
 * page goes too).
 */
export function afterRead(plan: HintPlan, cursor: HintCursor, readUpTo: number): HintStep {
  if (cursor.done) return { hints: [], cursor };
  const opts = plan.options;
  const pos = Math.min(Math.max(readUpTo, plan.start), plan.endExclusive);
  const hints: Hint[] = [];
  let { prefetchedUpTo, droppedUpTo } = cursor;

  if (plan.prefetch && pos < plan.endExclusive) {
    const target = Math.min(pos + opts.prefetchBytes, plan.endExclusive);
    const from = Math.max(prefetchedUpTo, pos);
    // Top up only when less than half the window is left, so the calls come in
    // batches of >= prefetchBytes/2 (or whatever remains of the range).
    if (from < target && from - pos < opts.prefetchBytes / 2) {
      hints.push(...willneedChunks(from, target, opts.prefetchChunkBytes));
      prefetchedUpTo = target;
    }
  }

  const finished = pos >= plan.endExclusive;
  if (plan.dropBehind) {
    if (finished) {
      const toEof = plan.endExclusive === plan.size;
      if (toEof || plan.endExclusive > droppedUpTo) {
        hints.push({ advice: 'dontneed', offset: droppedUpTo, length: toEof ? 0 : plan.endExclusive - droppedUpTo });
        droppedUpTo = plan.endExclusive;
      }
    } else {
      const upTo = alignDown(pos);
      if (upTo - droppedUpTo >= Math.max(opts.dontneedBatchBytes, PAGE_BYTES)) {
        hints.push({ advice: 'dontneed', offset: droppedUpTo, length: upTo - droppedUpTo });
        droppedUpTo = upTo;
      }
    }
  }
  return { hints, cursor: { prefetchedUpTo, droppedUpTo, done: finished } };
}

/**
 * HintTracker wraps a plan and its cursor for callers that prefer a stateful object
 * (one per response body). It does no I/O either.
 */
export class HintTracker {
  readonly plan: HintPlan;
  #cursor: HintCursor;

  constructor(request: HintRequest, options: Partial<HintOptions> = {}) {
    this.plan = planHints(request, options);
    this.#cursor = initialCursor(this.plan);
  }

  /** atOpen returns the plan's open-time hints. */
  atOpen(): readonly Hint[] {
    return this.plan.atOpen;
  }

  /** afterRead advances the cursor; see the free function {@link afterRead}. */
  afterRead(readUpTo: number): readonly Hint[] {
    const step = afterRead(this.plan, this.#cursor, readUpTo);
    this.#cursor = step.cursor;
    return step.hints;
  }

  get cursor(): HintCursor {
    return this.#cursor;
  }
}

/** Settings read from the environment by {@link parseHintEnv}. */
export interface HintSettings {
  /** `HINTS=off` turns the policy off even when the addon is loaded. */
  readonly enabled: boolean;
  readonly options: HintOptions;
}

const ENV_OPTION_NAMES: ReadonlyArray<readonly [string, keyof HintOptions]> = [
  ['HINT_PREFETCH_BYTES', 'prefetchBytes'],
  ['HINT_DONTNEED_THRESHOLD', 'dontneedThreshold'],
  ['HINT_SMALL_RANGE_BYTES', 'smallRangeBytes'],
  ['HINT_PREFETCH_CHUNK_BYTES', 'prefetchChunkBytes'],
  ['HINT_DONTNEED_BATCH_BYTES', 'dontneedBatchBytes'],
];

const SIZE_UNITS: Readonly<Record<string, number>> = { '': 1, k: 1024, kib: 1024, m: MiB, mib: MiB, g: 1024 * MiB, gib: 1024 * MiB };

/**
 * parseByteSize parses a byte count: a non-negative integer with an optional binary
 * unit (`k`/`KiB`, `m`/`MiB`, `g`/`GiB`), e.g. `8MiB`, `262144`. Returns undefined
 * when the text is not one.
 */
export function parseByteSize(text: string): number | undefined {
  const match = /^\s*(\d+)\s*([a-z]*)\s*$/i.exec(text);
  if (!match) return undefined;
  const unit = SIZE_UNITS[(match[2] ?? '').toLowerCase()];
  if (unit === undefined) return undefined;
  const value = Number(match[1]) * unit;
  return Number.isSafeInteger(value) ? value : undefined;
}

/**
 * parseHintEnv reads `HINTS` (`on` default, `off`) and the HINT_* byte sizes from
 * `env` (pure: pass `process.env`). It returns an error message naming the first bad
 * variable instead of throwing.
 */
export function parseHintEnv(
  env: Readonly<Record<string, string | undefined>>,
): { readonly ok: true; readonly value: HintSettings } | { readonly ok: false; readonly error: string } {
  const hintsText = (env['HINTS'] ?? 'on').trim().toLowerCase();
  let enabled: boolean;
  if (hintsText === 'on' || hintsText === '1' || hintsText === 'true' || hintsText === '') enabled = true;
  else if (hintsText === 'off' || hintsText === '0' || hintsText === 'false') enabled = false;
  else return { ok: false, error: `HINTS "${env['HINTS'] ?? ''}" is invalid; expected on or off` };

  const partial: { -readonly [K in keyof HintOptions]?: number } = {};
  for (const [variable, key] of ENV_OPTION_NAMES) {
    const raw = env[variable];
    if (raw === undefined || raw.trim() === '') continue;
    const value = parseByteSize(raw);
    if (value === undefined) {
      return { ok: false, error: `${variable} "${raw}" is not a byte size (e.g. 8388608 or 8MiB)` };
    }
    if (key === 'prefetchChunkBytes' && value === 0) {
      return { ok: false, error: `${variable} must be positive` };
    }
    partial[key] = value;
  }
  return { ok: true, value: { enabled, options: resolveHintOptions(partial) } };
}
