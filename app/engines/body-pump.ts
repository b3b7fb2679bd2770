/**
 * Writes a plan's body pieces to a response, paced by the socket: one chunk is
 * read, written, and the next read waits until the response has drained, so a
 * client that pauses holds at most the chunk in its socket's buffer (plus the
 * kernel's). Chunk sizes follow chunk-size.ts (small first, full size once the
 * client has kept reading). A chunk from the buffer pool goes back to it from
 * the write's callback, once the socket is done with its bytes.
 *
 * Where the socket's unsent bytes are capped and visible (send-queue.ts), each
 * read asks for no more than the room left under the cap, so the kernel takes
 * every write at once; with no room (a client that stopped reading) the next
 * read waits until there is some: a paused download then holds no chunk in
 * Node, and has cost a few reads, not one per 64 KiB of the kernel's buffers.
 *
 * Compared with a Readable + pipeline (what it replaced) it has no stream
 * buffering of its own and no per-chunk stream bookkeeping; failures are
 * reported the same way (errors with the same codes), and the caller destroys
 * the response.
 */
import type { ServerResponse } from 'node:http';
import { finished } from 'node:stream/promises';
import type { BodyPiece } from '../core/types';
import { ShortReadError, type ChunkReader } from './chunk-reader';
import type { BufferPool } from './buffer-pool';
import { chunkSizeAt, RAMP_BYTES } from './chunk-size';
import { tcpMemoryPressure } from './tcp-pressure';
import { sendQueueOf, type SendQueue } from './send-queue';
import type { SendOutcome } from './types';

class PrematureCloseError extends Error {
  readonly code = 'ERR_STREAM_PREMATURE_CLOSE';
  constructor() {
    super('the response closed before the body was sent');
  }
}

/** Resolves on 'drain', rejects if the response closes first. */
function drained(res: ServerResponse): Promise<void> {
  if (res.destroyed) return Promise.reject(new PrematureCloseError());
  return new Promise((resolve, reject) => {
    const onDrain = (): void => {
      res.off('close', onClose);
      resolve();
    };
    const onClose = (): void => {
      res.off('drain', onDrain);
      reject(new PrematureCloseError());
    };
    res.once('drain', onDrain);
    res.once('close', onClose);
  });
}

/** Less room than this under the socket's cap: wait for more rather than read a sliver. */
export const MIN_ROOM_BYTES = 16 * 1024;

/**
 * The size of the next read: the ramp (chunk-size.ts), and no more than fits under the
 * socket's cap when that is known. The ramp still applies with a cap: a kernel short of
 * TCP memory (thousands of paused clients) refuses writes the cap would allow, and
 * then what waits in Node is a young body's small chunk, not a full one.
 */
export function nextRead(
  produced: number,
  rest: number,
  chunkBytes: number,
  room: number | undefined,
  underPressure: () => boolean = tcpMemoryPressure,
): number {
  const ramp = Math.min(chunkSizeAt(produced, chunkBytes, underPressure), rest);
  return room === undefined || produced === 0 ? ramp : Math.max(1, Math.min(ramp, room));
}

/** Resolves once `chunk` has left Node for the kernel (then gives it back to `pool`); rejects if the response closes first. */
function writeFlushed(res: ServerResponse, chunk: Buffer, pool: BufferPool | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const onClose = (): void => reject(new PrematureCloseError());
    res.once('close', onClose);
    res.write(chunk, (err) => {
      res.off('close', onClose);
      pool?.give(chunk);
      if (err) reject(new PrematureCloseError());
      else resolve();
    });
  });
}

export interface PumpProgress {
  /** Body bytes handed to the response so far. */
  bytes: number;
}

