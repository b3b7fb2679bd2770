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
 * Sends the status line and headers through Node and waits until they have
 * left for the kernel: bytes written by the sender thread must come after
 * every byte Node wrote. False if the socket closed meanwhile.
 */
export async function flushHeaders(res: ServerResponse, socket: Socket): Promise<boolean> {
  res.flushHeaders();
  while (!idle(socket)) {
    if (socket.destroyed || res.destroyed) return false;
    await new Promise<void>((resolve) => {
      const done = (): void => {
        socket.off('drain', done);
        socket.off('close', done);
        resolve();
      };
      socket.once('drain', done);
      socket.once('close', done);
    });
  }
  return !socket.destroyed && !res.destroyed;
}

/** A sign of life for the server's stall timer (STALL_TIMEOUT_MS), which sees no writes of ours. */
export function rearmStallTimer(socket: Socket): void {
  const ms = socket.timeout;
  if (typeof ms === 'number' && ms > 0 && !socket.destroyed) socket.setTimeout(ms);
}
