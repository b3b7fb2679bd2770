/**
 * Prometheus metrics (prom-client) of one serving process, on its own
 * Registry (not prom-client's global one).
 *
 * Cluster mode: each worker sends `metricsRegistry.getMetricsAsJSON()` to
 * the primary, which merges them with prom-client's
 * `AggregatorRegistry.aggregate([...])` (app/cluster/merge.ts) for whichever
 * worker was asked for /metrics. Counters and histograms add up; a gauge that
 * must not be summed names its aggregator. Nothing here depends on the mode; gauges that read live state do
 * it in collect(), so the JSON snapshot is always current.
 */
import client from 'prom-client';
import type { Volume, VolumeObserver, VolumeOp, VolumeState } from './volumes';

export const metricsRegistry = new client.Registry();
client.collectDefaultMetrics({ register: metricsRegistry });

const opSeconds = new client.Histogram({
  name: 'rangeserve_volume_op_seconds',
  help: 'Latency of file operations per volume (realpath, stat, resolve = realpath + stat, open, read, close, list, probe), from start to kernel return.',
  labelNames: ['volume', 'op'] as const,
  buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
  registers: [metricsRegistry],
});
const timeouts = new client.Counter({
  name: 'rangeserve_volume_timeouts_total',
  help: 'Operations that missed READ_TIMEOUT_MS (queued: still waiting for a slot).',
  labelNames: ['volume', 'op', 'queued'] as const,
  registers: [metricsRegistry],
});
const errors = new client.Counter({
  name: 'rangeserve_volume_errors_total',
  help: 'File operations that failed, by error code.',
  labelNames: ['volume', 'op', 'code'] as const,
  registers: [metricsRegistry],
});
const rejected = new client.Counter({
  name: 'rangeserve_volume_rejected_total',
  help: 'Operations refused at once: busy (wait queue full) or degraded.',
  labelNames: ['volume', 'reason'] as const,
  registers: [metricsRegistry],
});

let volumesSource: () => readonly Volume[] = () => [];

/** Where the live per-volume gauges read from (the process's VolumeRegistry). */
export function setVolumeSource(source: () => readonly Volume[]): void {
  volumesSource = source;
}

new client.Gauge({
  name: 'rangeserve_volume_inflight',
  help: 'File operations running on the volume (each holds a thread until the kernel returns).',
  labelNames: ['volume'] as const,
  registers: [metricsRegistry],
  collect() {
    this.reset();
    for (const v of volumesSource()) this.set({ volume: v.id }, v.inflight);
  },
});
new client.Gauge({
  name: 'rangeserve_volume_queued',
  help: 'File operations waiting for a slot on the volume.',
  labelNames: ['volume'] as const,
  registers: [metricsRegistry],
  collect() {
    this.reset();
    for (const v of volumesSource()) this.set({ volume: v.id }, v.queued);
  },
});
new client.Gauge({
  name: 'rangeserve_volume_state',
  help: 'Volume health: 0 healthy, 1 degraded.',
  labelNames: ['volume', 'mount'] as const,
  registers: [metricsRegistry],
  // Cluster merge: degraded in any worker is degraded (the other gauges add up).
  aggregator: 'max',
  collect() {
    this.reset();
    for (const v of volumesSource()) this.set({ volume: v.id, mount: v.mount }, v.state === 'healthy' ? 0 : 1);
  },
});

export const bytesSent = new client.Counter({
  name: 'rangeserve_bytes_sent_total',
  help: 'File body bytes handed to sockets.',
  registers: [metricsRegistry],
});
export const activeDownloads = new client.Gauge({
  name: 'rangeserve_active_downloads',
  help: 'Requests under /files not yet finished.',
  registers: [metricsRegistry],
});
export const responses = new client.Counter({
  name: 'rangeserve_responses_total',
  help: 'Responses under /files by status code.',
  labelNames: ['status'] as const,
  registers: [metricsRegistry],
});

export const volumeMetrics: VolumeObserver = {
  opDone(v: Volume, op: VolumeOp, seconds: number, errCode: string | undefined) {
    opSeconds.observe({ volume: v.id, op }, seconds);
    if (errCode !== undefined) errors.inc({ volume: v.id, op, code: errCode });
  },
  timedOut(v: Volume, op: VolumeOp, whileQueued: boolean) {
    timeouts.inc({ volume: v.id, op, queued: whileQueued ? 'true' : 'false' });
  },
  rejected(v: Volume, reason: 'busy' | 'degraded') {
    rejected.inc({ volume: v.id, reason });
  },
  stateChanged(_v: Volume, _state: VolumeState) {
    // read live by rangeserve_volume_state
  },
};

/** Page-cache hints (docs/hints.md) by what became of them; app/engines/file-hints.ts counts. */
export const hintCalls = new client.Counter({
  name: 'rangeserve_hints_total',
  help: 'posix_fadvise hints by outcome: sent, failed, deferred (volume had no spare slot; retried with the next read), dropped (stale or file closing).',
  labelNames: ['outcome'] as const,
  registers: [metricsRegistry],
});
