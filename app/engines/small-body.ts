/**
 * The lean path for small bodies (a 4 KiB range, a small file, a short
 * multipart answer): the bytes are read with positioned reads — the first one
 * is usually the chunk the route already prefetched before the status line —
 * and handed to the socket with one res.end(), so headers and body leave in a
 * single write. No Readable, no pipeline, no AbortController: for a 4 KiB
 * response that machinery costs more than the read itself (docs/performance.md).
 *
 * Failure semantics are the stream path's: the bytes read so far are written,
 * then the response is destroyed, so the client sees a short body and a closed
 * connection, never padding.
 */
import type { ServerResponse } from 'node:http';
import type { BodyPiece } from '../core/types';
import { ShortReadError, type ChunkReader } from './chunk-reader';
import type { SendOutcome } from './types';

type Reason = Extract<SendOutcome, { ok: false }>['reason'];

/** Body bytes of a plan (file spans and literal multipart framing). */
export function bodyBytes(body: readonly BodyPiece[]): number {
  let n = 0;
  for (const p of body) n += p.kind === 'file' ? p.end - p.start + 1 : p.data.length; // framing is latin1: 1 byte per char
  return n;
}

/** Takes the lean path: at most `limit` bytes in all (0 turns it off). */
export function isSmallBody(body: readonly BodyPiece[], limit: number): boolean {
  return limit > 0 && bodyBytes(body) <= limit;
}

async function readSpan(reader: ChunkReader, fd: number, start: number, end: number, out: Buffer[], signal?: AbortSignal): Promise<void> {
  let position = start;
  while (position <= end) {
    const chunk = await reader.read(fd, position, end - position + 1, signal);
    if (chunk.length === 0) throw new ShortReadError();
    out.push(chunk);
    position += chunk.length;
  }
}

function join(parts: readonly Buffer[]): Buffer {
  return parts.length === 1 && parts[0] !== undefined ? parts[0] : Buffer.concat(parts);
}

export async function sendSmallBody(
  body: readonly BodyPiece[],
  reader: ChunkReader,
  fd: number,
  res: ServerResponse,
  reasonOf: (err: unknown, res: ServerResponse) => Reason,
): Promise<SendOutcome> {
  const parts: Buffer[] = [];
  // Only a body with several spans may wait at the volume gate more than once
  // (the first read is prefetched): only then is dropping reads of a client
  // that went away worth an AbortController.
  let gone: AbortController | undefined;
  let onClose: (() => void) | undefined;
  if (body.filter((p) => p.kind === 'file').length > 1) {
    const ac = new AbortController();
    gone = ac;
    onClose = () => ac.abort();
    res.once('close', onClose);
  }
  try {
    for (const piece of body) {
      if (piece.kind === 'bytes') parts.push(Buffer.from(piece.data, 'latin1'));
      else await readSpan(reader, fd, piece.start, piece.end, parts, gone?.signal);
    }
  } catch (err) {
    const reason = reasonOf(err, res);
    const sent = parts.reduce((n, b) => n + b.length, 0);
    if (!res.destroyed && sent > 0) {
      // What was read goes out (a short body, as the stream path would have sent), then the connection closes.
      res.write(join(parts), () => res.destroy());
      return { ok: false, bytes: sent, reason };
    }
    // Nothing read: like the stream path, the connection closes before the headers leave.
    if (!res.destroyed) res.destroy();
    return { ok: false, bytes: 0, reason };
  } finally {
    if (onClose) res.off('close', onClose);
  }
  if (res.destroyed) return { ok: false, bytes: 0, reason: 'aborted' };
  const data = join(parts);
  res.end(data);
  return { ok: true, bytes: data.length };
}
