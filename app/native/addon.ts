/**
 * Typed loader for the optional rangeserve_native addon (native/src/rangeserve.cc).
 *
 * The addon is optional (see docs/addon.md): when it is disabled, was not built, or
 * fails to load, `addon` is `undefined`, `hints.active` is false and `hints.reason`
 * says why, in one line fit for startup logs and /healthz. Loading never throws.
 *
 * Every addon function is synchronous on the calling thread. `fadvise(..., 'willneed')`
 * submits I/O before it returns and can block on a slow disk, and `ioprioSet` changes
 * the priority of the calling thread only, so both belong in dedicated worker threads
 * (the module is context-aware and loads in any `worker_threads` Worker).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

/** Advice names accepted by {@link NativeAddon.fadvise}, one per POSIX_FADV_* constant. */
export type FadviseAdvice = 'normal' | 'sequential' | 'random' | 'willneed' | 'dontneed' | 'noreuse';

/** One posix_fadvise call of a {@link NativeAddon.fadviseAsync} batch; `length` 0 means "to EOF". */
export interface FadviseCall {
  readonly offset: number;
  readonly length: number;
  readonly advice: FadviseAdvice | number;
}

/** I/O scheduling classes accepted by {@link NativeAddon.ioprioSet}. */
export type IoPriorityClass = 'rt' | 'be' | 'idle' | 'none';

/** The calling thread's I/O priority as read back by {@link NativeAddon.ioprioGet}. */
export interface IoPriorityReading {
  /** 'unknown' only if a future kernel reports a class this build does not name. */
  readonly class: IoPriorityClass | 'unknown';
  /** Priority level 0 (highest) to 7; meaningful for 'rt' and 'be'. */
  readonly level: number;
  /** The raw ioprio word (class << 13 | data), for diagnostics. */
  readonly value: number;
}

/** Linux constant values exported by the addon. */
export interface NativeConstants {
  readonly POSIX_FADV_NORMAL: number;
  readonly POSIX_FADV_SEQUENTIAL: number;
  readonly POSIX_FADV_RANDOM: number;
  readonly POSIX_FADV_WILLNEED: number;
  readonly POSIX_FADV_DONTNEED: number;
  readonly POSIX_FADV_NOREUSE: number;
  readonly IOPRIO_CLASS_NONE: number;
  readonly IOPRIO_CLASS_RT: number;
  readonly IOPRIO_CLASS_BE: number;
  readonly IOPRIO_CLASS_IDLE: number;
  readonly IOPRIO_CLASS_SHIFT: number;
  readonly IOPRIO_WHO_PROCESS: number;
  readonly IOPRIO_MAX_LEVEL: number;
}

/**
 * NativeAddon is the addon's surface. System errors are `Error`s shaped like Node's fs
 * errors: `code` ('EBADF'), `errno` (negative, -9 for EBADF, as in Node/libuv) and
 * `syscall` ('posix_fadvise', 'ioprio_set', 'ioprio_get'). Argument errors are
 * TypeError/RangeError.
 */
/** What {@link NativeAddon.resolveStat} resolves with: the real path and its stat, as Node's bigint stat gives them. */
export interface ResolvedStat {
  readonly real: string;
  readonly kind: 'file' | 'directory' | 'other';
  readonly size: number;
  readonly mtimeNs: bigint;
  readonly dev: number;
  readonly ino: bigint;
  /** With a read-ahead: bytes read into the buffer, or -1 if the read failed. */
  readonly bytesRead?: number;
}

/** What {@link NativeAddon.openStat} resolves with. */
export interface OpenedStat {
  readonly fd: number;
  readonly kind: 'file' | 'directory' | 'other';
  readonly size: number;
  readonly mtimeNs: bigint;
  readonly dev: number;
  readonly ino: bigint;
}

