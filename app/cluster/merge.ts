/**
 * Pure merges of what cluster workers report, done by the primary
 * (app/cluster/collect.ts gathers the reports):
 * - metrics: prom-client's AggregatorRegistry.aggregate() over every reporting
 *   worker's getMetricsAsJSON(); each metric carries its own aggregator (sum
 *   unless set: rangeserve_volume_state is 'max', so degraded anywhere shows
 *   as degraded). Two cluster gauges say how many workers there are and how
 *   many made it into this answer, so a missing worker is visible.
 * - readiness: per volume the worst state across workers wins, gate counts add
 *   up, latency percentiles are the worst worker's (percentiles cannot be
 *   merged exactly from summaries); each worker's own states are kept as detail.
 */
import client, { AggregatorRegistry, type Registry } from 'prom-client';
import type { VolumeReport, VolumeState } from '../volumes';

/** One worker's prom-client registry as JSON (registry.getMetricsAsJSON()). */
export type MetricsJson = Awaited<ReturnType<Registry['getMetricsAsJSON']>>;

export interface MergedMetrics {
  readonly contentType: string;
  readonly text: string;
}

/**
 * Merges the workers' metrics into Prometheus text. `workers` is how many
 * workers the primary has; `reports.length` of them answered in time.
 */
export async function mergeMetrics(reports: readonly MetricsJson[], workers: number): Promise<MergedMetrics> {
  const registry = AggregatorRegistry.aggregate(reports.map((r) => [...r]));
  new client.Gauge({
    name: 'rangeserve_cluster_workers',
    help: 'Worker processes the cluster primary runs.',
    registers: [registry],
  }).set(workers);
  new client.Gauge({
    name: 'rangeserve_cluster_workers_reporting',
    help: 'Workers whose metrics are in this answer (the others did not answer within the collect wait).',
    registers: [registry],
  }).set(reports.length);
  return { contentType: registry.contentType, text: await registry.metrics() };
}

/** One worker's answer for /readyz. */
export interface WorkerReadiness {
  readonly pid: number;
  readonly volumes: readonly VolumeReport[];
}

export interface ClusterReadiness {
  readonly status: 'ready' | 'degraded';
  readonly volumes: VolumeReport[];
  readonly workers: number;
  readonly workersReporting: number;
  /** Per worker: its pid and each volume's state there. */
  readonly detail: { pid: number; status: 'ready' | 'degraded'; volumes: { id: string; state: VolumeState }[] }[];
}

const RANK: Record<VolumeState, number> = { healthy: 0, degraded: 1 };

function worst(a: VolumeState, b: VolumeState): VolumeState {
  return RANK[b] > RANK[a] ? b : a;
}

function maxOrNull(a: number | null, b: number | null): number | null {
  if (a === null) return b;
  if (b === null) return a;
  return Math.max(a, b);
}

export function mergeReadiness(reports: readonly WorkerReadiness[], workers: number): ClusterReadiness {
  const byId = new Map<string, VolumeReport>();
  for (const r of reports) {
    for (const v of r.volumes) {
      const seen = byId.get(v.id);
      byId.set(
        v.id,
        seen === undefined
          ? v
          : {
              id: v.id,
              mount: seen.mount,
              state: worst(seen.state, v.state),
              inflight: seen.inflight + v.inflight,
              queued: seen.queued + v.queued,
              latencyMs: {
                p50: maxOrNull(seen.latencyMs.p50, v.latencyMs.p50),
                p99: maxOrNull(seen.latencyMs.p99, v.latencyMs.p99),
                samples: seen.latencyMs.samples + v.latencyMs.samples,
              },
            },
      );
    }
  }
  const volumes = [...byId.values()];
  const healthy = (vs: readonly VolumeReport[]): boolean => vs.every((v) => v.state === 'healthy');
  return {
    status: healthy(volumes) ? 'ready' : 'degraded',
    volumes,
    workers,
    workersReporting: reports.length,
    detail: reports.map((r) => ({
      pid: r.pid,
      status: healthy(r.volumes) ? 'ready' : 'degraded',
      volumes: r.volumes.map((v) => ({ id: v.id, state: v.state })),
    })),
  };
}
