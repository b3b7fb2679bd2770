/**
 * Which responses may take the zero-copy path: pure rules over facts the
 * caller gathered, so they are table-tested without sockets.
 *
 * Only one span of one file (no multipart framing to interleave), long enough
 * to pay for the hop to the sender thread, on a plain socket that has an fd
 * and belongs to this response. TLS never: the kernel would send plaintext
 * into an encrypted stream, and a TLS socket still exposes its TCP fd.
 */
import type { BodyPiece } from '../core/types';

export interface SocketFacts {
  /** A TLS socket (socket.encrypted), whatever its handle exposes. */
  readonly encrypted: boolean;
  /** The kernel fd behind the socket's handle, or -1 (no handle, a JS stream, ...). */
  readonly fd: number;
  /** The socket is currently writing this response (not a pipelined one ahead of it). */
  readonly ownedByResponse: boolean;
}

export type Verdict =
  | { readonly ok: true; readonly start: number; readonly length: number; readonly sockFd: number }
  | { readonly ok: false; readonly reason: 'multipart' | 'too-small' | 'tls' | 'no-fd' | 'not-owner' };

/** The single file span of a body at least `minBytes` long, or why not. */
export function singleSpan(
  body: readonly BodyPiece[],
  minBytes: number,
): { ok: true; start: number; length: number } | { ok: false; reason: 'multipart' | 'too-small' } {
  const only = body.length === 1 ? body[0] : undefined;
  if (only === undefined || only.kind !== 'file') return { ok: false, reason: 'multipart' };
  const length = only.end - only.start + 1;
  if (length < minBytes) return { ok: false, reason: 'too-small' };
  return { ok: true, start: only.start, length };
}

export function verdict(body: readonly BodyPiece[], minBytes: number, socket: SocketFacts): Verdict {
  const span = singleSpan(body, minBytes);
  if (!span.ok) return span;
  if (socket.encrypted) return { ok: false, reason: 'tls' };
  if (!Number.isInteger(socket.fd) || socket.fd < 0) return { ok: false, reason: 'no-fd' };
  if (!socket.ownedByResponse) return { ok: false, reason: 'not-owner' };
  return { ok: true, start: span.start, length: span.length, sockFd: socket.fd };
}
