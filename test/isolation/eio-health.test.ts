/**
 * (e) I/O errors: 503 + Retry-After before the headers, a short body after them.
 * (f) Error limiting: N errors degrade a volume, which then refuses at once
 * (503 + Retry-After, shown by /readyz and /metrics) until the probe finds it
 * working again.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { startTestServer, type TestServer } from '../helpers/server';
import { raw } from '../helpers/http';
import { isolationEnv, makeIsolationFixture, readyz, sha, skipReason, waitUntil, type IsolationFixture } from './harness';

describe('I/O errors from a volume', { skip: skipReason, timeout: 60_000 }, () => {
  let fx: IsolationFixture;
  let server: TestServer;

  before(async () => {
    fx = await makeIsolationFixture();
    server = await startTestServer(isolationEnv(fx.root, { VOLUME_ERROR_LIMIT: '100' }));
  });
  after(async () => {
    await server?.stop('SIGKILL');
    await fx?.cleanup();
  });

  it('(e) EIO before the headers is a 503 with Retry-After', async () => {
    await fx.slow.setEio(true);
    const r = await raw(server.url, { path: '/files/slow/f0.bin' });
    assert.equal(r.status, 503);
    assert.match(String(r.headers['retry-after']), /^\d+$/);
    await fx.slow.setEio(false);
  });

  it('(e) EIO after the headers ends the body short', async () => {
    await fx.slow.setDelay(200);
    const u = new URL(server.url);
    const result = await new Promise<{ status: number; bytes: number; complete: boolean }>((resolve, reject) => {
      const req = http.get({ host: u.hostname, port: u.port, path: '/files/slow/f0.bin', agent: false }, (res) => {
        let bytes = 0;
        void fx.slow.setEio(true);
        res.on('data', (d: Buffer) => (bytes += d.length));
        const done = (): void => resolve({ status: res.statusCode ?? 0, bytes, complete: res.complete });
        res.on('end', done);
        res.on('aborted', done);
        res.on('error', done);
      });
      req.on('error', reject);
      req.setTimeout(20_000, () => req.destroy(new Error('timeout')));
    });
    await fx.slow.setEio(false);
    await fx.slow.setDelay(0);
    assert.equal(result.status, 200);
    assert.equal(result.complete, false);
    assert.ok(result.bytes > 0 && result.bytes < fx.slowData.length, `got ${result.bytes} bytes`);
  });
});

describe('a failing volume is degraded, then restored by the probe', { skip: skipReason, timeout: 60_000 }, () => {
  let fx: IsolationFixture;
  let server: TestServer;

  before(async () => {
    fx = await makeIsolationFixture();
    server = await startTestServer(isolationEnv(fx.root, { VOLUME_ERROR_LIMIT: '3', VOLUME_ERROR_WINDOW_MS: '60000' }));
  });
  after(async () => {
    await server?.stop('SIGKILL');
    await fx?.cleanup();
  });

  it('(f) degraded: immediate 503 + Retry-After, /readyz and /metrics show it, the probe restores it', async () => {
    assert.equal((await readyz(server.url)).status, 200);
    await fx.slow.setEio(true);
    for (let i = 0; i < 3; i++) assert.equal((await raw(server.url, { path: `/files/slow/f${i}.bin` })).status, 503);
    const ready = await readyz(server.url);
    assert.equal(ready.status, 503);
    const vol = ready.body.volumes.find((v) => v.mount === 'slow');
    assert.equal(vol?.state, 'degraded');
    assert.equal(ready.body.volumes.find((v) => v.mount === '.')?.state, 'healthy');
    // Refused at once, without touching the disk (now made slow to prove it).
    await fx.slow.setDelay(2000);
    const t0 = performance.now();
    const refused = await raw(server.url, { path: '/files/slow/f3.bin' });
    const ms = performance.now() - t0;
    assert.equal(refused.status, 503);
    assert.match(String(refused.headers['retry-after']), /^\d+$/);
    assert.ok(ms < 100, `refusal took ${ms.toFixed(1)} ms`);
    // The healthy volume is unaffected.
    assert.equal((await raw(server.url, { path: '/files/fast/small.bin' })).status, 200);
    const metrics = (await raw(server.url, { path: '/metrics' })).body.toString();
    assert.match(metrics, new RegExp(`rangeserve_volume_state\\{volume="${vol?.id}",mount="slow"\\} 1`));
    assert.match(metrics, /rangeserve_volume_errors_total\{[^}]*code="EIO"[^}]*\} [1-9]/);
    assert.match(metrics, /rangeserve_volume_op_seconds_bucket\{/);
    // Recovery: the probe reads a recently served file and restores the volume.
    await fx.slow.setEio(false);
    await fx.slow.setDelay(0);
    assert.ok(await waitUntil(async () => (await readyz(server.url)).status === 200, 10_000, 100), 'restored');
    const full = await raw(server.url, { path: '/files/slow/f3.bin' });
    assert.equal(full.status, 200);
    assert.equal(sha(full.body), sha(fx.slowData));
    assert.ok(server.logs.some((l) => l.includes('"volume degraded"')), 'the state change is logged');
    assert.ok(server.logs.some((l) => l.includes('"volume restored"')), 'the restore is logged');
  });
});
