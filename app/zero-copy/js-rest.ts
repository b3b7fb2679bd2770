/**
 * The rest of a body through the JS path, for the rare zero-copy attempt that
 * fails after its first chunk is on the wire (a file system that cannot
 * splice, no descriptor left for a dup). Same BodyStream as every engine, so
 * back-pressure, short reads and aborts behave as on the JS path.
 */
import type { ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import { BodyStream, type ChunkReader } from '../engines/body-stream';
import type { SendOutcome } from '../engines/types';

export async function sendRestInJs(
  start: number,
  end: number,
  reader: ChunkReader,
  fd: number,
  chunkBytes: number,
  res: ServerResponse,
  alreadySent: number,
): Promise<SendOutcome> {
  const gone = new AbortController();
  const onClose = (): void => gone.abort();
  res.once('close', onClose);
  const stream = new BodyStream([{ kind: 'file', start, end }], reader, fd, chunkBytes, gone.signal);
  try {
    await pipeline(stream, res);
    return { ok: true, bytes: alreadySent + stream.bytesProduced };
  } catch (err) {
    const code = (err as { code?: unknown } | null)?.code;
    const reason =
      code === 'RS_ERR_SHORT_READ' ? 'short-read'
      : code === 'RS_ERR_READ_TIMEOUT' ? 'timeout'
      : res.socket === null || res.socket.destroyed || code === 'ERR_STREAM_PREMATURE_CLOSE' ? 'aborted'
      : 'io-error';
    if (!res.destroyed) res.destroy();
    return { ok: false, bytes: alreadySent + stream.bytesProduced, reason };
  } finally {
    res.off('close', onClose);
  }
}
