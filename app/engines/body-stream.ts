/**
 * A Readable that produces a plan's body pieces in order: literal bytes
 * (multipart framing) and spans of an open file. Engines differ only in the
 * ChunkReader that fetches file bytes, so back-pressure, short-read detection
 * and abort handling are written once for every mode.
 */
import { Readable } from 'node:stream';
import type { BodyPiece } from '../core/types';
import { chunkSizeAt, SMALL_CHUNK_BYTES } from './chunk-size';

/** Reads file bytes for a BodyStream. */
export interface ChunkReader {
  /**
   * Reads up to `length` bytes of `fd` at `position`. Resolves with exactly the
   * bytes read (an empty buffer at end of file). `signal` aborts when the client
   * has gone: a read still waiting for a thread may then be dropped.
   */
  read(fd: number, position: number, length: number, signal?: AbortSignal): Promise<Buffer>;
}

/** The file ended before the planned span did: it was truncated while we served it. */
export class ShortReadError extends Error {
  readonly code = 'RS_ERR_SHORT_READ';
  constructor() {
    super('file shrank while it was being sent');
    this.name = 'ShortReadError';
  }
}

export class BodyStream extends Readable {
  /** Body bytes produced so far. */
  bytesProduced = 0;
  private index = 0;
  private position = -1;
  private reading = false;
  private inflight: Promise<unknown> | undefined;

  constructor(
    private readonly pieces: readonly BodyPiece[],
    private readonly reader: ChunkReader,
    private readonly fd: number,
    private readonly chunkBytes: number,
    private readonly signal?: AbortSignal,
  ) {
    // One chunk of read-ahead (any size: the buffer is refilled only when it falls
    // below one small chunk), so a paused client costs at most about two chunks.
    super({ highWaterMark: Math.min(chunkBytes, SMALL_CHUNK_BYTES) });
  }

  override _read(): void {
    if (this.reading) return;
    this.reading = true;
    const next = this.nextChunk();
    this.inflight = next;
    next.then(
      (chunk) => {
        // Clear the flag before push(): push may call _read again synchronously.
        this.reading = false;
        if (this.destroyed) return;
        if (chunk) this.bytesProduced += chunk.length;
        this.push(chunk);
      },
      (err: unknown) => {
        this.reading = false;
        this.destroy(err instanceof Error ? err : new Error(String(err)));
      },
    );
  }

  /** Resolves with the next chunk, or null when the body is complete. */
  private async nextChunk(): Promise<Buffer | null> {
    const piece = this.pieces[this.index];
    if (piece === undefined) return null;
    if (piece.kind === 'bytes') {
      this.index++;
      return Buffer.from(piece.data, 'latin1');
    }
    if (this.position < 0) this.position = piece.start;
    const want = Math.min(chunkSizeAt(this.bytesProduced, this.chunkBytes), piece.end - this.position + 1);
    const chunk = await this.reader.read(this.fd, this.position, want, this.signal);
    if (chunk.length === 0) throw new ShortReadError();
    this.position += chunk.length;
    if (this.position > piece.end) {
      this.index++;
      this.position = -1;
    }
    return chunk;
  }

  override _destroy(err: Error | null, callback: (error?: Error | null) => void): void {
    // Wait for a read already handed to the kernel: the caller closes the fd when
    // this stream has closed, and closing it under a pending read could let the
    // read land on a reused descriptor number.
    const pending = this.inflight;
    if (!pending) return callback(err);
    pending.then(
      () => callback(err),
      () => callback(err),
    );
  }
}
