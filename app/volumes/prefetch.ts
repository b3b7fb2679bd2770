/**
 * Reading the first chunk of a body BEFORE the status line is written, so a
 * disk that fails or hangs on the very first read still gets a clean 503 +
 * Retry-After instead of a response that dies right after its headers.
 *
 * An optional capability of an engine's OpenedFile (duck-typed, so the Engine
 * port does not change): the stream engine implements it; another engine adopts
 * it by adding `prefetch(body)` to the files it opens and serving the cached
 * chunk on the first matching read.
 */
import type { BodyPiece } from '../core/types';
import type { OpenedFile } from '../engines/types';
import type { RequestBudget } from './deadline';

export interface Prefetching {
  /** Reads (and keeps) the chunk the body's first file read will ask for. Rejects like a read would. */
  prefetch(body: readonly BodyPiece[], budget?: RequestBudget): Promise<void>;
}

export function prefetchBody(file: OpenedFile, body: readonly BodyPiece[], budget?: RequestBudget): Promise<void> {
  const p = (file as Partial<Prefetching>).prefetch;
  return typeof p === 'function' ? p.call(file, body, budget) : Promise.resolve();
}
