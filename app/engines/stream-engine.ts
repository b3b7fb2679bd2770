/**
 * The async-stream engine: every file operation runs on libuv's threadpool
 * from the main thread, and bodies are sent by one BodyStream per response.
 *
 * Isolation (docs/isolation.md): every operation of a request goes through the
 * gate of the volume its path lives on (app/volumes), which caps the pool
 * threads one volume can hold and puts a deadline on each operation. A read
 * that misses its deadline fails the response (RS_ERR_READ_TIMEOUT) while the
 * kernel keeps the thread; the fd is closed only once every read on it has
 * really returned, so a late read can never land on a reused descriptor.
 */
import type { ServerResponse } from 'node:http';
import fs from 'node:fs';
import type { BodyPiece } from '../core/types';
import type { ChunkReader } from './body-stream';
import { closeFd, listDirectory, openRegular, readChunk, statPath, type OpenedRaw } from './fs-ops';
import { sendBody } from './send-body';
import type { DirEntry, Engine, OpenedFile, PathStat, SendOutcome } from './types';
import { currentVolumes, type Prefetching, type RunOptions, type VolumeOp, type VolumeRegistry } from '../volumes';

export interface StreamEngineOptions {
  readonly chunkBytes: number;
  /** Per-volume gates; default: the process's registry installed by serve(), or none (ungated). */
  readonly volumes?: VolumeRegistry;
}

type Runner = <T>(p: string, op: VolumeOp, fn: () => Promise<T>, opts?: RunOptions<T>) => Promise<T>;

const ungated: Runner = (_p, _op, fn) => fn();

interface FileState {
  readonly path: string;
  /** Kernel reads not yet returned (deadline or not). */
  readonly pending: Set<Promise<unknown>>;
  prefetched: { position: number; length: number; data: Promise<Buffer> } | undefined;
}

export function createStreamEngine(options: StreamEngineOptions): Engine {
  const volumes = (): VolumeRegistry | undefined => options.volumes ?? currentVolumes();
  const run: Runner = (p, op, fn, opts) => {
    const v = volumes();
    return v ? v.run(p, op, fn, opts) : ungated(p, op, fn, opts);
  };
  const files = new WeakMap<OpenedFile, FileState>();

  function closeOnVolume(p: string, fd: number): Promise<void> {
    return run(p, 'close', () => closeFd(fd), { noDeadline: true, mustRun: true });
  }

  function readOn(state: FileState, fd: number, position: number, length: number): Promise<Buffer> {
    return run(state.path, 'read', () => {
      const raw = readChunk(fd, position, length);
      state.pending.add(raw);
      const drop = (): void => void state.pending.delete(raw);
      raw.then(drop, drop);
      return raw;
    });
  }

  function readerFor(file: OpenedFile): ChunkReader {
    const state = files.get(file);
    if (!state) return { read: readChunk };
    return {
      read(fd: number, position: number, length: number): Promise<Buffer> {
        const pre = state.prefetched;
        if (pre && pre.position === position && pre.length === length) {
          state.prefetched = undefined;
          return pre.data;
        }
        return readOn(state, fd, position, length);
      },
    };
  }

  return {
    name: 'stream',
    realpath: (p: string) => run(p, 'realpath', () => fs.promises.realpath(p)),
    stat: (p: string): Promise<PathStat> => run(p, 'stat', () => statPath(p)),
    async open(p: string): Promise<OpenedFile> {
      const raw: OpenedRaw = await run(p, 'open', () => openRegular(p), {
        // Opened after the caller gave up: release the descriptor.
        late: (late: OpenedRaw) => void closeOnVolume(p, late.fd),
      });
      const volume = volumes()?.of(p);
      if (volume) volume.lastFile = p; // what the probe reads if this volume degrades
      const state: FileState = { path: p, pending: new Set(), prefetched: undefined };
      let closed: Promise<void> | undefined;
      const file: OpenedFile & Prefetching = {
        ...raw,
        // A read that missed its deadline may still be inside the kernel: the fd is closed
        // only after it returns (so it can never land on a reused number), in the
        // background, so the response's error path does not wait for the disk.
        // Same when the close would have to wait for a slot of a busy volume.
        close: () => {
          if (closed) return closed;
          if (state.pending.size === 0 && (volume?.hasFreeSlot() ?? true)) return (closed = closeOnVolume(p, raw.fd));
          void Promise.allSettled([...state.pending]).then(() => closeOnVolume(p, raw.fd));
          return (closed = Promise.resolve());
        },
        prefetch: async (body: readonly BodyPiece[]): Promise<void> => {
          const first = body.find((b) => b.kind === 'file');
          if (!first || first.kind !== 'file' || first.end < first.start) return;
          const length = Math.min(options.chunkBytes, first.end - first.start + 1);
          const data = readOn(state, raw.fd, first.start, length);
          state.prefetched = { position: first.start, length, data };
          await data;
        },
      };
      files.set(file, state);
      return file;
    },
    // readdir under the folder's gate, each entry's stat under the entry's own (a mount point is another volume).
    list: (p: string): Promise<DirEntry[]> => listDirectory(p, run),
    sendBody: (file: OpenedFile, body: readonly BodyPiece[], res: ServerResponse): Promise<SendOutcome> =>
      sendBody(body, readerFor(file), file.fd, options.chunkBytes, res),
    describe: () => ({ engine: 'stream', chunkBytes: options.chunkBytes }),
    close: async () => undefined,
  };
}
