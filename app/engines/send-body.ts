/**
 * Runs a BodyStream into a response and classifies how it ended. On any
 * failure the response is destroyed, so the client sees a short body and a
 * closed connection (never padding, never a response that looks complete).
 */
import type { ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import type { BodyPiece } from '../core/types';
import { BodyStream, type ChunkReader } from './body-stream';
import { isSmallBody, sendSmallBody } from './small-body';
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
}

export async function sendBody(
  body: readonly BodyPiece[],
  reader: ChunkReader,
  fd: number,
  chunkBytes: number,
  res: ServerResponse,
  options: SendOptions = {},
): Promise<SendOutcome> {
  if (isSmallBody(body, options.smallBodyBytes ?? 0)) return sendSmallBody(body, reader, fd, res, reasonOf);
  // The client going away cancels a read still waiting for its volume's gate.
  const gone = new AbortController();
  const onClose = (): void => gone.abort();
  res.once('close', onClose);
  const stream = new BodyStream(body, reader, fd, chunkBytes, gone.signal);
  try {
    await pipeline(stream, res);
    return { ok: true, bytes: stream.bytesProduced };
  } catch (err) {
    const reason = reasonOf(err, res);
    if (!res.destroyed) res.destroy();
    return { ok: false, bytes: stream.bytesProduced, reason };
  } finally {
    res.off('close', onClose);
  }
}
