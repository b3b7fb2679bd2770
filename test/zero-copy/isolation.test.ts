/**
 * Zero-copy keeps the per-volume isolation: each volume has its own sender
 * thread, so a volume whose reads take a second slows only its own transfers,
 * and a hung one (reads that never return in time) has its transfers ended
 * after READ_TIMEOUT_MS while the healthy volume keeps serving through sendfile.
 */
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startTestServer, type TestServer } from '../helpers/server';
import { isolationEnv, makeIsolationFixture, sha, skipReason, sleep, type IsolationFixture } from '../isolation/harness';
import { metric, timedGet } from './util';

const MiB = 1024 * 1024;
const READ_TIMEOUT_MS = 3000; // isolationEnv's

interface Running {
  bytes: number;
  ended: boolean;
  complete: boolean;
  endedAt: number;
  res: http.IncomingMessage | undefined;
  req: http.ClientRequest;
}

function start(url: string): Running {
  const r: Running = { bytes: 0, ended: false, complete: false, endedAt: 0, res: undefined, req: undefined as unknown as http.ClientRequest };
  r.req = http.get(url, { agent: false }, (res) => {
    r.res = res;
    res.on('data', (d: Buffer) => (r.bytes += d.length));
    const done = (): void => {
      if (r.ended) return;
      r.ended = true;
      r.complete = res.complete;
      r.endedAt = Date.now();
    };
    res.on('end', done);
    res.on('close', done);
    res.on('error', done);
  });
  r.req.on('error', () => undefined);
  return r;
}

describe('zero-copy per volume', { skip: skipReason, timeout: 120_000 }, () => {
  let fx: IsolationFixture;
  let server: TestServer;
  const startServer = (): Promise<TestServer> => {
    const engine = (process.env['RS_TEST_MODE'] ?? 'stream').endsWith('worker') ? 'worker' : 'stream';
    return startTestServer(isolationEnv(fx.root, { ZERO_COPY: 'auto', MODE: engine }));
  };
  let fastBig: Buffer;
  const running: Running[] = [];

  before(async () => {
    fx = await makeIsolationFixture();
    fastBig = crypto.randomBytes(2 * MiB);
    fs.writeFileSync(path.join(fx.root, 'fast', 'big.bin'), fastBig);
    // Written to the FUSE daemon's backing folder; the mount passes it through.
    fs.writeFileSync(path.join(fx.base, 'backing', 'big.bin'), crypto.randomBytes(32 * MiB));
    // Pinned: this suite is about the sendfile path itself, so it must not follow a ZERO_COPY=off run
    // (the JS path's isolation is test/isolation/'s, which does follow it). One process: the sender
    // threads and the gate it measures are per process, and in cluster mode its four slow transfers
    // and its metric deltas would be split over two; the engine follows RS_TEST_MODE.
    server = await startServer();
  });
  after(async () => {
    for (const r of running) r.req.destroy();
    await fx?.slow.setDelay(0).catch(() => undefined);
    await server?.stop('SIGKILL');
    await fx?.cleanup();
  });

  it('a slow volume slows only its own transfers; the fast volume keeps sendfile', async () => {
    await fx.slow.setDelay(1000);
    const slow = Array.from({ length: 4 }, () => start(`${server.url}/files/slow/big.bin`));
    running.push(...slow);
    await sleep(3000); // prefetch (1 s) + headers + the first sendfile calls, each a 1 s read
    const zcBefore = await metric(server.url, 'rangeserve_zero_copy_bytes_total');
    const times: number[] = [];
    for (let i = 0; i < 10; i++) {
      const r = await timedGet(`${server.url}/files/fast/big.bin`);
      assert.equal(sha(r.body), sha(fastBig), `fast download ${i}`);
      times.push(r.ms);
    }
    const zcAfter = await metric(server.url, 'rangeserve_zero_copy_bytes_total');
    assert.ok(zcAfter - zcBefore >= 10 * (2 * MiB - 64 * 1024), `the fast downloads went through sendfile (${zcAfter - zcBefore} bytes)`);
    const worst = Math.max(...times);
    assert.ok(worst < 800, `fast zero-copy downloads took up to ${worst.toFixed(0)} ms while the other volume's reads take 1 s: ${times.map((t) => t.toFixed(0)).join(',')}`);
    assert.ok(slow.every((r) => !r.ended), 'slow but moving transfers are not cut');
    assert.ok(slow.every((r) => r.bytes > 64 * 1024), `slow transfers move: ${slow.map((r) => r.bytes).join(',')}`);
    for (const r of slow) r.req.destroy();
    await fx.slow.setDelay(0);
  });

  it('a hung volume: its transfers end short after READ_TIMEOUT_MS, the healthy one keeps serving', async () => {
    await fx.slow.setDelay(0);
    // A fresh server: after the case above the slow volume is "recently slow", and its downloads take the JS path
    // (app/zero-copy/index.ts slowVolume); this case is about a sendfile transfer caught by the hang.
    await server.stop('SIGKILL');
    server = await startServer();
    const zcBefore = await metric(server.url, 'rangeserve_zero_copy_bytes_total');
    const hung = start(`${server.url}/files/slow/big.bin`);
    running.push(hung);
    // Let the socket buffers fill, then make the next read hang and start draining again.
    while (hung.res === undefined || hung.bytes === 0) await sleep(20);
    hung.res.pause();
    await sleep(500);
    assert.ok((await metric(server.url, 'rangeserve_zero_copy_bytes_total')) > zcBefore, 'the transfer goes by sendfile');
    await fx.slow.setDelay(20_000);
    const t0 = Date.now();
    hung.res.resume();
    while (!hung.ended && Date.now() - t0 < 15_000) await sleep(50);
    assert.equal(hung.ended, true, 'the transfer ended');
    assert.equal(hung.complete, false, 'short, never padded');
    const took = hung.endedAt - t0;
    assert.ok(took < READ_TIMEOUT_MS + 3000, `ended ${took} ms after the volume hung`);
    // The healthy volume is unaffected.
    const r = await timedGet(`${server.url}/files/fast/big.bin`);
    assert.equal(sha(r.body), sha(fastBig));
    assert.ok(r.ms < 800, `healthy download took ${r.ms.toFixed(0)} ms`);
    await fx.slow.setDelay(0);
  });
});
