/**
 * The typed messages between the worker engine (main thread) and its reader
 * threads (workers/reader.ts). Errors never cross as thrown Errors: structured
 * clone drops `code`, and routes map fs errors by code, so a thread answers
 * with a ReaderFailure that the engine turns back into an Error with that code.
 */
import type { DirEntry, PathStat } from '../app/engines/types';
import type { OpenedRaw } from '../app/engines/fs-ops';

export type ReaderTask =
  | { readonly op: 'stat'; readonly path: string }
  | { readonly op: 'realpath'; readonly path: string }
  | { readonly op: 'open'; readonly path: string }
  | { readonly op: 'list'; readonly path: string }
  | { readonly op: 'close'; readonly fd: number }
  | { readonly op: 'read'; readonly fd: number; readonly position: number; readonly length: number };

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
  readonly open: OpenedRaw;
  readonly list: DirEntry[];
  readonly close: null;
  readonly read: Uint8Array;
}

export type ReaderResult<K extends ReaderTask['op']> = ReaderResults[K] | ReaderFailure;

export function isFailure(v: unknown): v is ReaderFailure {
  return typeof v === 'object' && v !== null && (v as { failed?: unknown }).failed === true;
}
