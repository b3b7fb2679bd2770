/**
 * The zero-copy path end to end, against the real server in the stream and
 * the worker engine: byte-exact bodies over keep-alive and pipelining, client
 * aborts that leave no descriptor behind, slow clients that do not slow fast
 * ones, the stall timeout, and ZERO_COPY=off taking the JS path.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { chunkSizeAt } from '../../app/engines/chunk-size';
import { makeFixtures, pattern, sha256, type Fixtures } from '../helpers/fixtures';
import { raw } from '../helpers/http';
import { openFds, servingPids, sleep, waitFor } from '../helpers/proc';
import { startTestServer, type TestServer } from '../helpers/server';
import { get, metric, pipelined, timedGet, unreadDownload } from './util';

const MiB = 1024 * 1024;
const LARGE = 64 * MiB;
const MEDIUM = 8 * MiB;
let fx: Fixtures;
let large: Buffer;
let medium: Buffer;

before(() => {
  fx = makeFixtures();
  large = pattern(0, LARGE);
  medium = pattern(7, MEDIUM);
  fs.writeFileSync(path.join(fx.root, 'large.bin'), large);
  fs.writeFileSync(path.join(fx.root, 'medium.bin'), medium);
});
after(() => fx?.cleanup());

async function healthOf(url: string): Promise<{ zeroCopy?: { active: boolean; reason: string } }> {
  return JSON.parse((await raw(url, { path: '/healthz' })).body.toString()) as { zeroCopy?: { active: boolean; reason: string } };
}

for (const engine of ['stream', 'worker'] as const) {
  describe(`zero-copy, ${engine} engine`, () => {
    let srv: TestServer;
    before(async () => {
      // VOLUME_MAX_INFLIGHT pinned: it bounds the sender threads the fd-leak test warms up.
      srv = await startTestServer({ FILES_ROOT: fx.root, MODE: engine, ZERO_COPY: 'auto', STALL_TIMEOUT_MS: '1500', VOLUME_MAX_INFLIGHT: '4' });
    });
    after(async () => {
      await srv?.stop();
    });

    test('/healthz says it is active', async () => {
      const h = await healthOf(srv.url);
      assert.equal(h.zeroCopy?.active, true, JSON.stringify(h.zeroCopy));
    });

    test('a keep-alive sequence of full, range and small responses is byte-exact on one connection', async () => {
      const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
      const before = await metric(srv.url, 'rangeserve_zero_copy_bytes_total');
      const steps: { path: string; range?: string; want: Buffer; status: number }[] = [
        { path: '/files/medium.bin', want: medium, status: 200 },
        { path: '/files/medium.bin', range: 'bytes=1000-5000999', want: medium.subarray(1000, 5001000), status: 206 },
        { path: '/files/f.bin', want: fx.fBin, status: 200 }, // under the threshold: the JS path, same connection
        { path: '/files/medium.bin', range: 'bytes=-3000000', want: medium.subarray(MEDIUM - 3000000), status: 206 },
        { path: '/files/large.bin', want: large, status: 200 },
      ];
      for (const [i, s] of steps.entries()) {
        const r = await timedGet(`${srv.url}${s.path}`, s.range ? { Range: s.range } : {}, agent);
        assert.equal(r.status, s.status, `step ${i}`);
        assert.equal(sha256(r.body), sha256(s.want), `step ${i} bytes`);
        if (i > 0) assert.equal(r.reused, true, `step ${i} reused the connection`);
      }
      agent.destroy();
      // The first chunk (read before the status line) goes through Node, the rest through sendfile.
      // The counter moves when the last completion reaches JS, maybe just after the client read the last byte.
      const want = MEDIUM + 5_000_000 + 3_000_000 + LARGE - 4 * chunkSizeAt(0, MiB);
      let sent = 0;
      for (let i = 0; i < 50 && (sent = (await metric(srv.url, 'rangeserve_zero_copy_bytes_total')) - before) < want; i++) await sleep(20);
      assert.equal(sent, want, 'every large body went through sendfile after its first chunk');
    });

    test('pipelined requests get their bodies in order, byte-exact', async () => {
      const responses = await pipelined(srv.port, [
        get('/files/medium.bin'),
        get('/files/large.bin', 'bytes=100-2000099'),
        get('/files/f.bin'),
        get('/files/medium.bin', 'bytes=0-99999'),
      ], 4);
      assert.deepEqual(responses.map((r) => r.status), [200, 206, 200, 206]);
      assert.equal(sha256(responses[0]!.body), sha256(medium));
      assert.equal(sha256(responses[1]!.body), sha256(large.subarray(100, 2000100)));
      assert.equal(sha256(responses[2]!.body), sha256(fx.fBin));
      assert.equal(sha256(responses[3]!.body), sha256(medium.subarray(0, 100000)));
    });

    test('clients that abort mid-transfer leave no descriptor open', async () => {
      const pids = await servingPids(srv.url);
      // Warm-up: a volume's sender threads (each with an epoll fd and an eventfd) are started
      // as concurrent transfers need them, up to VOLUME_MAX_INFLIGHT (4 here); they exist from here on.
      const warm = await Promise.all(Array.from({ length: 8 }, () => unreadDownload(srv.port, '/files/large.bin')));
      for (const s of warm) s.destroy();
      await sleep(500);
      const baseline = openFds(pids);
      for (let round = 0; round < 4; round++) {
        const sockets = await Promise.all(Array.from({ length: 10 }, () => unreadDownload(srv.port, '/files/large.bin')));
        for (const s of sockets) s.destroy();
      }
      const settled = await waitFor(() => openFds(pids) <= baseline, 5_000);
      assert.ok(settled, `open fds ${openFds(pids)}, baseline ${baseline}`);
      // And the server still answers byte-exactly.
      const r = await timedGet(`${srv.url}/files/large.bin`);
      assert.equal(sha256(r.body), sha256(large));
    });

    test('50 slow clients do not slow down fast requests', async () => {
      const slow = await Promise.all(Array.from({ length: 50 }, () => unreadDownload(srv.port, '/files/large.bin')));
      try {
        const times: number[] = [];
        for (let i = 0; i < 12; i++) {
          const start = (i * 3_333_333) % (LARGE - MiB);
          const r = await timedGet(`${srv.url}/files/large.bin`, { Range: `bytes=${start}-${start + MiB - 1}` });
          assert.equal(r.status, 206);
          assert.ok(r.body.equals(large.subarray(start, start + MiB)), `request ${i} bytes`);
          times.push(r.ms);
        }
        const worst = Math.max(...times);
        assert.ok(worst < 2_000, `fast requests took up to ${worst.toFixed(0)} ms: ${times.map((t) => t.toFixed(0)).join(', ')}`);
      } finally {
        for (const s of slow) s.destroy();
      }
    });

    test('a stalled client is still dropped after STALL_TIMEOUT_MS', async () => {
      const s = await unreadDownload(srv.port, '/files/large.bin');
      const t0 = Date.now();
      let received = 0;
      const closed = new Promise<void>((resolve) => s.once('close', () => resolve()));
      await sleep(4_000); // buffers fill within a moment; from then on nothing moves
      s.on('data', (d: Buffer) => (received += d.length));
      s.resume();
      await Promise.race([closed, sleep(10_000)]);
      assert.ok(s.destroyed || s.readableEnded, 'the server closed the connection');
      assert.ok(received < LARGE, `got ${received} of ${LARGE} bytes: cut short`);
      assert.ok(Date.now() - t0 < 14_000);
    });

    test('a slow but moving client is never cut by the stall timer', async () => {
      // ~10 MiB/s for 64 MiB: several stall timeouts long, with progress all the time.
      const t0 = Date.now();
      const body = await new Promise<Buffer>((resolve, reject) => {
        http.get(`${srv.url}/files/large.bin`, { agent: false }, (res) => {
          const chunks: Buffer[] = [];
          let got = 0;
          res.on('data', (d: Buffer) => {
            chunks.push(d);
            got += d.length;
            const due = (got / (10 * MiB)) * 1000;
            const ahead = due - (Date.now() - t0);
            if (ahead > 20) {
              res.pause();
              setTimeout(() => res.resume(), ahead);
            }
          });
          res.on('end', () => resolve(Buffer.concat(chunks)));
          res.on('error', reject);
          res.on('aborted', () => reject(new Error('cut')));
        }).on('error', reject);
      });
      assert.ok(Date.now() - t0 > 3_000, 'the download really was slow');
      assert.equal(sha256(body), sha256(large));
    });
  });
}

describe('ZERO_COPY=off', () => {
  let srv: TestServer;
  before(async () => {
    srv = await startTestServer({ FILES_ROOT: fx.root, MODE: 'stream', ZERO_COPY: 'off' });
  });
  after(async () => {
    await srv?.stop();
  });

  test('takes the JS path for every body and says so in /healthz', async () => {
    const h = await healthOf(srv.url);
    assert.deepEqual(h.zeroCopy, { active: false, reason: 'disabled by ZERO_COPY=off' });
    const r = await timedGet(`${srv.url}/files/large.bin`);
    assert.equal(sha256(r.body), sha256(large));
    assert.equal(await metric(srv.url, 'rangeserve_zero_copy_responses_total'), 0);
    assert.ok((await metric(srv.url, 'rangeserve_bytes_sent_total')) >= LARGE);
  });
});
