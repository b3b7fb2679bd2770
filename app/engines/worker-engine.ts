/**
 * The worker engine: stat, realpath, open, read, list and close run in a pool
 * of worker threads (piscina; thread code in workers/reader.ts) instead of on
 * libuv's threadpool, and bodies are sent by the same sendBody as the stream
 * engine with a ChunkReader that asks the pool. Chunks are allocated in the
 * thread and transferred, never copied.
 *
 * Isolation (docs/isolation.md): each volume gets its own pool of
 * WORKER_THREADS threads, created on first use, and every operation also goes
 * through the volume's gate (cap, deadline, health), exactly as in the stream
 * engine (gated-file.ts), so a hung volume can only ever hold its own threads.
 *
 * Lifecycle (style-anchors P13): ReaderPool is a thin facade over a private
 * piscina pool. A thread that dies fails only the task it was running (the
 * response it was serving ends short) and piscina replaces it. Tasks wait in
 * our own bounded FIFO until a thread is free, so an AbortSignal (the client
 * went away) removes a task that has not started; a task already running is
 * never aborted (piscina would kill the thread, and the read could land on a
 * descriptor number reused after the caller closed it); the send path waits for it.
 *
 * Page-cache hints (docs/hints.md) are 'advise' tasks run in the volume's
 * reader threads, under the same gate (gated-file.ts). IO_PRIORITY is handed to
 * every reader thread (workerData), which sets it on itself at start.
 */
import path from 'node:path';
import fs from 'node:fs';
import type { ServerResponse } from 'node:http';
import { Piscina } from 'piscina';
import type { BodyPiece } from '../core/types';
import { isFailure, type ReaderIoPriority, type ReaderResults, type ReaderTask, type ReaderThreadData } from '../../workers/protocol';
import type { HintOutcome } from './file-hints';
import type { IoPriority } from '../native/addon';
import type { Hint, HintSettings } from '../native/hint-policy';
import { hintStatus } from '../native/hint-status';
import { sendBody } from './send-body';
import { readerOf, type DirEntry, type Engine, type OpenedFile, type OpenOptions, type OpOptions, type PathStat, type Resolved, type ResolveOptions, type SendOutcome } from './types';
import { gatesOf, openGatedFile, type GatedFile, type HintOps, type RawFileOps } from './gated-file';
import { currentVolumes, type Volume, type VolumeRegistry } from '../volumes';

export interface WorkerEngineOptions {
  readonly chunkBytes: number;
  readonly threads: number;
  /** Bodies up to this size take the lean path (small-body.ts); 0 or absent: never. */
  readonly smallBodyBytes?: number;
  /** Tasks that may wait for a thread; one more is refused with RS_ERR_QUEUE_FULL. Close tasks are never refused. */
  readonly maxQueue?: number;
  /** Per-volume gates; default: the process's registry installed by serve(), or none (one shared pool). */
  readonly volumes?: VolumeRegistry;
  /** Page-cache hints (HINTS, HINT_*); default off. Active only when the addon is loaded. */
  readonly hints?: HintSettings;
  /** Counts hints by outcome (metrics). */
  readonly countHints?: (outcome: HintOutcome, hints: number) => void;
  /** IO_PRIORITY of every reader thread; undefined leaves them alone. */
  readonly ioPriority?: IoPriority;
}

/** Compiled thread code: dist/workers/reader.js, next to dist/app/engines/. */
export const READER_FILE = path.resolve(__dirname, '../../workers/reader.js');