export async function pumpBody(
  body: readonly BodyPiece[],
  reader: ChunkReader,
  fd: number,
  chunkBytes: number,
  res: ServerResponse,
  progress: PumpProgress,
  signal?: AbortSignal,
  pool?: BufferPool,
): Promise<void> {
  let queue: SendQueue | undefined;
  const write = async (chunk: Buffer): Promise<void> => {
    if (res.destroyed) {
      pool?.give(chunk); // it never reached the socket
      throw new PrematureCloseError();
    }
    if (queue) {
      // The next read waits until this chunk is in the kernel: a kernel short of TCP memory
      // refuses writes below the socket's cap, and more chunks would then pile up in Node.
      progress.bytes += chunk.length;
      await writeFlushed(res, chunk, pool);
      return;
    }
    const more = pool ? res.write(chunk, () => pool.give(chunk)) : res.write(chunk);
    progress.bytes += chunk.length;
    if (!more) await drained(res);
  };
  // Read and write in a function of their own: a chunk held in this function's frame would stay
  // alive (the async frame keeps its registers) while the next wait for room lasts, i.e. for as
  // long as a paused client stays paused (measured: one 64 KiB chunk per paused download).
  const copy = async (position: number, want: number): Promise<number> => {
    // Every chunk after the first is `later`: new requests' operations go before it.
    const chunk = await reader.read(fd, position, want, signal, undefined, progress.bytes > 0);
    if (chunk.length === 0) throw new ShortReadError();
    await write(chunk);
    return chunk.length;
  };
  for (const piece of body) {
    if (piece.kind === 'bytes') {
      await write(Buffer.from(piece.data, 'latin1'));
      continue;
    }
    let position = piece.start;
    while (position <= piece.end) {
      // Asked here, not before the loop: a pipelined response gets its socket late.
      queue ??= sendQueueOf(res);
      if (progress.bytes >= RAMP_BYTES) queue?.stream();
      let room = progress.bytes > 0 ? queue?.room() : undefined;
      if (queue && room !== undefined && room < MIN_ROOM_BYTES) {
        // The client is not reading (or slower than us): wait for it holding nothing.
        room = await queue.whenRoom(MIN_ROOM_BYTES, res);
        if (res.destroyed) throw new PrematureCloseError();
      }
      position += await copy(position, nextRead(progress.bytes, piece.end - position + 1, chunkBytes, room));
    }
  }
  res.end();
  await finished(res);
}

/** How a failed send ended, from the error and the state of the response. */
export function failureReason(err: unknown, res: ServerResponse): 'aborted' | 'short-read' | 'io-error' | 'timeout' {
  const code = (err as { code?: unknown } | null)?.code;
  if (code === 'RS_ERR_SHORT_READ') return 'short-read';
  if (code === 'RS_ERR_READ_TIMEOUT') return 'timeout';
  if (code === 'ERR_STREAM_PREMATURE_CLOSE' || res.socket === null || res.socket.destroyed) return 'aborted';
  return 'io-error';
}

/**
 * Pumps `body` into `res` and classifies how it ended; on failure the response is
 * destroyed, so the client sees a short body, never padding. `alreadySent` counts
 * body bytes another path wrote before (zero-copy's first chunk).
 */
export async function runPump(
  body: readonly BodyPiece[],
  reader: ChunkReader,
  fd: number,
  chunkBytes: number,
  res: ServerResponse,
  pool?: BufferPool,
  alreadySent = 0,
): Promise<SendOutcome> {
  // The client going away cancels a read still waiting for its volume's gate.
  const gone = new AbortController();
  const onClose = (): void => gone.abort();
  res.once('close', onClose);
  const progress: PumpProgress = { bytes: 0 };
  try {
    await pumpBody(body, reader, fd, chunkBytes, res, progress, gone.signal, pool);
    return { ok: true, bytes: alreadySent + progress.bytes };
  } catch (err) {
    const reason = failureReason(err, res);
    if (!res.destroyed) res.destroy();
    return { ok: false, bytes: alreadySent + progress.bytes, reason };
  } finally {
    res.off('close', onClose);
  }
}
