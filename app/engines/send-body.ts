/**
 * Runs a body into a response (small bodies in one write, small-body.ts;
 * single spans by sendfile where possible, app/zero-copy; else body-pump.ts:
 * drain-paced, pooled buffers) and classifies how it ended. On any
 * failure the response is destroyed, so the client sees a short body and a
 * closed connection (never padding, never a response that looks complete).
 */
import type { ServerResponse } from 'node:http';
import type { BodyPiece } from '../core/types';
import type { ChunkReader } from './chunk-reader';
import { failureReason, runPump } from './body-pump';
import type { BufferPool } from './buffer-pool';
import { isSmallBody, sendSmallBody } from './small-body';
import { tryZeroCopy } from '../zero-copy';
import type { SendOutcome } from './types';

export interface SendOptions {
  /** Bodies of at most this many bytes take the lean path (small-body.ts); 0: never. Default 0. */
  readonly smallBodyBytes?: number;
  /** Where full-size chunks go back once written (the stream engine's reads take from it). */
  readonly pool?: BufferPool;
}

export async function sendBody(
  body: readonly BodyPiece[],
  reader: ChunkReader,
  fd: number,
  chunkBytes: number,
  res: ServerResponse,
  options: SendOptions = {},
): Promise<SendOutcome> {
  // Small bodies (below zero-copy's minimum anyway) in one write; then sendfile where it can; else the pump.
  if (isSmallBody(body, options.smallBodyBytes ?? 0)) return sendSmallBody(body, reader, fd, res, failureReason);
  const z = await tryZeroCopy(body, fd, res, reader, chunkBytes);
  if (z) return z;
  return runPump(body, reader, fd, chunkBytes, res, options.pool);
}
