/**
 * The JS side of the native senders: one table of live jobs for the process,
 * events from the sender threads routed to their response, and a watchdog
 * that gives up on a volume whose sender thread is stuck inside the kernel.
 *
 * Why a watchdog: nothing cancels a sendfile blocked on a hung disk, and a
 * stuck sender makes no progress for any of its jobs, which a slow client
 * cannot be told apart from. The thread itself reports how long its current
 * call has lasted (busyMs); past the volume's deadline (READ_TIMEOUT_MS) every
 * job of that volume ends as a timeout (the clients see a short body at once,
 * the shutdown is done in the addon) and the volume is told, like a slow read.
 */
import os from 'node:os';
import type { ZeroCopyNative } from './native';

/**
 * unsupported: the kernel cannot sendfile from this file or to this socket (EINVAL, ENOSYS, EOPNOTSUPP).
 * parked: the socket took nothing for the sender's park time (a paused client); the job let go of its
 * descriptors and the caller may submit the rest again once the client reads.
 */
export type Ended = 'complete' | 'aborted' | 'short-read' | 'io-error' | 'timeout' | 'unsupported' | 'parked';

export interface JobHandlers {
  /** Bytes sent so far; called while bytes move (a few times a second at most). */
  onProgress(bytes: number): void;
  /** Called once, unless the job was cancelled by the caller. */
  onDone(bytes: number, ended: Ended): void;
}

const E = os.constants.errno;
const ABORTED = new Set<number | undefined>([E.EPIPE, E.ECONNRESET, E.ENOTCONN, E.ECANCELED, E.ETIMEDOUT]);
const UNSUPPORTED = new Set<number | undefined>([E.EINVAL, E.ENOSYS, E.EOPNOTSUPP]);

/** How a finished job ended, from its errno. */
export function endedOf(errno: number): Ended {
  if (errno === 0) return 'complete';
  if (errno === E.ENODATA) return 'short-read';
  if (errno === E.EAGAIN) return 'parked';
  if (ABORTED.has(errno)) return 'aborted';
  if (UNSUPPORTED.has(errno)) return 'unsupported';
  return 'io-error';
}

interface Job {
  readonly key: string;
  readonly handlers: JobHandlers;
  bytes: number;
}

export class ZeroCopySender {
  readonly #native: ZeroCopyNative;
  readonly #stuckAfterMs: number;
  readonly #onStuck: (key: string) => void;
  readonly #jobs = new Map<number, Job>();
  readonly #stuck = new Set<string>();
  #watchdog: NodeJS.Timeout | undefined;

  constructor(native: ZeroCopyNative, threadsPerKey: number, stuckAfterMs: number, onStuck: (key: string) => void, parkMs = 0) {
    this.#native = native;
    this.#stuckAfterMs = stuckAfterMs;
    this.#onStuck = onStuck;
    native.zeroCopyStart((id, bytes, errno, done) => this.#event(id, bytes, errno, done), threadsPerKey, parkMs);
  }

  /** Queues a job on the sender of `key` (a volume id). Throws if the addon cannot take it (dup failed). */
  send(key: string, sockFd: number, fileFd: number, start: number, length: number, callBytes: number, handlers: JobHandlers): number {
    const id = this.#native.zeroCopySend(key, sockFd, fileFd, start, length, callBytes);
    this.#jobs.set(id, { key, handlers, bytes: 0 });
    this.#watchdog ??= setInterval(() => this.#check(), Math.max(50, Math.min(1000, this.#stuckAfterMs / 4))).unref();
    return id;
  }

  /** The caller gave up (client gone): the socket is shut down, no handler is called. Returns bytes sent so far. */
  cancel(id: number): number {
    const job = this.#jobs.get(id);
    this.#jobs.delete(id);
    this.#native.zeroCopyCancel(id);
    this.#idleCheck();
    return job?.bytes ?? 0;
  }

  /** True while the sender of `key` has been inside one sendfile call for longer than the deadline. */
  isStuck(key: string): boolean {
    return this.#stuck.has(key);
  }

  #event(id: number, bytes: number, errno: number, done: boolean): void {
    const job = this.#jobs.get(id);
    if (done) this.#native.zeroCopyForget(id);
    if (!job) return;
    job.bytes = bytes;
    if (!done) {
      job.handlers.onProgress(bytes);
      return;
    }
    this.#jobs.delete(id);
    this.#idleCheck();
    job.handlers.onDone(bytes, endedOf(errno));
  }

  #check(): void {
    // A volume is stuck while any of its sender threads is; all its jobs end (which of
    // them shared that thread is the addon's business, and a hung disk rarely hangs alone).
    const busiest = new Map<string, number>();
    for (const s of this.#native.zeroCopyStats()) busiest.set(s.key, Math.max(busiest.get(s.key) ?? 0, s.busyMs));
    for (const [key, busyMs] of busiest) {
      if (busyMs <= this.#stuckAfterMs) {
        this.#stuck.delete(key);
        continue;
      }
      if (this.#stuck.has(key)) continue;
      this.#stuck.add(key);
      this.#onStuck(key);
      for (const [id, job] of [...this.#jobs]) {
        if (job.key !== key) continue;
        this.#jobs.delete(id);
        this.#native.zeroCopyCancel(id);
        job.handlers.onDone(job.bytes, 'timeout');
      }
    }
    this.#idleCheck();
  }

  #idleCheck(): void {
    if (this.#jobs.size === 0 && this.#stuck.size === 0 && this.#watchdog) {
      clearInterval(this.#watchdog);
      this.#watchdog = undefined;
    }
  }
}
