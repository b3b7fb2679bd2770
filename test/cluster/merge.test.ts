/**
 * The primary's merges of worker reports (app/cluster/merge.ts) and its
 * collector's waiting rules (app/cluster/collect.ts), without processes:
 * counters and histograms add up exactly, the volume state gauge takes the
 * max, readiness takes the worst state, and a worker that does not answer in
 * time (or dies) is left out instead of holding the answer.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import client from 'prom-client';
import { Collector, PrimaryAsker, type Peer } from '../../app/cluster/collect';
import { mergeMetrics, mergeReadiness, type MetricsJson, type WorkerReadiness } from '../../app/cluster/merge';
import type { Collected, PrimaryMessage, Snapshot } from '../../app/cluster/messages';
import type { VolumeReport } from '../../app/volumes';
import { samples } from '../helpers/prometheus';

/** A worker's registry shaped like app/metrics.ts, with the given counts. */
async function workerMetrics(w: { responses: number; bytes: number; latencies: number[]; state: number; inflight: number }): Promise<MetricsJson> {
  const reg = new client.Registry();
  const responses = new client.Counter({ name: 'rangeserve_responses_total', help: 'h', labelNames: ['status'], registers: [reg] });
  const bytes = new client.Counter({ name: 'rangeserve_bytes_sent_total', help: 'h', registers: [reg] });
  const op = new client.Histogram({ name: 'rangeserve_volume_op_seconds', help: 'h', labelNames: ['volume', 'op'], buckets: [0.01, 1], registers: [reg] });
  const state = new client.Gauge({ name: 'rangeserve_volume_state', help: 'h', labelNames: ['volume', 'mount'], registers: [reg], aggregator: 'max' });
  const inflight = new client.Gauge({ name: 'rangeserve_volume_inflight', help: 'h', labelNames: ['volume'], registers: [reg] });
  if (w.responses > 0) responses.inc({ status: '200' }, w.responses);
  bytes.inc(w.bytes);
  for (const s of w.latencies) op.observe({ volume: '8:1', op: 'read' }, s);
  state.set({ volume: '8:1', mount: 'slow' }, w.state);
  inflight.set({ volume: '8:1' }, w.inflight);
  return reg.getMetricsAsJSON();
}


describe('mergeMetrics', () => {
  test('counters and histograms add up exactly, the state gauge takes the max, other gauges add, cluster gauges are set', async () => {
    const a = await workerMetrics({ responses: 7, bytes: 1_000_003, latencies: [0.001, 0.5], state: 0, inflight: 2 });
    const b = await workerMetrics({ responses: 5, bytes: 17, latencies: [0.002, 0.003, 3], state: 1, inflight: 1 });
    const merged = await mergeMetrics([a, b], 3);
    assert.match(merged.contentType, /^text\/plain/);
    const s = samples(merged.text);
    const cases: [string, number][] = [
      ['rangeserve_responses_total{status="200"}', 12],
      ['rangeserve_bytes_sent_total', 1_000_020],
      ['rangeserve_volume_op_seconds_bucket{le="0.01",volume="8:1",op="read"}', 3],
      ['rangeserve_volume_op_seconds_bucket{le="1",volume="8:1",op="read"}', 4],
      ['rangeserve_volume_op_seconds_bucket{le="+Inf",volume="8:1",op="read"}', 5],
      ['rangeserve_volume_op_seconds_count{volume="8:1",op="read"}', 5],
      ['rangeserve_volume_state{volume="8:1",mount="slow"}', 1],
      ['rangeserve_volume_inflight{volume="8:1"}', 3],
      ['rangeserve_cluster_workers', 3],
      ['rangeserve_cluster_workers_reporting', 2],
    ];
    for (const [name, want] of cases) assert.equal(s.get(name), want, name);
    const sum = s.get('rangeserve_volume_op_seconds_sum{volume="8:1",op="read"}') ?? NaN;
    assert.ok(Math.abs(sum - 3.506) < 1e-9, `histogram sum ${sum}`);
  });

  test('one worker alone is passed through unchanged', async () => {
    const a = await workerMetrics({ responses: 4, bytes: 40, latencies: [], state: 0, inflight: 0 });
    const s = samples((await mergeMetrics([a], 2)).text);
    assert.equal(s.get('rangeserve_responses_total{status="200"}'), 4);
    assert.equal(s.get('rangeserve_volume_state{volume="8:1",mount="slow"}'), 0);
    assert.equal(s.get('rangeserve_cluster_workers_reporting'), 1);
  });
});

function vol(id: string, state: 'healthy' | 'degraded', extra: Partial<VolumeReport> = {}): VolumeReport {
  return { id, mount: id === 'r' ? '.' : id, state, inflight: 1, queued: 0, latencyMs: { p50: 1, p99: 2, samples: 10 }, ...extra };
}

