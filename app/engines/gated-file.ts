/**
 * An open file whose every read and close goes through its volume's gate
 * (app/volumes), shared by both engines: they differ only in how a raw read or
 * close reaches the kernel (libuv's pool, or a reader thread).
 *
 * A read that misses its deadline fails the response while the kernel keeps
 * working, so the fd is closed only once every read on it has really returned
 * (never under a pending read, which could land on a reused descriptor), in
 * the background, so an error path never waits for a dying disk.
 */
import type { BodyPiece } from '../core/types';
import type { ChunkReader } from './body-stream';
import { chunkSizeAt } from './chunk-size';
import type { OpenedRaw } from './fs-ops';
import type { OpenedFile } from './types';
import type { Prefetching, RunOptions, Volume, VolumeOp, VolumeRegistry } from '../volumes';

/** Runs one operation on a path under its volume's gate (or directly when there are no gates). */
export type GateRunner = <T>(p: string, op: VolumeOp, fn: () => Promise<T>, opts?: RunOptions<T>) => Promise<T>;

/** How an engine reaches the kernel for one fd. */
export interface RawFileOps {
  read(fd: number, position: number, length: number): Promise<Buffer>;
  close(fd: number): Promise<void>;
}

export interface GatedFile extends OpenedFile, Prefetching {
  /** The ChunkReader a BodyStream uses for this file (serves a prefetched chunk first). */
  readonly reader: ChunkReader;
}

function gatedFile(
  raw: OpenedRaw,
  p: string,
  run: GateRunner,
  ops: RawFileOps,
  chunkBytes: number,
  volume: Volume | undefined,
): GatedFile {
  // Kernel reads not yet returned (deadline or not).
  const pending = new Set<Promise<unknown>>();
  let prefetched: { position: number; length: number; data: Promise<Buffer> } | undefined;
  let closed: Promise<void> | undefined;

  const closeNow = (): Promise<void> => run(p, 'close', () => ops.close(raw.fd), { noDeadline: true, mustRun: true });

  function readOn(position: number, length: number, signal?: AbortSignal): Promise<Buffer> {
    const kernelRead = (): Promise<Buffer> => {
      const kernel = ops.read(raw.fd, position, length);
      pending.add(kernel);
      const drop = (): void => void pending.delete(kernel);
      kernel.then(drop, drop);
      return kernel;
    };
    return run(p, 'read', kernelRead, signal ? { signal } : undefined);
  }

  return {
    ...raw,
    reader: {
      read(_fd: number, position: number, length: number, signal?: AbortSignal): Promise<Buffer> {
        const pre = prefetched;
        if (pre && pre.position === position && pre.length === length) {
          prefetched = undefined;
          return pre.data;
        }
        return readOn(position, length, signal);
      },
    },
    close(): Promise<void> {
      if (closed) return closed;
      // Same when the close would have to wait for a slot of a busy volume.
      if (pending.size === 0 && (volume?.hasFreeSlot() ?? true)) return (closed = closeNow());
      void Promise.allSettled([...pending]).then(closeNow);
      return (closed = Promise.resolve());
    },
    async prefetch(body: readonly BodyPiece[]): Promise<void> {
      const first = body.find((b) => b.kind === 'file');
      if (!first || first.kind !== 'file' || first.end < first.start) return;
      // The size the body stream's first file read will ask for (it serves this chunk).
      const length = Math.min(chunkSizeAt(0, chunkBytes), first.end - first.start + 1);
      const data = readOn(first.start, length);
      prefetched = { position: first.start, length, data };
      await data;
    },
  };
}

/** The gates of the process's volumes, looked up per call (serve() installs them after engines may exist). */
export interface Gates {
  readonly run: GateRunner;
  volumeOf(p: string): Volume | undefined;
}

export function gatesOf(registry: () => VolumeRegistry | undefined): Gates {
  return {
    run: (p, op, fn, opts) => {
      const r = registry();
      return r ? r.run(p, op, fn, opts) : fn();
    },
    volumeOf: (p) => registry()?.of(p),
  };
}

/**
 * Opens `p` under its gate and wraps the descriptor; one that arrives after the
 * caller gave up (deadline) is closed again.
 */
export async function openGatedFile(
  p: string,
  gates: Gates,
  open: () => Promise<OpenedRaw>,
  ops: RawFileOps,
  chunkBytes: number,
): Promise<GatedFile> {
  const { run } = gates;
  const raw = await run(p, 'open', open, {
    late: (late: OpenedRaw) => void run(p, 'close', () => ops.close(late.fd), { noDeadline: true, mustRun: true }),
  });
  const volume = gates.volumeOf(p);
  if (volume) volume.lastFile = p; // what the probe reads if this volume degrades
  return gatedFile(raw, p, run, ops, chunkBytes, volume);
}
