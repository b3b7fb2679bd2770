/**
 * An open file whose every read and close goes through its volume's gate
 * (app/volumes), shared by both engines: they differ only in how a raw read or
 * close reaches the kernel (libuv's pool, or a reader thread).
 *
 * A read that misses its deadline fails the response while the kernel keeps
 * working, so the fd is closed only once every read on it has really returned
 * (never under a pending read, which could land on a reused descriptor), in
 * the background, so an error path never waits for a dying disk.
 *
 * Page-cache hints (docs/hints.md) hook in here too, so both engines apply the
 * same policy without touching the send path: prefetch() (the body is known)
 * plans them, every read that returns moves them along, close() sends the last
 * ones first. They go through the volume's gate as op 'hint', only when a slot
 * stays free for the next read (never queued, so never ahead of one), and the
 * fd is never closed under one.
 */
import type { BodyPiece } from '../core/types';
import type { ChunkReader } from './chunk-reader';
import { chunkSizeAt } from './chunk-size';
import type { OpenedRaw } from './fs-ops';
import type { OpenedFile } from './types';
import { FileHints, type HintOutcome } from './file-hints';
import type { Hint, HintOptions } from '../native/hint-policy';
import type { Prefetching, RequestBudget, RunOptions, Volume, VolumeOp, VolumeRegistry } from '../volumes';

/** Runs one operation on a path under its volume's gate (or directly when there are no gates). */
export type GateRunner = <T>(p: string, op: VolumeOp, fn: () => Promise<T>, opts?: RunOptions<T>) => Promise<T>;

/** How an engine reaches the kernel for one fd. */
export interface RawFileOps {
  read(fd: number, position: number, length: number): Promise<Buffer>;
  close(fd: number): Promise<void>;
  /** Page-cache hints; absent when they are off (HINTS=off, no addon). */
  readonly hints?: HintOps;
  /**
   * A read that first runs `hints` in the same kernel-side task (worker engine: one
   * thread hop instead of two). Used for the open-time hints and the first read.
   */
  readWithHints?(fd: number, position: number, length: number, hints: readonly Hint[]): Promise<Buffer>;
}

/** How an engine sends a batch of posix_fadvise hints for one fd, off the main thread. */
export interface HintOps {
  readonly options: HintOptions;
  advise(fd: number, hints: readonly Hint[]): Promise<void>;
  /** Counts hints by outcome (metrics). */
  count?(outcome: HintOutcome, hints: number): void;
}

export interface GatedFile extends OpenedFile, Prefetching {
  /** The ChunkReader the send path uses for this file (serves a prefetched chunk first). */
  readonly reader: ChunkReader & BodyProgress;
}

/** Implemented by a gated file's reader: bytes of the file that went out without a read through it. */
export interface BodyProgress {
  advanced(position: number, bytes: number): void;
}

/**
 * A send path that bypasses the reader (zero-copy sendfile) calls this for each span it
 * sent, so the file's page-cache hints move along (DONTNEED behind it, the last one at
 * the end); without it, a big file stays cached. Does nothing for other readers.
 */
export function reportSent(reader: ChunkReader, position: number, bytes: number): void {
  const r = reader as Partial<BodyProgress>;
  if (typeof r.advanced === 'function') r.advanced(position, bytes);
}

/** Hint batches running per volume. */
const hintBatches = new WeakMap<Volume, number>();

/**
 * Best-effort: a hint batch runs only on a healthy volume that is not recently slow,
 * when a slot stays free for the read that follows (so it never delays one), and while
 * hints hold at most half the volume's slots. On a recently slow volume
 * (Volume.recentlySlow), WILLNEED's readahead would queue requests the gate never
 * sees in front of its reads, as sendfile's did (decision 36).
 */
