/**
 * What the zero-copy path needs from Node's socket internals, in one place.
 * `_handle.fd`, `_handle.writeQueueSize` and `_httpMessage` are undocumented
 * (shared/notes/io-findings.md); every read is guarded so a Node that changes
 * them makes responses fall back to the JS path instead of failing.
 */
import type { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { SocketFacts } from './eligibility';

interface SocketInternals {
  readonly encrypted?: unknown;
  readonly _handle?: { readonly fd?: unknown; readonly writeQueueSize?: unknown } | null;
  readonly _httpMessage?: unknown;
}

function internals(socket: Socket): SocketInternals {
  return socket as unknown as SocketInternals;
}

export function socketFacts(res: ServerResponse, socket: Socket): SocketFacts {
  const s = internals(socket);
  const fd = s._handle?.fd;
  return {
    encrypted: s.encrypted === true,
    fd: typeof fd === 'number' ? fd : -1,
    ownedByResponse: s._httpMessage === res,
  };
}

/**
 * The header block Node built for `res` (writeHead with an object keeps no
 * getHeader() copies), or undefined if it has not been built or Node changed.
 */
export function headerBlock(res: ServerResponse): string | undefined {
  const h = (res as unknown as { _header?: unknown })._header;
  return typeof h === 'string' ? h : undefined;
}

/** Nothing of ours is waiting in Node's stream buffer or in libuv's write queue. */
function idle(socket: Socket): boolean {
  const queued = internals(socket)._handle?.writeQueueSize;
  return socket.writableLength === 0 && (typeof queued !== 'number' || queued === 0);
}

/**
 * The socket that will carry `res`: now, or, for a pipelined response queued
 * behind another, once the server hands it over. Undefined if the response
 * closes first.
 */
export function socketOf(res: ServerResponse): Promise<Socket | undefined> {
  if (res.socket) return Promise.resolve(res.socket);
  if (res.destroyed) return Promise.resolve(undefined);
  return new Promise((resolve) => {
    const onSocket = (socket: Socket): void => {
      res.off('close', onClose);
      resolve(socket);
    };
    const onClose = (): void => {
      res.off('socket', onSocket);
      resolve(undefined);
    };
    res.once('socket', onSocket);
    res.once('close', onClose);
  });
}

/**
 * Writes `chunk` (with the status line and headers before it) through Node and
 * waits until Node has handed every byte to the kernel: bytes written by the
 * sender thread must come after every byte Node wrote. False if the socket
 * closed or failed meanwhile.
 */
export async function writeAndFlush(res: ServerResponse, socket: Socket, chunk: Buffer): Promise<boolean> {
  const written = await new Promise<boolean>((resolve) => {
    const onClose = (): void => resolve(false);
    socket.once('close', onClose);
    // The callback runs once libuv has written the bytes (after an uncork, if Node corked the socket).
    res.write(chunk, (err) => {
      socket.off('close', onClose);
      resolve(!err);
    });
  });
  if (!written) return false;
  // Nothing else should be queued; if something is, it leaves the same way. Polling, because
  // 'drain' only fires after a write that returned false.
  while (!idle(socket)) {
    if (socket.destroyed || res.destroyed) return false;
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  return !socket.destroyed && !res.destroyed;
}

/** A sign of life for the server's stall timer (STALL_TIMEOUT_MS), which sees no writes of ours. */
export function rearmStallTimer(socket: Socket): void {
  const ms = socket.timeout;
  if (typeof ms === 'number' && ms > 0 && !socket.destroyed) socket.setTimeout(ms);
}
