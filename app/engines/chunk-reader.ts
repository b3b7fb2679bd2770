/**
 * How the send path (body-pump.ts, small-body.ts) reads file bytes: engines
 * differ only in the ChunkReader they hand it, so back-pressure, short-read
 * detection and abort handling are written once for every mode.
 */

import type { RequestBudget } from '../volumes/deadline';

/** Reads file bytes for the send path. */
export interface ChunkReader {
  /**
   * Reads up to `length` bytes of `fd` at `position`. Resolves with exactly the
   * bytes read (an empty buffer at end of file). `signal` aborts when the client
   * has gone: a read still waiting for a thread may then be dropped. `budget`: the
   * request's time before its headers (a read made before them, the prefetch).
   * `later`: the body's next chunk for a client that has bytes already; it may
   * wait behind new requests' operations on the same volume (RunOptions.later).
   */
  read(fd: number, position: number, length: number, signal?: AbortSignal, budget?: RequestBudget, later?: boolean): Promise<Buffer>;
}

/** The file ended before the planned span did: it was truncated while we served it. */
export class ShortReadError extends Error {
  readonly code = 'RS_ERR_SHORT_READ';
  constructor() {
    super('file shrank while it was being sent');
    this.name = 'ShortReadError';
  }
}
