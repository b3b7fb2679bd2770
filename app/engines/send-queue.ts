/**
 * How much of a young response may wait unsent in the kernel (SEND_QUEUE_BYTES,
 * docs/performance.md "Paused downloads").
 *
 * Left alone, Linux lets a socket's send buffer grow to tcp_wmem's maximum
 * (4 MiB here) for a client that has stopped reading: the server reads ~70
 * chunks of the file for every paused download (10,000 of them queue 700,000
 * gated reads in front of new requests) and the kernel holds 4 MiB each.
 * TCP_NOTSENT_LOWAT caps only the bytes not yet sent, so a client that keeps
 * reading still has its whole window in flight.
 *
 * With the cap known, the body pump asks how much room is left under it before
 * each read (SIOCOUTQNSD) and reads no more than fits: every write is taken by
 * the kernel at once, and a paused client holds no chunk in Node's buffers.
 * When there is no room, it polls for some (whenRoom) rather than writing a
 * probe: the kernel appends small writes to the last packet even past the cap,
 * so probes are taken for a while (~30 rounds of reads for nothing) before
 * one sticks.
 *
 * The cap is for young bodies, as chunk-size.ts's small chunks are: once a
 * client has read RAMP_BYTES it is streaming, and stream() lifts the cap to
 * STREAMING_SEND_QUEUE_BYTES (a small cap wakes the sender at every few hundred
 * KiB drained: measured 2-4x the CPU per GiB at 16 clients).
 *
 * Needs the native addon (setsockopt and ioctl); without it, or on a socket
 * without a descriptor (TLS), nothing changes and the pump uses its ramp
 * (chunk-size.ts).
 */
import type { Socket } from 'node:net';
import type { ServerResponse } from 'node:http';
import { addon } from '../native/addon';

interface SocketNative {
  socketSendLimit(fd: number, bytes: number): boolean;
  socketUnsent(fd: number): number;
}

function nativeOf(v: unknown): SocketNative | undefined {
  if (typeof v !== 'object' || v === null) return undefined;
  const o = v as Record<string, unknown>;
  return typeof o['socketSendLimit'] === 'function' && typeof o['socketUnsent'] === 'function' ? (v as SocketNative) : undefined;
}

/** The default of SEND_QUEUE_BYTES (app/config.ts). */
export const DEFAULT_SEND_QUEUE_BYTES = 256 * 1024;
/** The cap once a client has shown it reads (RAMP_BYTES): tcp_wmem's usual maximum, i.e. in effect none. */
export const STREAMING_SEND_QUEUE_BYTES = 4 * 1024 * 1024;

let limitBytes = DEFAULT_SEND_QUEUE_BYTES;
const native = nativeOf(addon);

/** Called from serve(); 0 leaves every socket at the kernel's default. */
export function configureSendQueue(bytes: number): void {
  limitBytes = bytes;
}

/** The room left under a socket's cap; undefined when it cannot be known. */
export interface SendQueue {
  /** The socket's current cap. */
  readonly limit: number;
  room(): number | undefined;
  /**
   * Resolves with the room once it is at least `min` bytes (or the whole cap), or
   * undefined if the response closes first or the room cannot be read. Polls the kernel
   * (one ioctl), first on the next turns of the event loop, then backing off to
   * POLL_MAX_MS, holding no bytes and no gate slot meanwhile: a paused client costs a
   * timer, not a chunk in Node's buffers.
   */
  whenRoom(min: number, res: ServerResponse): Promise<number | undefined>;
  /** Bytes in the kernel's queue not yet sent, or undefined. */
  unsent(): number | undefined;
  /**
   * Resolves once fewer than `bytes` wait unsent (the client read something), polling as
   * whenRoom does; false if the response closed first or the queue cannot be read.
   */
  whenSent(bytes: number, res: ServerResponse): Promise<boolean>;
  /** The client reads: lift the cap to STREAMING_SEND_QUEUE_BYTES (once; idempotent). */
  stream(): void;
}

/**
 * A fast client empties the queue within microseconds: the first polls come on the next
 * turns of the event loop. Few of them, and a steep backoff after: with 10,000 paused
 * clients every poll is 10,000 callbacks, and 16 spins then a doubling backoff measured a
 * TTFB p99 of new requests 3x worse than no cap at all.
 */
