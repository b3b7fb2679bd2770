/**
 * Runs a body into a response (small bodies in one write, small-body.ts;
 * single spans by sendfile where possible, app/zero-copy; else body-pump.ts:
 * drain-paced, pooled buffers) and classifies how it ended. On any
 * failure the response is destroyed, so the client sees a short body and a
 * closed connection (never padding, never a response that looks complete).
 */
import type { ServerResponse } from 'node:http';
import type { BodyPiece } from '../core/types';
import type { ChunkReader } from './body-stream';
import { pumpBody, type PumpProgress } from './body-pump';
import type { BufferPool } from './buffer-pool';
import { isSmallBody, sendSmallBody } from './small-body';
import { tryZeroCopy } from '../zero-copy';
import type { SendOutcome } from './types';

function reasonOf(err: unknown, res: ServerResponse): 'aborted' | 'short-read' | 'io-error' | 'timeout' {
  const code = (err as { code?: unknown } | null)?.code;
  if (code === 'RS_ERR_SHORT_READ') return 'short-read';
  if (code === 'RS_ERR_READ_TIMEOUT') return 'timeout';
  if (code === 'ERR_STREAM_PREMATURE_CLOSE' || res.socket === null || res.socket.destroyed) return 'aborted';
  return 'io-error';
}

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
  if (isSmallBody(body, options.smallBodyBytes ?? 0)) return sendSmallBody(body, reader, fd, res, reasonOf);
  const z = await tryZeroCopy(body, fd, res, reader, chunkBytes);
  if (z) return z;
  // The client going away cancels a read still waiting for its volume's gate.
  const gone = new AbortController();
  const onClose = (): void => gone.abort();
  res.once('close', onClose);
  const progress: PumpProgress = { bytes: 0 };
  try {
    await pumpBody(body, reader, fd, chunkBytes, res, progress, gone.signal, options.pool);
    return { ok: true, bytes: progress.bytes };
  } catch (err) {
    const reason = reasonOf(err, res);
    if (!res.destroyed) res.destroy();
    return { ok: false, bytes: progress.bytes, reason };
  } finally {
    res.off('close', onClose);
  }
}