export interface NativeAddon {
  /**
   * fadvise calls posix_fadvise(fd, offset, length, advice). `offset` and `length` are
   * integers in [0, 2^53 - 1] (passed as int64); `length` 0 means "to the end of the
   * file". `advice` is a name or a raw number; numbers are passed to the kernel
   * unchanged, so an unknown one fails with EINVAL.
   */
  fadvise(fd: number, offset: number, length: number, advice: FadviseAdvice | number): void;
  /**
   * fadviseAsync makes the same calls, one per element of `hints` in order, on libuv's
   * threadpool, so WILLNEED never blocks the event loop. Arguments are checked before
   * anything is queued (TypeError/RangeError thrown synchronously). Every call is made
   * even if one fails; the promise rejects with the first failure (code, errno,
   * syscall as for fadvise). Optional: an addon built before it existed lacks it.
   */
  fadviseAsync?(fd: number, hints: readonly FadviseCall[]): Promise<void>;
  /**
   * resolveStat runs realpath(3) on `path` and stat(2) on the result in one task on
   * libuv's threadpool (one pool hop instead of two). Rejects like fs does, with
   * `syscall` naming the step that failed ('realpath' or 'stat'). Optional: an addon
   * built before it existed lacks it.
   *
   * With `fd`, `position` and `buffer`, the same task then preads `buffer.length` bytes
   * of `fd` at `position` into `buffer` and reports `bytesRead` (-1 if that read failed,
   * which never fails the call).
   */
  resolveStat?(path: string, fd?: number, position?: number, buffer?: Buffer): Promise<ResolvedStat>;
  /**
   * openStat opens `path` with O_RDONLY | O_CLOEXEC | `flags` and fstats the descriptor,
   * in one task on libuv's threadpool. The caller owns the descriptor, whatever `kind`
   * says. Rejects like fs does (syscall 'open' or 'fstat'). Optional, like resolveStat.
   */
  openStat?(path: string, flags: number): Promise<OpenedStat>;
  /**
   * ioprioSet sets the I/O priority of the CALLING THREAD (ioprio_set with
   * IOPRIO_WHO_PROCESS, who = 0). `level` is 0..7 (default 0); 'rt' needs
   * CAP_SYS_ADMIN/CAP_SYS_NICE (EPERM otherwise); 'none' means "follow the CPU nice value".
   */
  ioprioSet(cls: IoPriorityClass | number, level?: number): void;
  /** ioprioGet reads the I/O priority of the calling thread. */
  ioprioGet(): IoPriorityReading;
  readonly constants: NativeConstants;
  /** False for the stub build (non-Linux), whose functions all throw ENOSYS. */
  readonly supported: boolean;
}

/** Whether page-cache and I/O-priority hints are available in this process, and why (not). */
export interface HintsStatus {
  readonly active: boolean;
  readonly reason: string;
}

/** The addon file's path inside the project, relative to the project root. */
export const ADDON_RELATIVE_PATH = path.join('native', 'build', 'Release', 'rangeserve_native.node');
const SKIP_REASON_RELATIVE_PATH = path.join('native', 'build', 'skip-reason.txt');

/**
 * findProjectRoot walks up from this module (dist/app/native/ when compiled,
 * app/native/ when run from source) to the directory holding native/binding.gyp.
 */
