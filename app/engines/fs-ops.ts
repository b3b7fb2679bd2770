/**
 * The filesystem operations every engine needs, written once over node:fs.
 * The stream engine calls them on libuv's threadpool; the worker engine calls
 * the same functions inside its reader threads.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { FileMeta } from '../core/types';
import type { BufferPool } from './buffer-pool';
import { SMALL_CHUNK_BYTES } from './chunk-size';
import type { DirEntry, PathStat, Resolved, ResolveOptions } from './types';
import { addon } from '../native/addon';
import type { RequestBudget } from '../volumes/deadline';

type BigStats = fs.BigIntStats;

/** Gate refusals and timeouts (RS_ERR_*): the listing fails (503) rather than silently dropping entries. */
function isVolumeFailure(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('RS_ERR_');
}

/** Cap on entries a listing reads, so one huge directory cannot eat memory. */
export const LISTING_LIMIT = 10_000;

function kindOf(st: BigStats | fs.Stats): PathStat['kind'] {
  if (st.isFile()) return 'file';
  if (st.isDirectory()) return 'directory';
  return 'other';
}

export function toPathStat(st: BigStats): PathStat {
  return { kind: kindOf(st), size: Number(st.size), mtimeNs: st.mtimeNs, dev: Number(st.dev), ino: st.ino };
}

export async function statPath(p: string): Promise<PathStat> {
  return toPathStat(await fs.promises.stat(p, { bigint: true }));
}

/**
 * realpath then stat: one threadpool task with the addon's resolveStat, two without it.
 * With `readAhead`, the addon also reads those bytes in the same task (a guess: without
 * the addon, or if the read fails, there is simply no `readAhead` in the result).
 */
export async function resolvePath(p: string, readAhead?: ResolveOptions['readAhead']): Promise<Resolved> {
  const native = addon?.resolveStat;
  if (native) {
    const buf = readAhead ? Buffer.allocUnsafe(readAhead.length) : undefined;
    const r = readAhead && buf ? await native.call(addon, p, readAhead.fd, readAhead.position, buf) : await native.call(addon, p);
    const stat: PathStat = { kind: r.kind, size: r.size, mtimeNs: r.mtimeNs, dev: r.dev, ino: r.ino };
    const n = r.bytesRead ?? -1;
    return buf && n >= 0 ? { real: r.real, stat, readAhead: buf.subarray(0, n) } : { real: r.real, stat };
  }
  const real = await fs.promises.realpath(p);
  return { real, stat: await statPath(real) };
}

/** The synchronous twin of resolvePath, for reader threads (the read is a copy across the thread boundary). */
export function resolvePathSync(p: string, readAhead?: ResolveOptions['readAhead']): Resolved {
  const real = fs.realpathSync.native(p);
  const stat = toPathStat(fs.statSync(real, { bigint: true }));
  if (!readAhead) return { real, stat };
  try {
    // Its own ArrayBuffer: structured clone copies a view's whole buffer, never just the view.
    const buf = Buffer.allocUnsafeSlow(readAhead.length);
    const n = fs.readSync(readAhead.fd, buf, 0, readAhead.length, readAhead.position);
    return { real, stat, readAhead: buf.subarray(0, n) };
  } catch {
    return { real, stat };
  }
}

export class NotRegularFileError extends Error {
  readonly code = 'ENOTREG';
  constructor() {
    super('not a regular file');
  }
}

export interface OpenedRaw {
  readonly fd: number;
  readonly meta: FileMeta;
  readonly dev: number;
  readonly ino?: bigint;
}

const OPEN_FLAGS_EXTRA = fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK;
const OPEN_FLAGS = fs.constants.O_RDONLY | OPEN_FLAGS_EXTRA;

/**
 * Opens a regular file and fstats the descriptor; closes it again if it is anything else.
 * One threadpool task through the addon's openStat, two without it.
 */
