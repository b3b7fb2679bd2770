/**
 * One volume (a device): its gate, its health and its recent latencies.
 *
 * The gate caps the file operations in flight on the volume (each one holds a
 * libuv pool thread, or a reader thread, while the kernel works) and keeps a
 * bounded FIFO of waiting operations. A slow or hung volume can therefore hold
 * at most `maxInflight` threads; every other volume keeps its own.
 *
 * Deadlines: an operation that has not settled `timeoutMs` after it was
 * submitted (waiting included) fails with RS_ERR_READ_TIMEOUT. Nothing cancels
 * a read inside the kernel, so a running operation keeps its slot until the
 * kernel really returns; a late result that owns a resource (an fd) is handed
 * to the `late` callback to be released.
 *
 * Health (Swift's error limiting): `errorLimit` timeouts or I/O errors of
 * running operations within `errorWindowMs` mark the volume degraded (a
 * timeout here = one operation inside the kernel for longer than timeoutMs). A
 * degraded volume refuses new operations at once (no queueing); the registry's
 * probe restores it. Operations that only timed out while WAITING do not count:
 * a volume that is merely overloaded is not broken.
 */
import { budgetLeftMs, type RequestBudget } from './deadline';
import { VolumeError, errorCode, isIoError } from './errors';

export type VolumeState = 'healthy' | 'degraded';

/** One volume as /readyz shows it (and as a cluster worker reports it to the primary). */
export interface VolumeReport {
  readonly id: string;
  readonly mount: string;
  readonly state: VolumeState;
  readonly inflight: number;
  readonly queued: number;
  readonly latencyMs: { readonly p50: number | null; readonly p99: number | null; readonly samples: number };
}
/** How long one slow operation (a quarter of the deadline or more) keeps its volume "recently slow". */
export const SLOW_MEMORY_MS = 30_000;

/** 'hint': a batch of page-cache hints (best-effort: sent only when a slot is free, never counted against health). */
export type VolumeOp = 'realpath' | 'stat' | 'resolve' | 'open' | 'read' | 'close' | 'list' | 'probe' | 'hint';

export interface GateLimits {
  readonly maxInflight: number;
  readonly maxQueue: number;
  readonly timeoutMs: number;
  readonly errorLimit: number;
  readonly errorWindowMs: number;
}

/** What a volume reports to metrics and logs; implemented by app/metrics.ts and the registry. */
export interface VolumeObserver {
  opDone(volume: Volume, op: VolumeOp, seconds: number, errCode: string | undefined): void;
  timedOut(volume: Volume, op: VolumeOp, whileQueued: boolean): void;
  rejected(volume: Volume, reason: 'busy' | 'degraded'): void;
  stateChanged(volume: Volume, state: VolumeState, why: Record<string, unknown>): void;
  /** A timeout or I/O error counted toward the error limit (cluster processes share these). */
  errorNoted?(volume: Volume, op: VolumeOp, what: string): void;
}

export interface RunOptions<T> {
  /** No deadline (close: the fd must be released however long it takes). */
  readonly noDeadline?: boolean;
  /** Never refused for a full queue or a degraded volume (close, probe). */
  readonly mustRun?: boolean;
  /** Called with the result of an operation that succeeded after its deadline had failed the caller. */
  readonly late?: (value: T) => void;
  /** The caller went away: an operation still waiting for a slot is dropped (one already running is not). */
  readonly signal?: AbortSignal;
  /**
   * A body's next chunk, for a client that has bytes already: it waits behind every other
   * queued operation (a new request's stat, open and first read go first), and is never
   * refused for a full queue (there is at most one per response). Without this, thousands of
   * paused downloads filling their sockets queue tens of thousands of reads in front of
   * every new request (docs/performance.md, "Paused downloads").
   */
  readonly later?: boolean;
  /** The request's budget before its headers (deadline.ts), when shorter than the operation's own deadline. */
  readonly budget?: RequestBudget;
}

interface Task {
  readonly op: VolumeOp;
  readonly start: () => void;
  queued: boolean;
}

const LATENCY_RING = 512;

