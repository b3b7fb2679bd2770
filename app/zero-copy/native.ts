/**
 * The zero-copy half of the native addon (native/src/zero-copy.cc), typed and
 * shape-checked. Loaded through app/native/addon.ts, so RANGESERVE_ADDON=off,
 * a missing build or a load failure all make zero-copy inactive with the same
 * one-line reason hints give.
 */
import { addon, hints } from '../native/addon';

/** One sender thread: the volume it serves (several threads may share a key), its live jobs, how long it has been inside one sendfile call. */
export interface SenderStats {
  readonly key: string;
  readonly jobs: number;
  readonly busyMs: number;
}

/** Progress (done = false, errno 0) or the end of a job (done = true; errno 0 = every byte sent). */
export type ZeroCopyEvent = (id: number, bytes: number, errno: number, done: boolean) => void;

export interface ZeroCopyNative {
  /**
   * Once per process; a volume gets up to `threadsPerKey` sender threads (VOLUME_MAX_INFLIGHT).
   * A job whose socket takes nothing for `parkMs` (0: never) ends with EAGAIN, its dups closed.
   */
  zeroCopyStart(onEvent: ZeroCopyEvent, threadsPerKey: number, parkMs?: number): void;
  /**
   * dup()s both fds and queues the job on the sender of `key`; returns the job id. Throws if a
   * dup fails. `callBytes` caps one sendfile call (READ_CHUNK_BYTES: as much as one JS-path read).
   */
  zeroCopySend(key: string, sockFd: number, fileFd: number, offset: number, length: number, callBytes: number): number;
  /** Shuts the socket down at once and drops the job (its done event then carries ECANCELED). */
  zeroCopyCancel(id: number): void;
  /** Forgets a job that has reported done. */
  zeroCopyForget(id: number): void;
  zeroCopyStats(): SenderStats[];
  readonly zeroCopySupported: boolean;
}

export type NativeLoad =
  | { readonly native: ZeroCopyNative; readonly reason: string }
  | { readonly native: undefined; readonly reason: string };

function isZeroCopyNative(v: unknown): v is ZeroCopyNative {
  if (typeof v !== 'object' || v === null) return false;
  const o = v as Record<string, unknown>;
  return (
    typeof o['zeroCopyStart'] === 'function' &&
    typeof o['zeroCopySend'] === 'function' &&
    typeof o['zeroCopyCancel'] === 'function' &&
    typeof o['zeroCopyForget'] === 'function' &&
    typeof o['zeroCopyStats'] === 'function' &&
    typeof o['zeroCopySupported'] === 'boolean'
  );
}

export function loadZeroCopyNative(): NativeLoad {
  if (!addon) return { native: undefined, reason: hints.reason };
  const loaded: unknown = addon;
  if (!isZeroCopyNative(loaded)) return { native: undefined, reason: 'native addon predates zero-copy (run `node native/build.js`)' };
  if (!loaded.zeroCopySupported) return { native: undefined, reason: `zero-copy needs Linux (platform is ${process.platform})` };
  return { native: loaded, reason: 'sendfile from sender threads per volume' };
}
