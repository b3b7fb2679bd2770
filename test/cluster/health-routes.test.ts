/**
 * /readyz and /metrics read from whatever ObservabilitySource the process
 * passes (a cluster worker: the primary's merge). What a user checks: the
 * status, Retry-After and body for ready, degraded, and no answer in time.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import express from 'express';
import request from 'supertest';
import { healthRoutes, type ObservabilitySource } from '../../app/http/health-routes';

function app(source: ObservabilitySource): express.Express {
  const a = express();
  a.use(healthRoutes(undefined, source));
  return a;
}

const none: ObservabilitySource = { readiness: () => Promise.resolve(undefined), metrics: () => Promise.resolve(undefined) };

test('no answer in time: 503, short text body, Retry-After, for both routes', async () => {
  for (const route of ['/metrics', '/readyz']) {
    const r = await request(app(none)).get(route);
    assert.equal(r.status, 503, route);
    assert.equal(r.headers['retry-after'], '1');
    assert.equal(r.headers['cache-control'], 'no-store');
    assert.match(r.text, /^(metrics|readiness) unavailable: no answer in time\n$/);
  }
});

test('a source that fails: /metrics 500, /readyz 503', async () => {
  const failing: ObservabilitySource = { readiness: () => Promise.reject(new Error('x')), metrics: () => Promise.reject(new Error('x')) };
  assert.equal((await request(app(failing)).get('/metrics')).status, 500);
  assert.equal((await request(app(failing)).get('/readyz')).status, 503);
});

test("the source's merged answers are served as they are", async () => {
  const body = { status: 'degraded', volumes: [{ id: '0:40', state: 'degraded' }], workers: 2, workersReporting: 2, detail: [] };
  const merged: ObservabilitySource = {
    readiness: () => Promise.resolve({ ready: false, body }),
    metrics: () => Promise.resolve({ contentType: 'text/plain; version=0.0.4; charset=utf-8', text: 'rangeserve_cluster_workers 2\n' }),
  };
  const m = await request(app(merged)).get('/metrics');
  assert.equal(m.status, 200);
  assert.equal(m.headers['content-type'], 'text/plain; version=0.0.4; charset=utf-8');
  assert.equal(m.text, 'rangeserve_cluster_workers 2\n');
  const r = await request(app(merged)).get('/readyz');
  assert.equal(r.status, 503);
  assert.deepEqual(r.body, body);
});