export class Volume {
  state: VolumeState = 'healthy';
  inflight = 0;
  /** Recently opened file on this volume: what the probe reads. */
  lastFile: string | undefined;
  probing = false;
  private readonly queue: Task[] = [];
  /** RunOptions.later: served only when `queue` is empty. */
  private readonly laterQueue: Task[] = [];
  private readonly errors: number[] = [];
  private readonly latencies = new Float64Array(LATENCY_RING);
  private latencyCount = 0;
  private latencyNext = 0;
  private lastSlowAt = -Infinity;

  constructor(
    /** major:minor of the device. */
    readonly id: string,
    readonly dev: number,
    /** Mount point relative to the root ('.' for the root's own volume). */
    readonly mount: string,
    /** Absolute mount point path (the root itself for '.'). */
    readonly mountPath: string,
    private readonly limits: GateLimits,
    private readonly observer: VolumeObserver,
  ) {}

  /** An operation submitted now would start at once. */
  hasFreeSlot(): boolean {
    return this.inflight < this.limits.maxInflight;
  }

  /** Operations that could start now without waiting (best-effort work takes one only if another stays free). */
  freeSlots(): number {
    return Math.max(0, this.limits.maxInflight - this.inflight);
  }

  get queued(): number {
    return this.queue.length + this.laterQueue.length;
  }

  /** Runs `fn` under the gate and the deadline. */
  run<T>(op: VolumeOp, fn: () => Promise<T>, opts: RunOptions<T> = {}): Promise<T> {
    if (!opts.mustRun) {
      if (this.state === 'degraded') {
        this.observer.rejected(this, 'degraded');
        return Promise.reject(new VolumeError('RS_ERR_VOLUME_DEGRADED', this.id, `volume ${this.mount} is degraded`));
      }
      if (!opts.later && this.inflight >= this.limits.maxInflight && this.queue.length >= this.limits.maxQueue) {
        this.observer.rejected(this, 'busy');
        return Promise.reject(new VolumeError('RS_ERR_VOLUME_BUSY', this.id, `volume ${this.mount} is busy`));
      }
    }
    // The request's budget before its headers (deadline.ts) may be shorter than the operation's own.
    const deadlineMs = Math.min(this.limits.timeoutMs, budgetLeftMs(opts.budget));
    if (!opts.noDeadline && deadlineMs <= 0) {
      return Promise.reject(new VolumeError('RS_ERR_READ_TIMEOUT', this.id, `request on volume ${this.mount} ran out of time`));
    }
    return new Promise<T>((resolve, reject) => {
      let settled = false;
      let timer: NodeJS.Timeout | undefined;
      const task: Task = {
        op,
        queued: true,
        start: () => {
          task.queued = false;
          // Only a queued operation can be cancelled. The listener must go now: it holds
          // this promise's resolvers, and through them every chunk this read returns,
          // for as long as the response's signal lives (a whole download's worth).
          opts.signal?.removeEventListener('abort', onAbort);
          this.inflight++;
          const t0 = performance.now();
          // Health counts the kernel's own slowness: an operation RUNNING for longer than the
          // deadline (time spent waiting for a slot is the volume's load, not a fault).
          // Probes and hints are not the volume's requests: their slowness or errors never degrade it.
          const slow = op === 'probe' || op === 'hint' ? undefined : setTimeout(() => this.noteError(op, 'timeout'), this.limits.timeoutMs);
          const finished = (): void => {
            if (slow) clearTimeout(slow);
          };
          let p: Promise<T>;
          try {
            p = fn();
          } catch (e) {
            p = Promise.reject(e);
          }
          p.then(
            (value) => {
              finished();
              this.finish(op, t0, undefined);
              if (!settled) {
                settled = true;
                if (timer) clearTimeout(timer);
                resolve(value);
              } else {
                opts.late?.(value);
              }
            },
            (err: unknown) => {
              finished();
              this.finish(op, t0, err);
              if (!settled) {
                settled = true;
                if (timer) clearTimeout(timer);
                reject(err);
              }
            },
          );
        },
      };
      const dequeue = (): boolean => {
        const line = opts.later ? this.laterQueue : this.queue;
        const i = line.indexOf(task);
        if (i >= 0) line.splice(i, 1);
        return i >= 0;
      };
      const onAbort = (): void => {
        if (settled || !task.queued || !dequeue()) return;
        settled = true;
        if (timer) clearTimeout(timer);
        reject(new VolumeError('RS_ERR_CANCELLED', this.id, `${op} on volume ${this.mount} was cancelled`));
      };
      opts.signal?.addEventListener('abort', onAbort, { once: true });
      if (!opts.noDeadline) {
        timer = setTimeout(() => {
          if (settled) return;
          settled = true;
          const whileQueued = task.queued;
          if (whileQueued) dequeue();
          opts.signal?.removeEventListener('abort', onAbort);
          this.observer.timedOut(this, op, whileQueued);
          reject(new VolumeError('RS_ERR_READ_TIMEOUT', this.id, `${op} on volume ${this.mount} took longer than ${Math.round(deadlineMs)} ms`));
        }, deadlineMs);
      }
      // mustRun operations (close, probe) may exceed the cap by the few the pool's spare threads cover.
      if (this.inflight < this.limits.maxInflight || (opts.mustRun && op === 'probe')) task.start();
      else if (op === 'close') this.queue.unshift(task); // closes first: they free descriptors
      else if (opts.later) this.laterQueue.push(task);
      else this.queue.push(task);
    });
  }

