/**
 * The port every I/O engine implements. Routes call only these methods, so no
 * route ever branches on the mode (stream or worker); cluster mode runs one of
 * these engines in each process.
 *
 * Every method that touches the disk may be slow or hang (a dying volume), so
 * none of them may be called with a synchronous fs API, and each must be
 * cancellable by the caller giving up on its promise without leaking an fd.
 */
import type { ServerResponse } from 'node:http';
import type { BodyPiece, FileMeta } from '../core/types';
import type { ChunkReader } from './chunk-reader';
import type { RequestBudget } from '../volumes/deadline';

export type EngineName = 'stream' | 'worker';

/** What stat() says about a path. Never opens it (stat of a FIFO must not block). */
export interface PathStat {
  readonly kind: 'file' | 'directory' | 'other';
  readonly size: number;
  readonly mtimeNs: bigint;
  /** Device id: the volume the path lives on. */
  readonly dev: number;
  /** Inode number: with dev, which file this is (the open-file cache checks it was not replaced). */
  readonly ino?: bigint;
}

/** A requested path resolved: where it really is (no symlinks left) and what is there. */
export interface Resolved {
  readonly real: string;
  readonly stat: PathStat;
  /** The bytes of `ResolveOptions.readAhead`, read in the same operation (possibly fewer; absent if not made). */
  readonly readAhead?: Buffer;
  /**
   * The open-file cache's early first read (`ResolveOptions.body`), already checked
   * against `stat`: hand it to open() (`OpenOptions.early`), which serves it as the
   * body's first chunk. Opaque to callers.
   */
  readonly early?: EarlyRead;
}

/** See {@link Resolved.early}. */
export interface EarlyRead {
  readonly position: number;
  readonly length: number;
  readonly data: Buffer;
}

export interface ResolveOptions extends OpOptions {
  /**
   * The body a caller expects to send, planned from {@link Engine.guess}: an engine
   * that holds the file open may read its first chunk in the same operation.
   */
  readonly body?: readonly BodyPiece[];
  /** Read these bytes of an open descriptor in the same operation, after the stat (when the engine can). */
  readonly readAhead?: { readonly fd: number; readonly position: number; readonly length: number };
}

/** A regular file opened for reading; meta comes from fstat of this very fd. */
export interface OpenedFile {
  readonly fd: number;
  readonly meta: FileMeta;
  readonly dev: number;
  /** Inode number from the same fstat (absent if the engine does not report it). */
  readonly ino?: bigint;
  /** Idempotent. */
  close(): Promise<void>;
}

/**
 * An open file that brings its own ChunkReader: engines send its body through
 * it (gated reads, a prefetched first chunk, a cached descriptor's lease).
 */
export interface ReaderFile extends OpenedFile {
  readonly reader: ChunkReader;
}

export function readerOf(file: OpenedFile): ChunkReader | undefined {
  const r = (file as Partial<ReaderFile>).reader;
  return r !== undefined && typeof r.read === 'function' ? r : undefined;
}

export interface DirEntry {
  readonly name: string;
  readonly kind: 'file' | 'directory' | 'other';
  /** The entry itself is a symlink (its kind/size are the target's); the listing checks where it points. */
  readonly symlink: boolean;
  readonly size: number;
  readonly mtimeNs: bigint;
}

/** How sending a body ended. `bytes` counts body bytes handed to the socket. */
export type SendOutcome =
  | { readonly ok: true; readonly bytes: number }
  | {
      readonly ok: false;
      readonly bytes: number;
      /** aborted: the client went away; short-read: the file shrank; io-error / timeout: the disk failed. */
      readonly reason: 'aborted' | 'short-read' | 'io-error' | 'timeout';
    };

/** What a request hands every operation it starts before its status line. */
export interface OpOptions {
  /** The request's budget (app/volumes/deadline.ts): the operation fails once it is spent. */
  readonly budget?: RequestBudget;
}

export interface OpenOptions extends OpOptions {
  /**
   * The plan's body, when known: decorators may choose how to open by it (the
   * open-file cache lends a shared descriptor only to bodies that need no
   * per-download page-cache hints).
   */
  readonly body?: readonly BodyPiece[];
  /** The early read that resolve() returned for this path. */
  readonly early?: EarlyRead;
}

export interface Engine {
  readonly name: EngineName;
  /** fs.realpath: resolves symlinks so the caller can check the result stays under the root. */
  realpath(path: string, opts?: OpOptions): Promise<string>;
  /**
   * realpath, then stat of the result: what the route needs of a requested path,
   * in one operation (one pool hop where the engine can: docs/performance.md).
   * Rejects with the fs error of the step that failed; its `syscall` is 'realpath'
   * when the path itself could not be resolved.
   */
  resolve(path: string, opts?: ResolveOptions): Promise<Resolved>;
  /**
   * What the last resolve() of this path found, while that file is still held open
   * (the open-file cache): no I/O, only a guess to plan with, so resolve() can read
   * the body's first chunk in the same operation. Undefined when there is none.
   */
  guess?(path: string): Resolved | undefined;
  /** fs.stat (follows symlinks). Rejects with the fs error (code ENOENT, EACCES, ...). */
  stat(path: string, opts?: OpOptions): Promise<PathStat>;
  /**
   * Opens a regular file read-only with O_NOFOLLOW | O_NONBLOCK (so a FIFO swapped in
   * after stat cannot block), then fstats the fd. Rejects with code 'ENOTREG'
   * (and closes the fd) if it is not a regular file.
   */
  open(path: string, opts?: OpenOptions): Promise<OpenedFile>;
  /** Lists a directory with one stat per entry (symlinks followed; broken ones omitted). */
  list(path: string, opts?: OpOptions): Promise<DirEntry[]>;
  /**
   * Writes the body pieces to `res`, whose status and headers the caller has
   * already set (not necessarily flushed). Respects back-pressure. If the body
   * cannot be completed (file shrank, read failed, client aborted) it destroys
   * the response so the client sees a short body, never padding. It never
   * closes `file`; the caller does, after the promise settles.
   */
  sendBody(file: OpenedFile, body: readonly BodyPiece[], res: ServerResponse): Promise<SendOutcome>;
  /** A line for /healthz. */
  describe(): Record<string, unknown>;
  /** Releases threads and descriptors; called once at shutdown. */
  close(): Promise<void>;
}