function mayHint(volume: Volume): boolean {
  const free = volume.freeSlots();
  const running = hintBatches.get(volume) ?? 0;
  return volume.state === 'healthy' && !volume.recentlySlow() && free >= 2 && running < Math.max(1, Math.floor((free + volume.inflight) / 2));
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
  let released = false;

  const closeNow = (): Promise<void> => {
    released = true;
    return run(p, 'close', () => ops.close(raw.fd), { noDeadline: true, mustRun: true });
  };

  const hintOps = ops.hints;
  const hints = hintOps
    ? new FileHints({
        options: hintOps.options,
        count: (o: HintOutcome, n: number) => hintOps.count?.(o, n),
        send: (batch) => {
          if (released) return 'closed';
          if (volume && !mayHint(volume)) return 'busy';
          let call: Promise<void>;
          try {
            call = run(p, 'hint', () => hintOps.advise(raw.fd, batch), { noDeadline: true });
          } catch (err) {
            call = Promise.reject(err); // ungated, a sender that throws: still just a failed hint
          }
          pending.add(call);
          if (volume) hintBatches.set(volume, (hintBatches.get(volume) ?? 0) + 1);
          const drop = (): void => {
            pending.delete(call);
            if (volume) hintBatches.set(volume, (hintBatches.get(volume) ?? 1) - 1);
          };
          call.then(drop, drop);
          return call;
        },
      })
    : undefined;

  function readOn(position: number, length: number, opts?: { signal?: AbortSignal; budget?: RequestBudget; later?: boolean }, carried?: readonly Hint[]): Promise<Buffer> {
    const kernelRead = (): Promise<Buffer> => {
      const kernel = carried && ops.readWithHints ? ops.readWithHints(raw.fd, position, length, carried) : ops.read(raw.fd, position, length);
      pending.add(kernel);
      const drop = (): void => void pending.delete(kernel);
      kernel.then(drop, drop);
      return kernel;
    };
    const result = run(p, 'read', kernelRead, opts);
    // After the gate has released the read's slot (and before the caller asks for the next chunk).
    if (hints) result.then((buf) => hints.afterRead(position, buf.length), () => undefined);
    return result;
  }

  return {
    ...raw,
    reader: {
      advanced(position: number, bytes: number): void {
        hints?.afterRead(position, bytes);
      },
      read(_fd: number, position: number, length: number, signal?: AbortSignal, budget?: RequestBudget, later?: boolean): Promise<Buffer> {
        const pre = prefetched;
        if (pre && pre.position === position && pre.length === length) {
          prefetched = undefined;
          return pre.data;
        }
        return readOn(position, length, signal || budget || later ? { ...(signal ? { signal } : {}), ...(budget ? { budget } : {}), ...(later ? { later } : {}) } : undefined);
      },
    },
    close(): Promise<void> {
      if (closed) return closed;
      // The last hints (a big download's final DONTNEED) go before the fd does.
      const hinting = hints?.drain();
      // Same when the close would have to wait for a slot of a busy volume.
      if (!hinting && pending.size === 0 && (volume?.hasFreeSlot() ?? true)) return (closed = closeNow());
      void Promise.allSettled([...pending, hinting])
        .then(() => Promise.allSettled([...pending]))
        .then(closeNow);
      return (closed = Promise.resolve());
    },
    async prefetch(body: readonly BodyPiece[], budget?: RequestBudget): Promise<void> {
      const first = body.find((b) => b.kind === 'file');
      if (!first || first.kind !== 'file' || first.end < first.start) return;
      // The size the body stream's first file read will ask for (it serves this chunk).
      const length = Math.min(chunkSizeAt(0, chunkBytes), first.end - first.start + 1);
      let data: Promise<Buffer>;
      if (hints && ops.readWithHints) {
        // The light open-time hints ride with the first read (they run just before it, in its slot).
        let carried: readonly Hint[] | undefined;
        let carriedDone!: () => void;
        const done = new Promise<void>((resolve) => (carriedDone = resolve));
        const send = (batch: readonly Hint[]): Promise<void> => {
          carried = batch;
          return done;
        };
        hints.start(body, raw.meta.size, { send, upTo: first.start + length });
        data = readOn(first.start, length, { budget }, carried);
        data.then(carriedDone, carriedDone);
      } else {
        hints?.start(body, raw.meta.size);
        data = readOn(first.start, length, { budget });
      }
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
  budget?: RequestBudget,
): Promise<GatedFile> {
  const { run } = gates;
  const raw = await run(p, 'open', open, {
    budget,
    late: (late: OpenedRaw) => void run(p, 'close', () => ops.close(late.fd), { noDeadline: true, mustRun: true }),
  });
  const volume = gates.volumeOf(p);
  if (volume) volume.lastFile = p; // what the probe reads if this volume degrades
  return gatedFile(raw, p, run, ops, chunkBytes, volume);
}
