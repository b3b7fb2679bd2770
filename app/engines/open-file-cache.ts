/**
 * An open-file cache in front of any Engine (nginx's open_file_cache): the
 * descriptor of a hot file stays open and is lent to each request that asks
 * for it, so a small range costs a stat and a read instead of open, fstat,
 * read and close.
 *
 * A descriptor is only ever reused after a stat of the path taken for this
 * request shows the same dev, inode, size and mtime as the cached fstat: a
 * file replaced by rename (new inode) or changed in place (new size or mtime)
 * is reopened, so its bytes are never served under the validators of another
 * version. The stat is the one the route already takes right before open()
 * (handed over through `fresh`), or our own if another request consumed it.
 *
 * Bounded: at most `max` entries (least recently used evicted first) and an
 * entry unused for `idleMs` is closed. An evicted or replaced entry closes its
 * descriptor when the last request using it releases it; its reads go through
 * the inner engine's gated file, whose close waits for reads still in the
 * kernel, so a descriptor number is never closed under a pending read.
 */
import type { ServerResponse } from 'node:http';
import type { BodyPiece } from '../core/types';
import type { ChunkReader } from './chunk-reader';
import { chunkSizeAt } from './chunk-size';
import { readerOf, type DirEntry, type Engine, type OpenedFile, type PathStat, type ReaderFile, type SendOutcome } from './types';

export interface OpenFileCacheOptions {
  /** Entries kept at most (0 turns the cache off: the inner engine is returned as is). */
  readonly max: number;
  /** An entry no request has used for this long is closed. */
  readonly idleMs: number;
  /** Prefetch length (the engine's chunk size), as the inner engine's files do. */
  readonly chunkBytes: number;
}

interface Entry {
  readonly path: string;
  readonly file: ReaderFile;
  refs: number;
  lastUsed: number;
  /** Out of the map (evicted, replaced, idle): close once refs reach 0. */
  retired: boolean;
}

export interface OpenFileCacheStats {
  entries: number;
  hits: number;
  misses: number;
  /** Entries dropped because the file changed or was replaced. */
  invalidations: number;
  evictions: number;
}

/** Recently taken stats not yet used by an open(): bounded so HEADs and 304s cannot grow it. */
const FRESH_MAX = 1024;

function sameFile(st: PathStat, file: OpenedFile): boolean {
  return (
    st.kind === 'file' &&
    st.ino !== undefined &&
    st.ino === file.ino &&
    st.dev === file.dev &&
    st.size === file.meta.size &&
    st.mtimeNs === file.meta.mtimeNs
  );
}

export function withOpenFileCache(inner: Engine, options: OpenFileCacheOptions): Engine & { cacheStats(): OpenFileCacheStats } {
  const entries = new Map<string, Entry>(); // insertion order = LRU order (a hit re-inserts)
  const fresh = new Map<string, PathStat>();
  const stats: OpenFileCacheStats = { entries: 0, hits: 0, misses: 0, invalidations: 0, evictions: 0 };
  let closed = false;

  const release = (e: Entry): void => {
    if (e.retired && e.refs === 0) void e.file.close();
  };
  const retire = (e: Entry): void => {
    if (entries.get(e.path) === e) entries.delete(e.path);
    e.retired = true;
    release(e);
  };

  const sweep = setInterval(() => {
    const cutoff = Date.now() - options.idleMs;
    for (const e of entries.values()) if (e.refs === 0 && e.lastUsed < cutoff) retire(e);
  }, Math.max(50, Math.floor(options.idleMs / 2)));
  sweep.unref();

  function lease(e: Entry): ReaderFile & { prefetch(body: readonly BodyPiece[]): Promise<void> } {
    e.refs++;
    e.lastUsed = Date.now();
    const shared = e.file.reader;
    // Each request has its own prefetched chunk: requests sharing the descriptor never take each other's.
    let prefetched: { position: number; length: number; data: Promise<Buffer> } | undefined;
    let done = false;
    const reader: ChunkReader = {
      read(fd: number, position: number, length: number, signal?: AbortSignal, later?: boolean): Promise<Buffer> {
        const pre = prefetched;
        if (pre && pre.position === position && pre.length === length) {
          prefetched = undefined;
          return pre.data;
        }
        return shared.read(fd, position, length, signal, later);
      },
    };
    return {
      fd: e.file.fd,
      meta: e.file.meta,
      dev: e.file.dev,
      ...(e.file.ino !== undefined ? { ino: e.file.ino } : {}),
      reader,
      async prefetch(body: readonly BodyPiece[]): Promise<void> {
        const first = body.find((b) => b.kind === 'file');
        if (!first || first.kind !== 'file' || first.end < first.start) return;
        // The size the body's first file read will ask for (chunk-size.ts), so it is served from here.
        const length = Math.min(chunkSizeAt(0, options.chunkBytes), first.end - first.start + 1);
        const data = shared.read(e.file.fd, first.start, length);
        prefetched = { position: first.start, length, data };
        await data;
      },
      close(): Promise<void> {
        if (done) return Promise.resolve();
        done = true;
        e.refs--;
        e.lastUsed = Date.now();
        release(e);
        return Promise.resolve();
      },
    };
  }

  async function statOf(p: string): Promise<PathStat> {
    const st = fresh.get(p);
    if (st !== undefined) {
      fresh.delete(p);
      return st;
    }
    return inner.stat(p);
  }

  const engine: Engine & { cacheStats(): OpenFileCacheStats } = {
    name: inner.name,
    realpath: (p) => inner.realpath(p),
    async stat(p: string): Promise<PathStat> {
      const st = await inner.stat(p);
      if (st.kind === 'file') {
        if (fresh.size >= FRESH_MAX) fresh.clear();
        fresh.set(p, st);
      }
      return st;
    },
    async open(p: string): Promise<OpenedFile> {
      if (closed) return inner.open(p);
      const st = await statOf(p);
      const hit = entries.get(p);
      if (hit && sameFile(st, hit.file)) {
        stats.hits++;
        entries.delete(p); // re-insert: most recently used last
        entries.set(p, hit);
        return lease(hit);
      }
      if (hit) {
        stats.invalidations++;
        retire(hit);
      }
      stats.misses++;
      const file = await inner.open(p);
      const reader = readerOf(file);
      // An engine whose files carry no reader or inode cannot be cached safely: pass it through.
      if (!reader || file.ino === undefined || closed) return file;
      const e: Entry = { path: p, file: file as ReaderFile, refs: 0, lastUsed: Date.now(), retired: false };
      const previous = entries.get(p);
      if (previous) retire(previous); // a concurrent miss on the same path got there first
      entries.set(p, e);
      while (entries.size > options.max) {
        const oldest = entries.values().next().value as Entry;
        stats.evictions++;
        retire(oldest);
      }
      return lease(e);
    },
    list: (p: string): Promise<DirEntry[]> => inner.list(p),
    sendBody: (file: OpenedFile, body: readonly BodyPiece[], res: ServerResponse): Promise<SendOutcome> =>
      inner.sendBody(file, body, res),
    describe: () => ({ ...inner.describe(), openFileCache: engine.cacheStats() }),
    cacheStats: () => ({ ...stats, entries: entries.size }),
    async close(): Promise<void> {
      closed = true;
      clearInterval(sweep);
      for (const e of [...entries.values()]) retire(e);
      fresh.clear();
      await inner.close();
    },
  };
  return engine;
}
