/**
 * Reader thread of the worker engine (run by piscina, one task at a time per
 * thread). Every filesystem call here is synchronous ON PURPOSE: the point of
 * the worker engine is that disk I/O blocks these threads, not libuv's
 * threadpool (async fs from a worker thread would still queue on the one
 * process-wide libuv pool). This file is the only place the worker engine
 * touches the disk, so a per-volume gate can wrap `run` below.
 *
 * Chunks are allocated here and transferred (Piscina.move), never copied.
 *
 * Page-cache hints ('advise') run here too, with the addon's synchronous
 * fadvise: WILLNEED blocks while it submits I/O, which is this thread's job.
 * IO_PRIORITY (workerData) is set once when the thread starts, for this thread
 * only (ioprio_set names the calling thread).
 *
 * TEST-ONLY hook: RS_TEST_CRASH_READER_AT=<byte offset> makes the thread call
 * process.exit(1) (which ends this thread only) when asked to read at exactly
 * that offset, so tests can check a dying reader thread ends the response
 * short and is replaced. Never set it in production.
 */
import fs from 'node:fs';
import path from 'node:path';
import { move, workerData } from 'piscina';
import { addon } from '../app/native/addon';
import type { Hint } from '../app/native/hint-policy';
import { LISTING_LIMIT, NotRegularFileError, resolvePathSync, toPathStat, type OpenedRaw } from '../app/engines/fs-ops';
import type { DirEntry, PathStat } from '../app/engines/types';
import type { ReaderFailure, ReaderIoPriority, ReaderTask, ReaderThreadData } from './protocol';

// Same flags as fs-ops openRegular (not exported there): a FIFO swapped in after stat cannot block.
const OPEN_FLAGS = fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK;

const crashSetting = process.env['RS_TEST_CRASH_READER_AT'];
const CRASH_AT = crashSetting !== undefined && /^\d+$/.test(crashSetting) ? Number(crashSetting) : -1;

const messageOf = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/** Sets IO_PRIORITY on this thread at start; returns why it failed, if it did. */
function applyIoPriority(data: Partial<ReaderThreadData> | undefined): string | undefined {
  const wanted = data?.ioPriority;
  if (!wanted) return undefined;
  if (!addon) return 'native addon not loaded';
  try {
    addon.ioprioSet(wanted.cls, wanted.level);
    return undefined;
  } catch (err) {
    return messageOf(err);
  }
}

const ioPriorityError = applyIoPriority(workerData as Partial<ReaderThreadData> | undefined);

/** This thread's I/O priority as the kernel reports it now. */
function readIoPriority(): ReaderIoPriority {
  if (!addon) return { reading: undefined, error: ioPriorityError ?? 'native addon not loaded' };
  try {
    return { reading: addon.ioprioGet(), error: ioPriorityError };
  } catch (err) {
    return { reading: undefined, error: ioPriorityError ?? messageOf(err) };
  }
}

/** Every hint is tried; the first failure is reported (each is independent advice). */
function adviseSync(fd: number, hints: readonly Hint[]): null {
  if (!addon) throw Object.assign(new Error('native addon not loaded in the reader thread'), { code: 'ENOTSUP', syscall: 'posix_fadvise' });
  let first: unknown;
  for (const h of hints) {
    try {
      addon.fadvise(fd, h.offset, h.length, h.advice);
    } catch (err) {
      first ??= err;
    }
  }
  if (first !== undefined) throw first;
  return null;
}

function kindOf(st: fs.BigIntStats): DirEntry['kind'] {
  if (st.isFile()) return 'file';
  if (st.isDirectory()) return 'directory';
  return 'other';
}

function statPathSync(p: string): PathStat {
  return toPathStat(fs.statSync(p, { bigint: true }));
}

/** The synchronous twin of fs-ops openRegular: open, fstat the fd, close it again unless it is a regular file. */
function openRegularSync(p: string): OpenedRaw {
  const fd = fs.openSync(p, OPEN_FLAGS);
  let st: fs.BigIntStats;
  try {
    st = fs.fstatSync(fd, { bigint: true });
  } catch (err) {
    fs.closeSync(fd);
    throw err;
  }
  if (!st.isFile()) {
    fs.closeSync(fd);
    throw new NotRegularFileError();
  }
  return { fd, meta: { size: Number(st.size), mtimeNs: st.mtimeNs }, dev: Number(st.dev), ino: st.ino };
}

function listSync(dir: string): DirEntry[] {
  const dirents = fs.readdirSync(dir, { withFileTypes: true }).slice(0, LISTING_LIMIT);
  const entries: DirEntry[] = [];
  for (const d of dirents) {
    try {
      const st = fs.statSync(path.join(dir, d.name), { bigint: true });
      entries.push({ name: d.name, kind: kindOf(st), size: Number(st.size), mtimeNs: st.mtimeNs, symlink: d.isSymbolicLink() });
    } catch {
      // a broken symlink or a file removed meanwhile is simply not listed
    }
  }
  return entries;
}

function readSync(fd: number, position: number, length: number): unknown {
  if (position === CRASH_AT) process.exit(1);
  // allocUnsafeSlow: an unpooled, uninitialised ArrayBuffer of its own, so it can be transferred.
  const buf = Buffer.allocUnsafeSlow(length);
  const n = fs.readSync(fd, buf, 0, length, position);
  return move(new Uint8Array(buf.buffer, buf.byteOffset, n));
}

function run(task: ReaderTask): unknown {
  switch (task.op) {
    case 'read':
      if (task.hints) {
        try {
          adviseSync(task.fd, task.hints);
        } catch {
          // advice only: the read is what the client waits for
        }
      }
      return readSync(task.fd, task.position, task.length);
    case 'stat':
      return statPathSync(task.path);
    case 'realpath':
      return fs.realpathSync.native(task.path);
    case 'resolve':
      return resolvePathSync(task.path, task.readAhead);
    case 'open':
      return openRegularSync(task.path);
    case 'list':
      return listSync(task.path);
    case 'close':
      fs.closeSync(task.fd);
      return null;
    case 'advise':
      return adviseSync(task.fd, task.hints);
    case 'ioprio':
      return readIoPriority();
  }
}

export default function reader(task: ReaderTask): unknown {
  try {
    return run(task);
  } catch (err) {
    const e = err as { code?: unknown; message?: unknown; syscall?: unknown };
    const failure: ReaderFailure = {
      failed: true,
      code: typeof e.code === 'string' ? e.code : undefined,
      message: typeof e.message === 'string' ? e.message : String(err),
      syscall: typeof e.syscall === 'string' ? e.syscall : undefined,
    };
    return failure;
  }
}
