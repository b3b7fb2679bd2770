/**
 * The worker engine: stat, realpath, open, read, list and close run in a pool
 * of worker threads (piscina; thread code in workers/reader.ts) instead of on
 * libuv's threadpool, and bodies are sent by the same BodyStream as the stream
 * engine with a ChunkReader that asks the pool. Chunks are allocated in the
 * thread and transferred, never copied.
 *
 * Lifecycle (style-anchors P13): ReaderPool is a thin facade over a private
 * piscina pool. A thread that dies fails only the task it was running (the
 * response it was serving ends short) and piscina replaces it. Tasks wait in
 * our own bounded FIFO until a thread is free, so an AbortSignal (the client
 * went away) removes a task that has not started; a task already running is
 * never aborted (piscina would kill the thread, and the read could land on a
 * descriptor number reused after the caller closed it), BodyStream waits for it.
 */
import path from 'node:path';
import fs from 'node:fs';
import type { ServerResponse } from 'node:http';
import { Piscina } from 'piscina';
import type { BodyPiece } from '../core/types';
import { isFailure, type ReaderResults, type ReaderTask } from '../../workers/protocol';
import type { ChunkReader } from './body-stream';
import { sendBody } from './send-body';
import type { DirEntry, Engine, OpenedFile, PathStat, SendOutcome } from './types';

export interface WorkerEngineOptions {
  readonly chunkBytes: number;
  readonly threads: number;
  /** Tasks that may wait for a thread; one more is refused with RS_ERR_QUEUE_FULL. Close tasks are never refused. */
  readonly maxQueue?: number;
}

/** Compiled thread code: dist/workers/reader.js, next to dist/app/engines/. */
export const READER_FILE = path.resolve(__dirname, '../../workers/reader.js');

export class QueueFullError extends Error {
  readonly code = 'RS_ERR_QUEUE_FULL';
  constructor() {
    super('the reader queue is full');
    this.name = 'QueueFullError';
  }
}

class ReaderAbortError extends Error {
  readonly code = 'ABORT_ERR';
  constructor() {
    super('the read was cancelled before it started');
    this.name = 'AbortError';
  }
}

interface Waiting {
  readonly task: ReaderTask;
  readonly transfer: boolean;
  readonly resolve: (v: unknown) => void;
  readonly reject: (e: unknown) => void;
  readonly signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
}

function toError(f: { code: string | undefined; message: string; syscall: string | undefined }): Error {
  const err = new Error(f.message) as Error & { code?: string; syscall?: string };
  if (f.code !== undefined) err.code = f.code;
  if (f.syscall !== undefined) err.syscall = f.syscall;
  return err;
}

/** The one place the worker engine's fs operations are dispatched (a per-volume gate goes here). */
export class ReaderPool {
  readonly #pool: Piscina;
  readonly #threads: number;
  readonly #maxQueue: number;
  readonly #queue: Waiting[] = [];
  #running = 0;
  #crashes = 0;
  #closed = false;

  constructor(threads: number, maxQueue: number) {
    this.#threads = threads;
    this.#maxQueue = maxQueue;
    this.#pool = new Piscina({
      filename: READER_FILE,
      minThreads: threads,
      maxThreads: threads,
      idleTimeout: Infinity,
      concurrentTasksPerWorker: 1,
    });
    // A thread that exits fails its own task (piscina rejects it) and is replaced; count it for /healthz.
    this.#pool.on('workerDestroy', () => {
      if (!this.#closed) this.#crashes++;
    });
    // Errors not tied to a task (none expected) must not crash the process.
    this.#pool.on('error', () => undefined);
  }

  run<K extends ReaderTask['op']>(task: ReaderTask & { op: K }, signal?: AbortSignal): Promise<ReaderResults[K]> {
    if (this.#closed) return Promise.reject(toError({ code: 'RS_ERR_POOL_CLOSED', message: 'the reader pool is closed', syscall: undefined }));
    if (signal?.aborted) return Promise.reject(new ReaderAbortError());
    if (task.op !== 'close' && this.#queue.length >= this.#maxQueue) return Promise.reject(new QueueFullError());
    return new Promise<ReaderResults[K]>((resolve, reject) => {
      const w: Waiting = { task, transfer: task.op === 'read', resolve: resolve as (v: unknown) => void, reject, signal, onAbort: undefined };
      if (signal) {
        w.onAbort = () => {
          const i = this.#queue.indexOf(w);
          if (i >= 0) {
            this.#queue.splice(i, 1);
            reject(new ReaderAbortError());
          }
        };
        signal.addEventListener('abort', w.onAbort, { once: true });
      }
      this.#queue.push(w);
      this.#pump();
    });
  }

  #pump(): void {
    while (this.#running < this.#threads && this.#queue.length > 0) {
      const w = this.#queue.shift()!;
      if (w.signal && w.onAbort) w.signal.removeEventListener('abort', w.onAbort);
      this.#running++;
      this.#pool.run(w.task).then(
        (result: unknown) => {
          this.#running--;
          this.#pump();
          if (isFailure(result)) w.reject(toError(result));
          else w.resolve(result);
        },
        (err: unknown) => {
          // The thread died (or the pool was destroyed) while running this task.
          this.#running--;
          this.#pump();
          w.reject(err);
        },
      );
    }
  }

  stats(): Record<string, number> {
    return { threads: this.#threads, running: this.#running, queued: this.#queue.length, threadExits: this.#crashes };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const w of this.#queue.splice(0)) w.reject(toError({ code: 'RS_ERR_POOL_CLOSED', message: 'the reader pool is closed', syscall: undefined }));
    await this.#pool.destroy();
  }
}

export function createWorkerEngine(options: WorkerEngineOptions): Engine {
  const pool = new ReaderPool(options.threads, options.maxQueue ?? 10_000);

  function closeFd(fd: number): Promise<void> {
    // fds are process-wide: close through the pool like every other fs call; if
    // the pool is gone (shutdown), close from the main thread instead.
    return pool.run({ op: 'close', fd }).then(
      () => undefined,
      (err: { code?: unknown }) => {
        if (err?.code === 'EBADF') return;
        return new Promise<void>((resolve) => fs.close(fd, () => resolve()));
      },
    );
  }

  return {
    name: 'worker',
    realpath: (p: string): Promise<string> => pool.run({ op: 'realpath', path: p }),
    stat: (p: string): Promise<PathStat> => pool.run({ op: 'stat', path: p }),
    async open(p: string): Promise<OpenedFile> {
      const raw = await pool.run({ op: 'open', path: p });
      let closed: Promise<void> | undefined;
      return { fd: raw.fd, meta: raw.meta, dev: raw.dev, close: () => (closed ??= closeFd(raw.fd)) };
    },
    list: (p: string): Promise<DirEntry[]> => pool.run({ op: 'list', path: p }),
    async sendBody(file: OpenedFile, body: readonly BodyPiece[], res: ServerResponse): Promise<SendOutcome> {
      // The client going away cancels the read still waiting for a thread.
      const ac = new AbortController();
      const onClose = (): void => ac.abort();
      res.once('close', onClose);
      const reader: ChunkReader = {
        async read(fd: number, position: number, length: number): Promise<Buffer> {
          const view = await pool.run({ op: 'read', fd, position, length }, ac.signal);
          return Buffer.from(view.buffer, view.byteOffset, view.byteLength);
        },
      };
      try {
        return await sendBody(body, reader, file.fd, options.chunkBytes, res);
      } finally {
        res.off('close', onClose);
      }
    },
    describe: () => ({ engine: 'worker', chunkBytes: options.chunkBytes, ...pool.stats() }),
    close: () => pool.close(),
  };
}