describe('mergeReadiness: the worst state across workers wins', () => {
  const table: { name: string; reports: WorkerReadiness[]; status: 'ready' | 'degraded'; states: Record<string, string> }[] = [
    {
      name: 'all healthy',
      reports: [
        { pid: 1, volumes: [vol('r', 'healthy'), vol('s', 'healthy')] },
        { pid: 2, volumes: [vol('r', 'healthy'), vol('s', 'healthy')] },
      ],
      status: 'ready',
      states: { r: 'healthy', s: 'healthy' },
    },
    {
      name: 'degraded in one worker only',
      reports: [
        { pid: 1, volumes: [vol('r', 'healthy'), vol('s', 'healthy')] },
        { pid: 2, volumes: [vol('r', 'healthy'), vol('s', 'degraded')] },
      ],
      status: 'degraded',
      states: { r: 'healthy', s: 'degraded' },
    },
    {
      name: 'degraded in the first worker, healthy in the second',
      reports: [
        { pid: 1, volumes: [vol('s', 'degraded')] },
        { pid: 2, volumes: [vol('s', 'healthy')] },
      ],
      status: 'degraded',
      states: { s: 'degraded' },
    },
    {
      name: 'a volume only one worker has seen yet',
      reports: [{ pid: 1, volumes: [vol('r', 'healthy')] }, { pid: 2, volumes: [vol('r', 'healthy'), vol('n', 'degraded')] }],
      status: 'degraded',
      states: { r: 'healthy', n: 'degraded' },
    },
  ];
  for (const row of table) {
    test(row.name, () => {
      const m = mergeReadiness(row.reports, 2);
      assert.equal(m.status, row.status);
      assert.deepEqual(Object.fromEntries(m.volumes.map((v) => [v.id, v.state])), row.states);
      assert.equal(m.workersReporting, row.reports.length);
      assert.deepEqual(
        m.detail.map((d) => d.pid),
        row.reports.map((r) => r.pid),
      );
    });
  }

  test('gate counts add up; latency percentiles are the worst worker\'s', () => {
    const m = mergeReadiness(
      [
        { pid: 1, volumes: [vol('s', 'healthy', { inflight: 3, queued: 1, latencyMs: { p50: 1, p99: 50, samples: 100 } })] },
        { pid: 2, volumes: [vol('s', 'healthy', { inflight: 4, queued: 2, latencyMs: { p50: 7, p99: null, samples: 0 } })] },
      ],
      2,
    );
    assert.deepEqual(m.volumes[0], { id: 's', mount: 's', state: 'healthy', inflight: 7, queued: 3, latencyMs: { p50: 7, p99: 50, samples: 100 } });
  });
});

/** A fake worker: answers snapshot requests after `delayMs`, or never. */
function peer(pid: number, collector: () => Collector, delayMs: number | 'never', snapshot: Snapshot): Peer {
  return {
    pid,
    send(msg: PrimaryMessage) {
      if (msg.type !== 'rs:snapshot-request' || delayMs === 'never') return;
      setTimeout(() => collector().onSnapshot(pid, msg.id, snapshot), delayMs);
    },
  };
}

const readyz = (id: string, state: 'healthy' | 'degraded'): Snapshot => ({ what: 'readyz', volumes: [vol(id, state)] });

describe('Collector: bounded wait', () => {
  test('answers as soon as every worker answered', async () => {
    let c!: Collector;
    const peers = [peer(1, () => c, 5, readyz('s', 'healthy')), peer(2, () => c, 10, readyz('s', 'degraded'))];
    c = new Collector(() => peers, 5_000);
    const t0 = performance.now();
    const r = await c.collect('readyz');
    assert.ok(performance.now() - t0 < 1_000);
    assert.equal(r.what, 'readyz');
    if (r.what === 'readyz') {
      assert.equal(r.readiness.status, 'degraded');
      assert.equal(r.readiness.workersReporting, 2);
    }
  });

  test('a worker that does not answer is left out at the deadline', async () => {
    let c!: Collector;
    const peers = [peer(1, () => c, 1, readyz('s', 'healthy')), peer(2, () => c, 'never', readyz('s', 'degraded'))];
    c = new Collector(() => peers, 150);
    const t0 = performance.now();
    const r = await c.collect('readyz');
    const ms = performance.now() - t0;
    assert.ok(ms >= 140 && ms < 1_000, `${ms} ms`);
    assert.equal(r.what, 'readyz');
    if (r.what === 'readyz') {
      assert.equal(r.readiness.status, 'ready');
      assert.equal(r.readiness.workers, 2);
      assert.equal(r.readiness.workersReporting, 1);
    }
  });

  test('a worker that dies is not waited for; nobody answering gives none', async () => {
    let c!: Collector;
    const peers = [peer(7, () => c, 'never', readyz('s', 'healthy'))];
    c = new Collector(() => peers, 5_000);
    const pending = c.collect('readyz');
    c.onPeerGone(7);
    const r: Collected = await pending;
    assert.deepEqual(r, { what: 'none' });
  });

  test('late and mismatched answers are dropped', async () => {
    let c!: Collector;
    const peers = [peer(1, () => c, 1, readyz('s', 'healthy'))];
    c = new Collector(() => peers, 200);
    const r = await c.collect('metrics'); // the peer answers with a readyz snapshot: not counted
    assert.deepEqual(r, { what: 'none' });
  });
});

describe('PrimaryAsker', () => {
  test('no answer within its timeout, or no channel, gives none', async () => {
    const silent = new PrimaryAsker(() => true, 50);
    assert.deepEqual(await silent.ask('metrics'), { what: 'none' });
    const closed = new PrimaryAsker(() => false, 5_000);
    assert.deepEqual(await closed.ask('readyz'), { what: 'none' });
  });

  test('the answer with its id resolves the matching question', async () => {
    let asker!: PrimaryAsker;
    asker = new PrimaryAsker((msg) => {
      setTimeout(() => asker.onCollected(msg.id, { what: 'none' }), 1);
      return true;
    }, 5_000);
    const t0 = performance.now();
    assert.deepEqual(await asker.ask('readyz'), { what: 'none' });
    assert.ok(performance.now() - t0 < 1_000);
  });
});
