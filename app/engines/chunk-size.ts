/**
 * How many bytes each read of a body asks for.
 *
 * Large reads cost less CPU per byte (1 MiB reads measured 2x cheaper than
 * 64 KiB), but every chunk read and not yet on the wire is memory held for a
 * client that may have paused. A client that pauses at once (a browser asking
 * where to save, a paused download manager) stops the server after the
 * kernel's socket buffers fill, a few MiB on loopback (tcp_wmem up to 4 MiB),
 * so the first RAMP_BYTES of a body go out in small chunks: such a client holds
 * a couple of small chunks, not a couple of large ones. A client still reading
 * after RAMP_BYTES is streaming, and gets full-size chunks.
 *
 * While the kernel is short of TCP memory (tcp-pressure.ts) it refuses writes
 * below every socket limit, and a refused chunk waits in Node for as long as its
 * client does not read: young bodies then read PRESSURE_CHUNK_BYTES at a time.
 *
 * Prefetch (read before the headers) and the body stream both ask this
 * function, so the prefetched chunk is normally exactly the first one the
 * stream reads (if pressure changed in between, the stream reads it anew).
 */
import { tcpMemoryPressure } from './tcp-pressure';


/** The chunk size while the body is young. */
export const SMALL_CHUNK_BYTES = 64 * 1024;
/** The chunk size while the body is young and the kernel short of TCP memory (a page: tcp_wmem's minimum). */
export const PRESSURE_CHUNK_BYTES = 4096;
/** Body bytes after which reads use the configured chunk size. */
export const RAMP_BYTES = 8 * 1024 * 1024;

/** The read size for the chunk that starts `produced` bytes into the body. */
export function chunkSizeAt(produced: number, chunkBytes: number, underPressure: () => boolean = tcpMemoryPressure): number {
  if (produced >= RAMP_BYTES) return chunkBytes;
  return Math.min(chunkBytes, underPressure() ? PRESSURE_CHUNK_BYTES : SMALL_CHUNK_BYTES);
}
