/**
 * Reused read buffers (app/engines/buffer-pool.ts) and the drain-paced body
 * pump that gives them back: the pool stays bounded, and reuse never changes a
 * byte of a download, even with many clients sharing two buffers and reading
 * at different speeds.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import v8 from 'node:v8';
import vm from 'node:vm';
import { after, before, describe, test } from 'node:test';
import { BufferPool } from '../../app/engines/buffer-pool';
import { sha256 } from '../helpers/fixtures';
import { startTestServer, type TestServer } from '../helpers/server';
import { SUITE_TIMEOUT_MS } from '../helpers/timeouts';

const MiB = 1024 * 1024;

describe('BufferPool', { timeout: SUITE_TIMEOUT_MS }, () => {
  test('keeps at most maxFree buffers, reuses them, ignores buffers it did not make', () => {
    const pool = new BufferPool(4096, 2);
    const a = pool.take();
    const b = pool.take();
    const c = pool.take();
    assert.equal(a.length, 4096);
    assert.equal(pool.stats().allocated, 3);
    pool.give(a.subarray(0, 100)); // a trimmed view (a short read) returns its whole buffer
    pool.give(b);
    pool.give(c); // over maxFree: dropped
    pool.give(b); // twice: ignored
    pool.give(Buffer.alloc(4096)); // foreign: ignored
    assert.equal(pool.stats().free, 2);
    const again = [pool.take(), pool.take()];
    const sameMemory = (x: Buffer, y: Buffer): boolean => x.buffer === y.buffer && x.byteOffset === y.byteOffset;
    assert.ok(
      again.some((x) => sameMemory(x, a)) && again.some((x) => sameMemory(x, b)),
      'the given-back buffers are reused',
    );
    assert.equal(pool.stats().reused, 2);
    pool.take();
    assert.equal(pool.stats().allocated, 4, 'an empty pool allocates');
  });

  test('its buffers start on a page (the kernel copies a read 4x slower into a misaligned one)', () => {
    const pool = new BufferPool(1024 * 1024 + 100, 3);
    assert.equal(pool.stats().aligned, true, 'WebAssembly memory is available in this Node');
    const taken = [pool.take(), pool.take(), pool.take(64 * 1024)];
    for (const t of taken) {
      assert.equal(t.byteOffset % 4096, 0);
      assert.equal(pool.owns(t), true);
    }
    assert.equal(taken[2]?.length, 64 * 1024, 'a lending is exactly the length asked for');
    const overflow = pool.take();
    assert.equal(pool.owns(overflow), false, 'with every slot lent, an ordinary Buffer');
    // Slots never overlap: writing one leaves the others alone.
    taken[0]?.fill(1);
    taken[1]?.fill(2);
    assert.equal(taken[0]?.every((x) => x === 1), true);
  });

  test('a slot lent and never given back returns once its Buffer is garbage-collected', async () => {
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc') as () => void;
    const pool = new BufferPool(64 * 1024, 2);
    (() => {
      pool.take();
      pool.take();
    })();
    assert.equal(pool.stats().free, 0);
    for (let i = 0; i < 20 && pool.stats().free < 2; i++) {
      gc();
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.equal(pool.stats().free, 2);
    assert.equal(pool.stats().reclaimed, 2);
  });
});

/** Downloads the whole path; `slow` pauses the response now and then, so the server waits for drain. */
function download(url: string, slow: boolean): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { agent: false }, (res) => {
        const chunks: Buffer[] = [];
        let n = 0;
        res.on('data', (c: Buffer) => {
          chunks.push(c);
          if (slow && ++n % 16 === 0) {
            res.pause();
            setTimeout(() => res.resume(), 5);
          }
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      })
      .on('error', reject);
  });
}

describe('pooled buffers over HTTP', { timeout: SUITE_TIMEOUT_MS }, () => {
  let srv: TestServer | undefined;
  let root: string;
  let data: Buffer;
  before(async () => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'rangeserve-pool-'));
    // Past the 8 MiB ramp, so full-size (pooled) chunks are used; every 4 KiB block differs.
    data = Buffer.alloc(20 * MiB);
    for (let i = 0; i < data.length; i += 4) data.writeUInt32LE((i * 2654435761) >>> 0, i);
    fs.writeFileSync(path.join(root, 'big.bin'), data);
    // The pool belongs to the JS send path; with zero-copy these bodies would go by sendfile.
    srv = await startTestServer({ FILES_ROOT: root, BUFFER_POOL_CHUNKS: '2', READ_CHUNK_BYTES: String(MiB), ZERO_COPY: 'off' });
  });
  after(async () => {
    await srv?.stop();
    fs.rmSync(root, { recursive: true, force: true });
  });

  test('six concurrent downloads, fast and slow, sharing two pooled buffers, are byte-exact', async () => {
    const want = sha256(data);
    const results = await Promise.all(
      [false, true, false, true, false, true].map((slow) => download(`${srv!.url}/files/big.bin`, slow)),
    );
    for (const r of results) {
      assert.equal(r.status, 200);
      assert.equal(r.body.length, data.length);
      assert.equal(sha256(r.body), want);
    }
    const ranged = await new Promise<Buffer>((resolve, reject) => {
      http
        .get(`${srv!.url}/files/big.bin`, { agent: false, headers: { Range: `bytes=${3 * MiB + 7}-${19 * MiB}` } }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve(Buffer.concat(chunks)));
          res.on('error', reject);
        })
        .on('error', reject);
    });
    assert.equal(sha256(ranged), sha256(data.subarray(3 * MiB + 7, 19 * MiB + 1)));
    const health = (await (await fetch(`${srv!.url}/healthz`)).json()) as { mode?: string; bufferPool?: { reused: number; free: number } };
    // One process served every download only in stream mode (cluster workers each have their own pool; the worker engine none).
    if (health.mode === 'stream') {
      assert.ok(health.bufferPool, '/healthz reports the pool');
      assert.ok(health.bufferPool.reused > 0, 'buffers were reused');
      assert.ok(health.bufferPool.free <= 2, 'the pool stays within BUFFER_POOL_CHUNKS');
    }
  });
});
