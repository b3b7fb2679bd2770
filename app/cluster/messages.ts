/** The IPC messages between the cluster primary and its workers. */
import type { VolumeEvent, VolumeReport } from '../volumes';
import type { ClusterReadiness, MergedMetrics, MetricsJson } from './merge';

/** What a worker can ask the primary to gather from every worker (/metrics, /readyz). */
export type Collectable = 'metrics' | 'readyz';

/** One worker's own part of a collection. */
export type Snapshot =
  | { readonly what: 'metrics'; readonly metrics: MetricsJson }
  | { readonly what: 'readyz'; readonly volumes: readonly VolumeReport[] };

/** The primary's merged answer; 'none' when no worker answered within the collect wait. */
export type Collected =
  | { readonly what: 'metrics'; readonly metrics: MergedMetrics }
  | { readonly what: 'readyz'; readonly readiness: ClusterReadiness }
  | { readonly what: 'none' };

/** Worker → primary. */
export type WorkerMessage =
  | { readonly type: 'rs:listening'; readonly port: number }
  /** The worker closed its listener (after rs:stop) and is draining in-flight downloads. */
  | { readonly type: 'rs:draining' }
  /** A health event of one of this worker's volumes, for the primary to pass to the others. */
  | { readonly type: 'rs:volume'; readonly event: VolumeEvent }
  /** Asks the primary to gather `what` from every worker and answer with rs:collected (same id). */
  | { readonly type: 'rs:collect'; readonly id: number; readonly what: Collectable }
  /** This worker's answer to rs:snapshot-request (same id). */
  | { readonly type: 'rs:snapshot'; readonly id: number; readonly snapshot: Snapshot };

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
  | { readonly type: 'rs:volume'; readonly event: VolumeEvent }
  /** Send your own `what` (rs:snapshot with this id). */
  | { readonly type: 'rs:snapshot-request'; readonly id: number; readonly what: Collectable }
  /** The merged answer to this worker's rs:collect with this id. */
  | { readonly type: 'rs:collected'; readonly id: number; readonly result: Collected };

function hasType(m: unknown): m is { type: unknown } {
  return typeof m === 'object' && m !== null && 'type' in m;
}

export function isWorkerMessage(m: unknown): m is WorkerMessage {
  return (
    hasType(m) &&
    (m.type === 'rs:listening' || m.type === 'rs:draining' || m.type === 'rs:volume' || m.type === 'rs:collect' || m.type === 'rs:snapshot')
  );
}

export function isPrimaryMessage(m: unknown): m is PrimaryMessage {
  return (
    hasType(m) &&
    (m.type === 'rs:workers' ||
      m.type === 'rs:stop' ||
      m.type === 'rs:released' ||
      m.type === 'rs:volume' ||
      m.type === 'rs:snapshot-request' ||
      m.type === 'rs:collected')
  );
}