  private finish(op: VolumeOp, t0: number, err: unknown): void {
    this.inflight--;
    const ms = performance.now() - t0;
    this.latencies[this.latencyNext] = ms;
    this.latencyNext = (this.latencyNext + 1) % LATENCY_RING;
    this.latencyCount = Math.min(this.latencyCount + 1, LATENCY_RING);
    if (ms >= this.limits.timeoutMs / 4) this.lastSlowAt = performance.now();
    this.observer.opDone(this, op, ms / 1000, err === undefined ? undefined : (errorCode(err) ?? 'error'));
    if (err !== undefined && isIoError(err) && op !== 'probe' && op !== 'hint') this.noteError(op, errorCode(err) ?? 'EIO');
    while (this.inflight < this.limits.maxInflight) {
      const next = this.queue.shift() ?? this.laterQueue.shift();
      if (!next) break;
      next.start();
    }
  }

  /** A timeout or I/O error of a running operation (here, or in another process of the cluster). */
  noteError(op: VolumeOp, what: string): void {
    this.observer.errorNoted?.(this, op, what);
    const now = Date.now();
    this.errors.push(now);
    while (this.errors.length > 0 && (this.errors[0] ?? 0) <= now - this.limits.errorWindowMs) this.errors.shift();
    if (this.state === 'healthy' && this.errors.length >= this.limits.errorLimit) {
      this.setState('degraded', { op, last: what, errors: this.errors.length, windowMs: this.limits.errorWindowMs });
    }
  }

  setState(state: VolumeState, why: Record<string, unknown>): void {
    if (this.state === state) return;
    this.state = state;
    if (state === 'healthy') this.errors.length = 0;
    this.observer.stateChanged(this, state, why);
  }

  /**
   * Whether an operation that took a quarter of the deadline or longer finished within the last
   * SLOW_MEMORY_MS: the volume is slow now (zero-copy stands aside, app/zero-copy/index.ts).
   */
  recentlySlow(now: number = performance.now()): boolean {
    return now - this.lastSlowAt < SLOW_MEMORY_MS;
  }

  /** p50/p99 (ms) of the last operations (up to 512). */
  latency(): { p50: number | null; p99: number | null; samples: number } {
    const n = this.latencyCount;
    if (n === 0) return { p50: null, p99: null, samples: 0 };
    const sorted = Array.from(this.latencies.subarray(0, n)).sort((a, b) => a - b);
    const at = (q: number): number => Math.round((sorted[Math.min(n - 1, Math.floor(q * n))] ?? 0) * 1000) / 1000;
    return { p50: at(0.5), p99: at(0.99), samples: n };
  }

  describe(): VolumeReport {
    const l = this.latency();
    return {
      id: this.id,
      mount: this.mount,
      state: this.state,
      inflight: this.inflight,
      queued: this.queue.length + this.laterQueue.length,
      latencyMs: { p50: l.p50, p99: l.p99, samples: l.samples },
    };
  }
}