/** How long closing a pool waits for the tasks its threads are running. */
const CLOSE_GRACE_MS = 2000;

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

  constructor(threads: number, maxQueue: number, threadData: ReaderThreadData = { ioPriority: undefined }) {
    this.#threads = threads;
    this.#maxQueue = maxQueue;
    this.#pool = new Piscina({
      filename: READER_FILE,
      workerData: threadData,
      minThreads: threads,
      maxThreads: threads,
      idleTimeout: Infinity,
      concurrentTasksPerWorker: 1,
      // fds are process-wide and outlive the thread that opened them: by default Node closes
      // every fd a worker opened when it exits, which would fail (EBADF) or, once the number
      // is reused, misdirect the other downloads reading fds that thread happened to open.
      trackUnmanagedFds: false,
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
          // The thread died (or the pool was destroyed) while running this task. A retryable
          // failure: before the headers the route answers 503 + Retry-After, not 500.
          this.#running--;
          this.#pump();
          w.reject(this.#closed ? err : toError({ code: 'RS_ERR_READER_EXITED', message: 'the reader thread exited', syscall: undefined }));
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
    // Let tasks already running finish (a close in a thread killed mid-task is one whose
    // outcome nobody knows), but never wait long for a hung disk.
    const until = Date.now() + CLOSE_GRACE_MS;
    while (this.#running > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 5));
    await this.#pool.destroy();
  }
}

/** IO_PRIORITY as written in the setting: idle, none, be:4, rt:0. */
function ioPriorityText(p: IoPriority): string {
  return p.cls === 'be' || p.cls === 'rt' ? `${p.cls}:${p.level}` : p.cls;
}

export function createWorkerEngine(options: WorkerEngineOptions): Engine {
  const maxQueue = options.maxQueue ?? 10_000;
  const gates = gatesOf(() => options.volumes ?? currentVolumes());
  const { run } = gates;
  // One pool per volume (created on first use), so a hung volume can only ever hold its own
  // threads; without gates (an engine built outside serve()), one shared pool.
  const pools = new Map<Volume | undefined, ReaderPool>();
  const threadData: ReaderThreadData = { ioPriority: options.ioPriority };
  const poolFor = (p: string): ReaderPool => {
    const v = gates.volumeOf(p);
    let pool = pools.get(v);
    if (!pool) {
      pool = new ReaderPool(options.threads, maxQueue, threadData);
      pools.set(v, pool);
    }
    return pool;
  };
  // Start the threads of the volumes known now, so no first request waits for them.
  for (const v of (options.volumes ?? currentVolumes())?.volumes() ?? [undefined]) {
    pools.set(v, new ReaderPool(options.threads, maxQueue, threadData));
  }
  const hints = hintStatus(options.hints ?? { enabled: false }, 'worker');
  const hintSettings = hints.active ? options.hints : undefined;
  // What one reader thread reports after setting IO_PRIORITY (every thread does the same), for /healthz.
  let ioPriority: ReaderIoPriority | undefined;
  if (options.ioPriority) {
    const first = pools.values().next().value;
    first?.run({ op: 'ioprio' }).then(
      (r) => void (ioPriority = r),
      () => undefined,
    );
  }
  const files = new WeakMap<OpenedFile, GatedFile>();
  const send = { smallBodyBytes: options.smallBodyBytes ?? 0 };

  function rawOps(p: string): RawFileOps {
    const pool = poolFor(p);
    const hintOps: HintOps | undefined = hintSettings
      ? {
          options: hintSettings.options,
          advise: (fd, batch) => pool.run({ op: 'advise', fd, hints: batch }).then(() => undefined),
          ...(options.countHints ? { count: options.countHints } : {}),
        }
      : undefined;
    return {
      ...(hintOps ? { hints: hintOps } : {}),
      async read(fd: number, position: number, length: number): Promise<Buffer> {
        const view = await pool.run({ op: 'read', fd, position, length });
        return Buffer.from(view.buffer, view.byteOffset, view.byteLength);
      },
      ...(hintOps
        ? {
            async readWithHints(fd: number, position: number, length: number, hints: readonly Hint[]): Promise<Buffer> {
              const view = await pool.run({ op: 'read', fd, position, length, hints });
              return Buffer.from(view.buffer, view.byteOffset, view.byteLength);
            },
          }
        : {}),
      // fds are process-wide: close through the pool like every other fs call. If the
      // pool was closed before the task started, close from the main thread instead. If
      // the task was running when its thread died, the close may have happened: closing
      // again could close a descriptor number already reused by another open (someone
      // else's file, or libuv's own epoll fd), so the fd is left rather than risk that.
      close: (fd: number): Promise<void> =>
        pool.run({ op: 'close', fd }).then(
          () => undefined,
          (err: { code?: unknown }) => {
            if (err?.code !== 'RS_ERR_POOL_CLOSED') return;
            return new Promise<void>((resolve) => fs.close(fd, () => resolve()));
          },
        ),
    };
  }

  return {
    name: 'worker',
    realpath: (p: string, o?: OpOptions): Promise<string> => run(p, 'realpath', () => poolFor(p).run({ op: 'realpath', path: p }), o),
    resolve: (p: string, o?: ResolveOptions): Promise<Resolved> =>
      run(p, 'resolve', () => poolFor(p).run({ op: 'resolve', path: p, ...(o?.readAhead ? { readAhead: o.readAhead } : {}) }), o).then((r) =>
        // Structured clone turns the read's Buffer into a plain Uint8Array.
        r.readAhead ? { ...r, readAhead: Buffer.from(r.readAhead.buffer, r.readAhead.byteOffset, r.readAhead.byteLength) } : r,
      ),
    stat: (p: string, o?: OpOptions): Promise<PathStat> => run(p, 'stat', () => poolFor(p).run({ op: 'stat', path: p }), o),
    async open(p: string, o?: OpenOptions): Promise<OpenedFile> {
      const file = await openGatedFile(p, gates, () => poolFor(p).run({ op: 'open', path: p }), rawOps(p), options.chunkBytes, o?.budget);
      files.set(file, file);
      return file;
    },
    // The whole listing (readdir + one stat per entry) is one task on the folder's volume.
    list: (p: string, o?: OpOptions): Promise<DirEntry[]> => run(p, 'list', () => poolFor(p).run({ op: 'list', path: p }), o),
    sendBody(file: OpenedFile, body: readonly BodyPiece[], res: ServerResponse): Promise<SendOutcome> {
      // A file that brings its own reader (an open-file cache lease) reads through it.
      const reader = readerOf(file) ?? files.get(file)?.reader;
      if (!reader) return Promise.reject(new Error('sendBody: the file was not opened by this engine'));
      return sendBody(body, reader, file.fd, options.chunkBytes, res, send);
    },
    describe: () => {
      const totals = { threads: 0, running: 0, queued: 0, threadExits: 0 };
      for (const pool of pools.values()) {
        const s = pool.stats();
        for (const k of Object.keys(totals) as (keyof typeof totals)[]) totals[k] += s[k] ?? 0;
      }
      const prio = options.ioPriority ? { ioPriority: { requested: ioPriorityText(options.ioPriority), ...(ioPriority ?? {}) } } : {};
      return { engine: 'worker', chunkBytes: options.chunkBytes, pools: pools.size, ...totals, hints, ...prio };
    },
    close: async () => {
      await Promise.all([...pools.values()].map((pool) => pool.close()));
    },
  };
}

