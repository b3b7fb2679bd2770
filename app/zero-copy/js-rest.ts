/**
 * The rest of a body through the JS path, for the rare zero-copy attempt that
 * fails after its first chunk is on the wire (a file system that cannot
 * splice, no descriptor left for a dup). The same pump as every engine, so
 * back-pressure, short reads and aborts behave as on the JS path.
 */
import type { ServerResponse } from 'node:http';
import { runPump } from '../engines/body-pump';
import type { ChunkReader } from '../engines/chunk-reader';
import type { SendOutcome } from '../engines/types';

export function sendRestInJs(
  start: number,
  end: number,
  reader: ChunkReader,
  fd: number,
  chunkBytes: number,
  res: ServerResponse,
  alreadySent: number,
): Promise<SendOutcome> {
  return runPump([{ kind: 'file', start, end }], reader, fd, chunkBytes, res, undefined, alreadySent);
}
