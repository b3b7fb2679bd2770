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
 * (resolve() or stat(), handed over through `fresh`), or our own if another
 * request consumed it.
 *
 * With page-cache hints active (docs/hints.md) a descriptor is shared only by
 * bodies that need no per-download hints: each file span one read (at most
 * `sharedBodyBytes`). Hints such as SEQUENTIAL and RANDOM are per descriptor,
 * so a download that plans them (a big range, a resume) gets a private one
 * through the inner engine; a cached descriptor gets its open-time hints once,
 * from the first body that opened it (a small range: RANDOM, so no readahead
 * beyond each range), which suits every body it is lent to.
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
import type { Prefetching, RequestBudget } from '../volumes';
import { readerOf, type DirEntry, type Engine, type OpenedFile, type OpenOptions, type OpOptions, type PathStat, type ReaderFile, type Resolved, type ResolveOptions, type EarlyRead, type SendOutcome } from './types';

export interface OpenFileCacheOptions {
  /** Entries kept at most (0 turns the cache off: the inner engine is returned as is). */
  readonly max: number;
  /** An entry no request has used for this long is closed. */
  readonly idleMs: number;
  /** Prefetch length (the engine's chunk size), as the inner engine's files do. */
  readonly chunkBytes: number;
  /**
   * Set when the inner engine applies page-cache hints: only bodies whose every file
   * span is at most this long share a cached descriptor; others open their own.
   */
  readonly sharedBodyBytes?: number;
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
  /** Opens passed to the inner engine because the body needs per-download hints. */
  private: number;
  /** Hits whose first chunk was read in the same operation as the resolve (one pool hop). */
  early: number;
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
  const stats: OpenFileCacheStats = { entries: 0, hits: 0, misses: 0, invalidations: 0, evictions: 0, private: 0, early: 0 };
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

  /** A body the shared descriptor may serve (always, unless hints are active). */
  const mayShare = (body: readonly BodyPiece[] | undefined): boolean => {
    const limit = options.sharedBodyBytes;
    if (limit === undefined) return true;
    return body !== undefined && body.every((b) => b.kind !== 'file' || b.end - b.start + 1 <= limit);
  };

  /** The body's first read: where, and the size the send path will ask for (chunk-size.ts). */
  const firstRead = (body: readonly BodyPiece[]): { position: number; length: number } | undefined => {
    const first = body.find((b) => b.kind === 'file');
    if (!first || first.kind !== 'file' || first.end < first.start) return undefined;
    return { position: first.start, length: Math.min(chunkSizeAt(0, options.chunkBytes), first.end - first.start + 1) };
  };