export function openRegular(p: string): Promise<OpenedRaw> {
  const native = addon?.openStat;
  if (native) {
    return native.call(addon, p, OPEN_FLAGS_EXTRA).then((r) => {
      if (r.kind !== 'file') return new Promise<never>((_resolve, reject) => fs.close(r.fd, () => reject(new NotRegularFileError())));
      return { fd: r.fd, meta: { size: r.size, mtimeNs: r.mtimeNs }, dev: r.dev, ino: r.ino };
    });
  }
  return new Promise((resolve, reject) => {
    fs.open(p, OPEN_FLAGS, (err, fd) => {
      if (err) return reject(err);
      fs.fstat(fd, { bigint: true }, (statErr, st) => {
        if (statErr || !st.isFile()) {
          fs.close(fd, () => reject(statErr ?? new NotRegularFileError()));
          return;
        }
        resolve({ fd, meta: { size: Number(st.size), mtimeNs: st.mtimeNs }, dev: Number(st.dev), ino: st.ino });
      });
    });
  });
}

export function closeFd(fd: number): Promise<void> {
  return new Promise((resolve) => fs.close(fd, () => resolve()));
}

/**
 * Reads of more than this go into the pool's buffers (when there is a pool).
 * Smaller ones serve small bodies, the prefetched first chunk and zero-copy's
 * first chunk, whose senders do not give buffers back; they take a fresh one.
 */
export const POOLED_READ_MIN_BYTES = SMALL_CHUNK_BYTES;

/**
 * One positioned read, trimmed to the bytes actually read, into a fresh buffer
 * or, for a chunk the body pump reads (more than POOLED_READ_MIN_BYTES), one of
 * `pool`'s, which the pump gives back.
 */
export function readChunk(fd: number, position: number, length: number, pool?: BufferPool): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const pooled = pool !== undefined && length <= pool.size && length > POOLED_READ_MIN_BYTES;
    const buf = pooled ? pool.take(length) : Buffer.allocUnsafe(length);
    fs.read(fd, buf, 0, length, position, (err, n) => {
      if (err) {
        if (pooled) pool.give(buf);
        reject(err);
      } else if (n === length) {
        resolve(buf.length === length ? buf : buf.subarray(0, length));
      } else if (pooled && pool.owns(buf)) {
        // A short read (the file shrank): no view of a pool slot may outlive the Buffer lent for it.
        const copy = Buffer.from(buf.subarray(0, n));
        pool.give(buf);
        resolve(copy);
      } else {
        resolve(buf.subarray(0, n));
      }
    });
  });
}

/**
 * Runs one fs operation on a path (the stream engine passes its per-volume
 * gate). Errors it raises that mean "the volume is failing" (see
 * app/volumes isUnavailable) fail the listing instead of hiding the entry.
 */
export type OpRunner = <T>(p: string, op: 'list' | 'stat', fn: () => Promise<T>, opts?: { budget?: RequestBudget }) => Promise<T>;

const direct: OpRunner = (_p, _op, fn) => fn();

export async function listDirectory(dir: string, run: OpRunner = direct, budget?: RequestBudget): Promise<DirEntry[]> {
  const opts = { budget };
  const dirents = (await run(dir, 'list', () => fs.promises.readdir(dir, { withFileTypes: true }), opts)).slice(0, LISTING_LIMIT);
  const entries: DirEntry[] = [];
  // Bounded parallelism: a listing must not flood the pool that downloads share.
  const batch = 16;
  for (let i = 0; i < dirents.length; i += batch) {
    const part = await Promise.all(
      dirents.slice(i, i + batch).map(async (d): Promise<DirEntry | undefined> => {
        const entry = path.join(dir, d.name);
        try {
          const st = await run(entry, 'stat', () => fs.promises.stat(entry, { bigint: true }), opts);
          return { name: d.name, kind: kindOf(st), size: Number(st.size), mtimeNs: st.mtimeNs, symlink: d.isSymbolicLink() };
        } catch (err) {
          if (isVolumeFailure(err)) throw err;
          return undefined; // a broken symlink or a file removed meanwhile is simply not listed
        }
      }),
    );
    for (const e of part) if (e) entries.push(e);
  }
  return entries;
}
