/** The IPC messages between the cluster primary and its workers. */
import type { VolumeEvent } from '../volumes';

/** Worker → primary. */
export type WorkerMessage =
  | { readonly type: 'rs:listening'; readonly port: number }
  /** The worker closed its listener (after rs:stop) and is draining in-flight downloads. */
  | { readonly type: 'rs:draining' }
  /** A health event of one of this worker's volumes, for the primary to pass to the others. */
  | { readonly type: 'rs:volume'; readonly event: VolumeEvent };

/** Primary → worker. */
export type PrimaryMessage =
  /** The pids of all live workers; sent to every worker whenever the set changes. */
  | { readonly type: 'rs:workers'; readonly pids: readonly number[] }
  /** Stop accepting, let in-flight downloads finish within graceMs, then exit 0. */
  | { readonly type: 'rs:stop'; readonly graceMs: number }
  /**
   * Answer to rs:draining: the primary no longer hands this worker connections.
   * IPC is ordered, so every connection handed over before it has reached the
   * worker (and been refused back to the primary, which passes it on): only
   * now may the worker exit without losing a connection in transit.
   */
  | { readonly type: 'rs:released' }
  /** A peer's volume health event (see app/cluster/worker.ts). */
  | { readonly type: 'rs:volume'; readonly event: VolumeEvent };

function hasType(m: unknown): m is { type: unknown } {
  return typeof m === 'object' && m !== null && 'type' in m;
}

export function isWorkerMessage(m: unknown): m is WorkerMessage {
  return hasType(m) && (m.type === 'rs:listening' || m.type === 'rs:draining' || m.type === 'rs:volume');
}

export function isPrimaryMessage(m: unknown): m is PrimaryMessage {
  return hasType(m) && (m.type === 'rs:workers' || m.type === 'rs:stop' || m.type === 'rs:released' || m.type === 'rs:volume');
}