function findProjectRoot(start: string): string {
  let dir = start;
  for (let i = 0; i < 6; i += 1) {
    if (fs.existsSync(path.join(dir, 'native', 'binding.gyp'))) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  // Layout unknown: assume the compiled one (dist/app/native -> project root).
  return path.resolve(start, '..', '..', '..');
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function errorCode(err: unknown): string | undefined {
  if (typeof err === 'object' && err !== null && 'code' in err) {
    const code: unknown = (err as { code: unknown }).code;
    return typeof code === 'string' ? code : undefined;
  }
  return undefined;
}

/** oneLine keeps the first line of a message and replaces the project root by '.'. */
function oneLine(message: string, root: string): string {
  const first = message.split('\n')[0] ?? '';
  return first.split(root + path.sep).join('').split(root).join('.').trim();
}

function readSkipReason(root: string): string | undefined {
  try {
    const text = fs.readFileSync(path.join(root, SKIP_REASON_RELATIVE_PATH), 'utf8').trim();
    return text === '' ? undefined : text;
  } catch {
    return undefined;
  }
}

/** isNativeAddon checks the loaded module's shape, so a wrong file is reported, not called. */
function isNativeAddon(value: unknown): value is NativeAddon {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return (
    typeof v['fadvise'] === 'function' &&
    typeof v['ioprioSet'] === 'function' &&
    typeof v['ioprioGet'] === 'function' &&
    typeof v['constants'] === 'object' &&
    typeof v['supported'] === 'boolean'
  );
}

/** The result of {@link loadAddon}. */
export interface LoadResult {
  readonly addon: NativeAddon | undefined;
  readonly hints: HintsStatus;
}

/**
 * loadAddon decides whether hints are available, in this order: `RANGESERVE_ADDON=off`
 * disables them; otherwise the addon is required from `RANGESERVE_ADDON_PATH` (a path
 * to a .node file, for tests) or native/build/Release/rangeserve_native.node under the
 * project root. A missing file is reported as "not built" with the reason
 * native/build.js recorded; any other load failure with its first line, project root
 * stripped. It never throws. The module-level `addon`/`hints` exports are its result
 * for `process.env` at first import.
 */
export function loadAddon(env: NodeJS.ProcessEnv = process.env, moduleDir: string = __dirname): LoadResult {
  const inactive = (reason: string): LoadResult => ({ addon: undefined, hints: { active: false, reason } });
  try {
    const setting = (env['RANGESERVE_ADDON'] ?? '').trim().toLowerCase();
    if (setting === 'off' || setting === '0' || setting === 'false') {
      return inactive('disabled by RANGESERVE_ADDON=off');
    }
    const root = findProjectRoot(moduleDir);
    const override = env['RANGESERVE_ADDON_PATH'];
    const file = override ? path.resolve(override) : path.join(root, ADDON_RELATIVE_PATH);
    const shown = override ? override : ADDON_RELATIVE_PATH;
    if (!fs.existsSync(file)) {
      const skipReason = override ? undefined : readSkipReason(root);
      return inactive(
        skipReason
          ? `native addon not built: ${skipReason}`
          : `native addon not built: ${shown} does not exist (run \`node native/build.js\`)`,
      );
    }
    let loaded: unknown;
    try {
      loaded = require(file) as unknown;
    } catch (err) {
      const code = errorCode(err);
      return inactive(`native addon failed to load${code ? ` (${code})` : ''}: ${oneLine(errorMessage(err), root)}`);
    }
    if (!isNativeAddon(loaded)) {
      return inactive(`native addon at ${shown} does not export fadvise/ioprioSet/ioprioGet/constants/supported`);
    }
    if (!loaded.supported) {
      return inactive(`native addon is a stub on ${process.platform}: hints need Linux`);
    }
    return { addon: loaded, hints: { active: true, reason: `loaded ${shown}` } };
  } catch (err) {
    return inactive(`native addon not loaded: ${errorMessage(err).split('\n')[0] ?? ''}`);
  }
}

const loadedAtImport = loadAddon();

/** The addon, or undefined when hints are inactive (see {@link hints}). */
export const addon: NativeAddon | undefined = loadedAtImport.addon;

/** Whether hints are active in this process, and the one-line reason. */
export const hints: HintsStatus = loadedAtImport.hints;

/** A parsed `IO_PRIORITY` setting. */
export interface IoPriority {
  readonly cls: IoPriorityClass;
  /** 0..7 for 'rt' and 'be'; always 0 for 'idle' and 'none'. */
  readonly level: number;
}

/** The result of {@link parseIoPriority}: a value, or an error message naming the problem. */
export type ParseResult<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: string };

/** Default level when `IO_PRIORITY=be` or `rt` has no `:level` (the kernel's own default for BE). */
export const DEFAULT_IO_PRIORITY_LEVEL = 4;

/**
 * parseIoPriority parses the `IO_PRIORITY` setting: `none`, `idle`, `be`, `be:N` or
 * `rt:N` (also `rt`), N an integer 0 (highest) to 7 (default 4). Case and surrounding
 * spaces are ignored. `idle` and `none` take no level. Returns an error message naming
 * the problem instead of throwing.
 */
export function parseIoPriority(s: string): ParseResult<IoPriority> {
  const text = s.trim().toLowerCase();
  const fail = (error: string): ParseResult<IoPriority> => ({ ok: false, error });
  if (text === '') return fail('IO_PRIORITY is empty; expected none, idle, be[:0-7] or rt[:0-7]');
  const [clsText = '', levelText, ...extra] = text.split(':');
  if (extra.length > 0) return fail(`IO_PRIORITY "${s}" has more than one ':'; expected e.g. be:4`);
  if (clsText !== 'none' && clsText !== 'idle' && clsText !== 'be' && clsText !== 'rt') {
    return fail(`IO_PRIORITY class "${clsText}" is unknown; expected none, idle, be or rt`);
  }
  if (clsText === 'none' || clsText === 'idle') {
    if (levelText !== undefined) return fail(`IO_PRIORITY class "${clsText}" takes no level (got "${s}")`);
    return { ok: true, value: { cls: clsText, level: 0 } };
  }
  if (levelText === undefined) return { ok: true, value: { cls: clsText, level: DEFAULT_IO_PRIORITY_LEVEL } };
  if (!/^[0-7]$/.test(levelText)) {
    return fail(`IO_PRIORITY level "${levelText}" is invalid; expected an integer 0 (highest) to 7 (lowest)`);
  }
  return { ok: true, value: { cls: clsText, level: Number(levelText) } };
}