  /**
   * `opener`: this request opened the entry. With hints active, its prefetch is the
   * inner file's own, which sends the body's open-time hints on the new descriptor.
   * `early`: the body's first chunk, already read with the resolve.
   */
  function lease(e: Entry, opener = false, early?: EarlyRead): ReaderFile & { prefetch(body: readonly BodyPiece[]): Promise<void> } {
    e.refs++;
    e.lastUsed = Date.now();
    const shared = e.file.reader;
    // Each request has its own prefetched chunk: requests sharing the descriptor never take each other's.
    let prefetched: { position: number; length: number; data: Promise<Buffer> } | undefined = early
      ? { position: early.position, length: early.length, data: Promise.resolve(early.data) }
      : undefined;
    let done = false;
    const reader: ChunkReader = {
      read(fd: number, position: number, length: number, signal?: AbortSignal, budget?: RequestBudget, later?: boolean): Promise<Buffer> {
        const pre = prefetched;
        if (pre && pre.position === position && pre.length === length) {
          prefetched = undefined;
          return pre.data;
        }
        return shared.read(fd, position, length, signal, budget, later);
      },
    };
    return {
      fd: e.file.fd,
      meta: e.file.meta,
      dev: e.file.dev,
      ...(e.file.ino !== undefined ? { ino: e.file.ino } : {}),
      reader,
      async prefetch(body: readonly BodyPiece[], budget?: RequestBudget): Promise<void> {
        const own = (e.file as Partial<Prefetching>).prefetch;
        if (opener && options.sharedBodyBytes !== undefined && typeof own === 'function') {
          opener = false;
          // Its first chunk waits in the inner file for the first matching read (ours, or
          // a concurrent borrower's asking for the same bytes: the same data either way).
          return own.call(e.file, body, budget);
        }
        const first = firstRead(body);
        if (!first) return;
        if (prefetched && prefetched.position === first.position && prefetched.length === first.length) return; // read early
        const data = shared.read(e.file.fd, first.position, first.length, undefined, budget);
        prefetched = { ...first, data };
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

  const remember = (p: string, st: PathStat): void => {
    if (fresh.size >= FRESH_MAX) fresh.clear();
    fresh.set(p, st);
  };
  // Requested path -> the real path its last resolve found: what guess() answers from.
  const realOf = new Map<string, string>();
  // Early reads handed out by resolve(), and the entry each was read from.
  const earlyFrom = new WeakMap<EarlyRead, Entry>();

  async function statOf(p: string, o?: OpOptions): Promise<PathStat> {
    const st = fresh.get(p);
    if (st !== undefined) {
      fresh.delete(p);
      return st;
    }
    return inner.stat(p, o);
  }

  const engine: Engine & { cacheStats(): OpenFileCacheStats } = {
    name: inner.name,
    realpath: (p, o) => inner.realpath(p, o),
    guess(p: string): Resolved | undefined {
      const real = realOf.get(p);
      const e = real === undefined ? undefined : entries.get(real);
      if (!e || real === undefined) return undefined;
      const f = e.file;
      return { real, stat: { kind: 'file', size: f.meta.size, mtimeNs: f.meta.mtimeNs, dev: f.dev, ...(f.ino !== undefined ? { ino: f.ino } : {}) } };
    },
    async resolve(p: string, o?: ResolveOptions): Promise<Resolved> {
      // With the body planned from guess(), the inner engine reads its first chunk from the
      // cached descriptor in the same operation; kept only if the stat shows the same file.
      const real = o?.body && !closed && mayShare(o.body) ? realOf.get(p) : undefined;
      const e = real === undefined ? undefined : entries.get(real);
      const ahead = e && o?.body ? firstRead(o.body) : undefined;
      let r: Resolved;
      if (e && ahead) {
        e.refs++; // the descriptor stays open while the read is in the kernel
        try {
          r = await inner.resolve(p, { ...(o?.budget ? { budget: o.budget } : {}), readAhead: { fd: e.file.fd, ...ahead } });
        } finally {
          e.refs--;
          release(e);
        }
      } else {
        r = await inner.resolve(p, o?.budget ? { budget: o.budget } : undefined);
      }
      if (r.stat.kind !== 'file') return { real: r.real, stat: r.stat };
      remember(r.real, r.stat);
      if (realOf.size >= FRESH_MAX) realOf.clear();
      realOf.set(p, r.real);
      if (e && ahead && r.readAhead && !e.retired && r.real === e.path && sameFile(r.stat, e.file)) {
        const early: EarlyRead = { ...ahead, data: r.readAhead };
        earlyFrom.set(early, e);
        return { real: r.real, stat: r.stat, early };
      }
      return { real: r.real, stat: r.stat };
    },
    async stat(p: string, o?: OpOptions): Promise<PathStat> {
      const st = await inner.stat(p, o);
      if (st.kind === 'file') remember(p, st);
      return st;
    },
    async open(p: string, o?: OpenOptions): Promise<OpenedFile> {
      if (closed) return inner.open(p, o);
      if (!mayShare(o?.body)) {
        stats.private++;
        fresh.delete(p);
        return inner.open(p, o);
      }
      const st = await statOf(p, o);
      const hit = entries.get(p);
      if (hit && sameFile(st, hit.file)) {
        stats.hits++;
        entries.delete(p); // re-insert: most recently used last
        entries.set(p, hit);
        const early = o?.early && earlyFrom.get(o.early) === hit ? o.early : undefined;
        if (early) stats.early++;
        return lease(hit, false, early);
      }
      if (hit) {
        stats.invalidations++;
        retire(hit);
      }
      stats.misses++;
      const file = await inner.open(p, o);
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
      return lease(e, true);
    },
    list: (p: string, o?: OpOptions): Promise<DirEntry[]> => inner.list(p, o),
    sendBody: (file: OpenedFile, body: readonly BodyPiece[], res: ServerResponse): Promise<SendOutcome> =>
      inner.sendBody(file, body, res),
    describe: () => ({ ...inner.describe(), openFileCache: engine.cacheStats() }),
    cacheStats: () => ({ ...stats, entries: entries.size }),
    async close(): Promise<void> {
      closed = true;
      clearInterval(sweep);
      const idle = [...entries.values()].filter((e) => e.refs === 0);
      for (const e of [...entries.values()]) retire(e);
      fresh.clear();
      realOf.clear();
      // The descriptors' closes run in the inner engine (a reader thread): before it goes.
      await Promise.allSettled(idle.map((e) => e.file.close()));
      await inner.close();
    },
  };
  return engine;
}
