/**
 * The typed messages between the worker engine (main thread) and its reader
 * threads (workers/reader.ts). Errors never cross as thrown Errors: structured
 * clone drops `code`, and routes map fs errors by code, so a thread answers
 * with a ReaderFailure that the engine turns back into an Error with that code.
 */
import type { DirEntry, PathStat, Resolved } from '../app/engines/types';
import type { OpenedRaw } from '../app/engines/fs-ops';
import type { IoPriority, IoPriorityReading } from '../app/native/addon';
import type { Hint } from '../app/native/hint-policy';

/** What every reader thread is started with (piscina workerData). */
export interface ReaderThreadData {
  /** IO_PRIORITY: set once, in each reader thread, when it starts; undefined leaves the thread alone. */
  readonly ioPriority: IoPriority | undefined;
}

/** A reader thread's own I/O priority, read back in that thread, and why setting it failed (if it did). */
export interface ReaderIoPriority {
  readonly reading: IoPriorityReading | undefined;
  readonly error: string | undefined;
}

export type ReaderTask =
  | { readonly op: 'stat'; readonly path: string }
  | { readonly op: 'realpath'; readonly path: string }
  /** realpath, then stat of the result: one task instead of two. */
  | { readonly op: 'resolve'; readonly path: string; readonly readAhead?: { readonly fd: number; readonly position: number; readonly length: number } }
  | { readonly op: 'open'; readonly path: string }
  | { readonly op: 'list'; readonly path: string }
  | { readonly op: 'close'; readonly fd: number }
  /** `hints`: the file's open-time hints, run just before the read (one task instead of two; their errors are ignored). */
  | { readonly op: 'read'; readonly fd: number; readonly position: number; readonly length: number; readonly hints?: readonly Hint[] }
  /** posix_fadvise for each hint in order, in the thread (WILLNEED blocks while it submits I/O). */
  | { readonly op: 'advise'; readonly fd: number; readonly hints: readonly Hint[] }
  /** The thread's I/O priority, read back in the thread. */
  | { readonly op: 'ioprio' };

export interface ReaderFailure {
  readonly failed: true;
  readonly code: string | undefined;
  readonly message: string;
  readonly syscall: string | undefined;
}

/** What each op resolves with on success. `read` answers a view of a transferred ArrayBuffer. */
export interface ReaderResults {
  readonly stat: PathStat;
  readonly realpath: string;
  readonly resolve: Resolved;
  readonly open: OpenedRaw;
  readonly list: DirEntry[];
  readonly close: null;
  readonly read: Uint8Array;
  readonly advise: null;
  readonly ioprio: ReaderIoPriority;
}

export type ReaderResult<K extends ReaderTask['op']> = ReaderResults[K] | ReaderFailure;

export function isFailure(v: unknown): v is ReaderFailure {
  return typeof v === 'object' && v !== null && (v as { failed?: unknown }).failed === true;
}