export const POLL_SPINS = 2;
/** Timer polls start at 1 ms and grow 4x per poll. */
const POLL_GROWTH = 4;
/** A client paused for long is polled about once a second (it then has the cap plus its own window to read before it could starve). */
export const POLL_MAX_MS = 1000;

/** Polls `check` until it returns something other than null; undefined if the response closes first. */
function poll<T>(check: () => T | null, res: ServerResponse): Promise<T | undefined> {
  return new Promise((resolve) => {
    let spins = 0;
    let delay = 1 / POLL_GROWTH;
    let timer: NodeJS.Timeout | undefined;
    let immediate: NodeJS.Immediate | undefined;
    const done = (value: T | undefined): void => {
      if (timer) clearTimeout(timer);
      if (immediate) clearImmediate(immediate);
      res.off('close', onClose);
      resolve(value);
    };
    const onClose = (): void => done(undefined);
    const step = (): void => {
      timer = undefined;
      immediate = undefined;
      if (res.destroyed) return done(undefined);
      const r = check();
      if (r !== null) return done(r);
      if (++spins < POLL_SPINS) {
        immediate = setImmediate(step);
        return;
      }
      delay = Math.min(POLL_MAX_MS, delay * POLL_GROWTH);
      timer = setTimeout(step, delay);
    };
    res.once('close', onClose);
    immediate = setImmediate(step);
  });
}

interface Capped {
  readonly fd: number;
  limit: number;
}

/** Sockets already capped (keep-alive: once per connection; -1: cannot be). */
const capped = new WeakMap<Socket, Capped>();

function fdOf(socket: Socket): number {
  const s = socket as unknown as { encrypted?: unknown; _handle?: { fd?: unknown } | null };
  if (s.encrypted === true) return -1;
  const fd = s._handle?.fd;
  return typeof fd === 'number' && Number.isInteger(fd) && fd >= 0 ? fd : -1;
}

/**
 * The queue of the socket carrying `res`, capped at SEND_QUEUE_BYTES, or undefined (no
 * addon, no descriptor, SEND_QUEUE_BYTES=0, no socket yet). A keep-alive connection's
 * next response starts young again.
 */
export function sendQueueOf(res: ServerResponse): SendQueue | undefined {
  const socket = res.socket;
  if (!native || limitBytes === 0 || !socket || socket.destroyed) return undefined;
  let c = capped.get(socket);
  if (c === undefined) {
    const fd = fdOf(socket);
    c = { fd: fd >= 0 && native.socketSendLimit(fd, limitBytes) ? fd : -1, limit: limitBytes };
    capped.set(socket, c);
  } else if (c.fd >= 0 && c.limit !== limitBytes && native.socketSendLimit(c.fd, limitBytes)) {
    c.limit = limitBytes;
  }
  if (c.fd < 0) return undefined;
  const state = c;
  const unsent = (): number | undefined => {
    // A destroyed socket's number may already belong to another connection.
    if (socket.destroyed) return undefined;
    const n = native.socketUnsent(state.fd);
    return n < 0 ? undefined : n;
  };
  const room = (): number | undefined => {
    const n = unsent();
    // Bytes Node still holds (corked until the next tick, or refused by the kernel) count as unsent.
    return n === undefined ? undefined : Math.max(0, state.limit - n - socket.writableLength);
  };
  return {
    get limit() {
      return state.limit;
    },
    room,
    whenRoom: (min, r) =>
      poll(() => {
        const n = room();
        return n === undefined || n >= Math.min(min, state.limit) ? n : null;
      }, r),
    unsent,
    whenSent: async (bytes, r) =>
      (await poll(() => {
        const n = unsent();
        return n === undefined ? false : n < bytes ? true : null;
      }, r)) === true,
    stream: () => {
      if (state.limit >= STREAMING_SEND_QUEUE_BYTES || socket.destroyed) return;
      if (native.socketSendLimit(state.fd, STREAMING_SEND_QUEUE_BYTES)) state.limit = STREAMING_SEND_QUEUE_BYTES;
    },
  };
}
