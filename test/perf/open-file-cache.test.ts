/**
 * The open-file cache (app/engines/open-file-cache.ts): a hot file's
 * descriptor is reused, but never once the path names another file or the
 * file changed — checked by what a user sees: the bytes (sha256), the ETag,
 * and whether an If-Range resume splices two versions.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { loadConfig } from '../../app/config';
import { openFileCacheApplies } from '../../app/engines';
import { withOpenFileCache } from '../../app/engines/open-file-cache';
import { createStreamEngine } from '../../app/engines/stream-engine';
import { createWorkerEngine } from '../../app/engines/worker-engine';
import type { BodyPiece } from '../../app/core/types';
import type { Engine, OpenedFile } from '../../app/engines/types';
import { sha256 } from '../helpers/fixtures';
import { raw } from '../helpers/http';
import { startTestServer, type TestServer } from '../helpers/server';
import { SUITE_TIMEOUT_MS } from '../helpers/timeouts';

const T0 = new Date('2021-03-04T05:06:07Z');
const T1 = new Date('2022-03-04T05:06:07Z');

function content(seed: number, size: number): Buffer {
  const b = Buffer.alloc(size);
  for (let i = 0; i < size; i++) b[i] = (i * 31 + seed * 7) & 0xff;
  return b;
}

/** Opens `name` through the engine, reads all of it through the engine's own reader, releases it. */
async function readAll(engine: Engine, file: string): Promise<{ bytes: Buffer; meta: OpenedFile['meta']; fd: number }> {
  const f = await engine.open(file);
  try {
    const reader = (f as OpenedFile & { reader: { read(fd: number, p: number, l: number): Promise<Buffer> } }).reader;
    const bytes = f.meta.size === 0 ? Buffer.alloc(0) : await reader.read(f.fd, 0, f.meta.size);
    return { bytes, meta: f.meta, fd: f.fd };
  } finally {
    await f.close();
  }
}

/** The route's order: stat the path, then open it. */
async function statThenRead(engine: Engine, file: string): Promise<Buffer> {
  await engine.stat(file);
  return (await readAll(engine, file)).bytes;
}

const put = (p: string, data: Buffer, mtime: Date): void => {
  fs.writeFileSync(p, data);
  fs.utimesSync(p, mtime, mtime);
};

let dir: string;
before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rangeserve-ofc-'));
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

// Both engines: reader threads start with trackUnmanagedFds off, so a cached descriptor outlives its thread.
const engines: [string, () => Engine][] = [
  ['stream', () => createStreamEngine({ chunkBytes: 65536 })],
  ['worker', () => createWorkerEngine({ chunkBytes: 65536, threads: 1 })],
];

const span = (start: number, end: number): BodyPiece[] => [{ kind: 'file', start, end }];

for (const [engineName, makeInner] of engines) {
  describe(`open-file cache over the ${engineName} engine`, { timeout: SUITE_TIMEOUT_MS }, () => {
    // Each row changes the file after a first (cached) read; the second read must see the new bytes.
    const changes: { name: string; change(p: string): Buffer }[] = [
      {
        name: 'replaced by rename, same size and same mtime (only the inode differs)',
        change: (p) => {
          const next = content(2, 4096);
          put(p + '.tmp', next, T0);
          fs.renameSync(p + '.tmp', p);
          return next;
        },
      },
      {
        name: 'rewritten in place, same size, new mtime',
        change: (p) => {
          const next = content(3, 4096);
          const fd = fs.openSync(p, 'r+');
          fs.writeSync(fd, next, 0, next.length, 0);
          fs.closeSync(fd);
          fs.utimesSync(p, T1, T1);
          return next;
        },
      },
      {
        name: 'truncated in place',
        change: (p) => {
          fs.truncateSync(p, 1000);
          return content(1, 1000);
        },
      },
      {
        name: 'grown in place (appended)',
        change: (p) => {
          const extra = content(4, 500);
          fs.appendFileSync(p, extra);
          return Buffer.concat([content(1, 4096), extra]);
        },
      },
      {
        name: 'deleted and created again with other bytes',
        change: (p) => {
          fs.unlinkSync(p);
          const next = content(5, 4096);
          put(p, next, T0);
          return next;
        },
      },
    ];
    for (const row of changes) {
      test(`a file ${row.name} is reopened, never read from the old descriptor`, async () => {
        const engine = withOpenFileCache(makeInner(), { max: 10, idleMs: 60_000, chunkBytes: 65536 });
        try {
          const p = path.join(dir, `${engineName}-change.bin`);
          put(p, content(1, 4096), T0);
          assert.equal(sha256(await statThenRead(engine, p)), sha256(content(1, 4096)));
          assert.equal(sha256(await statThenRead(engine, p)), sha256(content(1, 4096)));
          assert.equal(engine.cacheStats().hits, 1, 'the unchanged file was served from the cache');
          const expected = row.change(p);
          // Both orders: with the route's stat first, and open() on its own (its own stat).
          assert.equal(sha256(await statThenRead(engine, p)), sha256(expected));
          assert.equal(sha256((await readAll(engine, p)).bytes), sha256(expected));
          const st = fs.statSync(p, { bigint: true });
          const again = await readAll(engine, p);
          assert.equal(again.meta.size, Number(st.size));
          assert.equal(again.meta.mtimeNs, st.mtimeNs, 'validators come from the file now at the path');
          assert.ok(engine.cacheStats().invalidations >= 1);
        } finally {
          await engine.close();
        }
      });
    }

    test('with hints active, one-read bodies share the descriptor and bigger ones open their own', async () => {
      const engine = withOpenFileCache(makeInner(), { max: 10, idleMs: 60_000, chunkBytes: 65536, sharedBodyBytes: 65536 });
      try {
        const p = path.join(dir, `${engineName}-shared.bin`);
        const data = content(7, 300_000);
        put(p, data, T0);
        const rows: { body: BodyPiece[]; shared: boolean }[] = [
          { body: span(0, 4095), shared: true },
          { body: span(200_000, 200_000 + 65535), shared: true },
          { body: [...span(0, 99), { kind: 'bytes', data: '--sep\r\n' }, ...span(1000, 1099)], shared: true },
          { body: span(0, 65536), shared: false }, // two reads: plans its own readahead hints
          { body: span(0, 299_999), shared: false },
          { body: [...span(0, 99), ...span(1000, 200_000)], shared: false },
        ];
        const first = await engine.open(p, { body: span(0, 4095) });
        const cachedFd = first.fd;
        await first.close();
        for (const row of rows) {
          const before = engine.cacheStats();
          const f = await engine.open(p, { body: row.body });
          try {
            assert.equal(f.fd === cachedFd, row.shared, `${JSON.stringify(row.body)}: shared descriptor`);
            assert.equal(engine.cacheStats().private, before.private + (row.shared ? 0 : 1));
            const reader = (f as OpenedFile & { reader: { read(fd: number, p: number, l: number): Promise<Buffer> } }).reader;
            const piece = row.body.find((b) => b.kind === 'file')!;
            assert.ok(piece.kind === 'file');
            const got = await reader.read(f.fd, piece.start, Math.min(65536, piece.end - piece.start + 1));
            assert.equal(sha256(got), sha256(data.subarray(piece.start, piece.start + got.length)));
          } finally {
            await f.close();
          }
        }
      } finally {
        await engine.close();
      }
    });

    test('a held file is guessed; its first chunk is read with the resolve, and only kept for the same file', async () => {
      const engine = withOpenFileCache(makeInner(), { max: 10, idleMs: 60_000, chunkBytes: 65536 });
      try {
        const p = path.join(dir, `${engineName}-early.bin`);
        const v1 = content(8, 200_000);
        put(p, v1, T0);
        assert.equal(engine.guess!(p), undefined, 'nothing is guessed before the file was resolved and opened');
        // The route's order: resolve, open (with the plan's body), read through the lease.
        const serve = async (body: BodyPiece[], expect: Buffer): Promise<boolean> => {
          const g = engine.guess!(p);
          const r = await engine.resolve(p, g ? { body } : {});
          const f = await engine.open(r.real, { body, ...(r.early ? { early: r.early } : {}) });
          try {
            const piece = body[0]!;
            assert.ok(piece.kind === 'file');
            const reader = (f as OpenedFile & { reader: { read(fd: number, p: number, l: number): Promise<Buffer> } }).reader;
            const got = await reader.read(f.fd, piece.start, piece.end - piece.start + 1);
            assert.equal(sha256(got), sha256(expect.subarray(piece.start, piece.end + 1)));
          } finally {
            await f.close();
          }
          return r.early !== undefined;
        };
        assert.equal(await serve(span(0, 4095), v1), false, 'first request: a miss');
        assert.deepEqual(engine.guess!(p)?.stat.size, 200_000);
        assert.equal(await serve(span(10_000, 14_095), v1), true, 'second: read with the resolve');
        assert.equal(await serve(span(190_000, 199_999), v1), true);
        assert.equal(engine.cacheStats().early, 2);
        // Replaced by rename (same size and mtime): the guess reads the old descriptor, which must not be served.
        const v2 = content(9, 200_000);
        put(p + '.tmp', v2, T0);
        fs.renameSync(p + '.tmp', p);
        assert.equal(await serve(span(10_000, 14_095), v2), false, 'the old file was read early but not kept');
        assert.equal(await serve(span(20_000, 24_095), v2), true, 'the new file is held now');
        // Changed in place: new size.
        fs.appendFileSync(p, Buffer.alloc(10, 1));
        const v3 = Buffer.concat([v2, Buffer.alloc(10, 1)]);
        assert.equal(await serve(span(199_995, 200_009), v3), false);
        assert.equal(engine.cacheStats().early, 3);
      } finally {
        await engine.close();
      }
    });

    test('bounded: least recently used entries are evicted, idle ones closed; a lent descriptor outlives its eviction', async () => {
      const engine = withOpenFileCache(makeInner(), { max: 2, idleMs: 200, chunkBytes: 65536 });
      try {
        const files = [0, 1, 2].map((i) => {
          const p = path.join(dir, `${engineName}-lru-${i}.bin`);
          put(p, content(10 + i, 2048), T0);
          return p;
        });
        const held = await engine.open(files[0]!); // lent out while it is evicted
        await readAll(engine, files[1]!);
        await readAll(engine, files[2]!);
        assert.equal(engine.cacheStats().entries, 2);
        assert.equal(engine.cacheStats().evictions, 1);
        const reader = (held as OpenedFile & { reader: { read(fd: number, p: number, l: number): Promise<Buffer> } }).reader;
        assert.equal(sha256(await reader.read(held.fd, 0, 2048)), sha256(content(10, 2048)), 'still readable after eviction');
        await held.close();
        await held.close(); // idempotent
        // files[1] is the least recently used now: reading it again is a hit, files[0] a miss.
        const before = engine.cacheStats();
        await readAll(engine, files[2]!);
        assert.equal(engine.cacheStats().hits, before.hits + 1);
        await new Promise((r) => setTimeout(r, 700));
        assert.equal(engine.cacheStats().entries, 0, 'idle entries were closed');
      } finally {
        await engine.close();
      }
    });
  });
}

describe('where the open-file cache applies', { timeout: SUITE_TIMEOUT_MS }, () => {
  const rows: { env: Record<string, string>; applies: boolean }[] = [
    { env: { MODE: 'stream', HINTS: 'off' }, applies: true },
    { env: { MODE: 'cluster', CLUSTER_IO: 'stream', HINTS: 'off' }, applies: true },
    { env: { MODE: 'stream', HINTS: 'off', OPEN_FILE_CACHE_MAX: '0' }, applies: false },
    { env: { MODE: 'worker', HINTS: 'off' }, applies: true },
    { env: { MODE: 'worker', OPEN_FILE_CACHE_MAX: '0' }, applies: false },
    { env: { MODE: 'cluster', CLUSTER_IO: 'worker', HINTS: 'off' }, applies: true },
    { env: { MODE: 'stream', HINTS: 'on' }, applies: true },
  ];
  for (const row of rows) {
    test(`${JSON.stringify(row.env)}: ${String(row.applies)}`, () => {
      assert.equal(openFileCacheApplies(loadConfig(row.env, '/srv')), row.applies);
    });
  }
});

for (const hints of ['off', 'on']) {
  describe(`open-file cache over HTTP, HINTS=${hints}`, { timeout: SUITE_TIMEOUT_MS }, () => {
    let srv: TestServer | undefined;
    let root: string;
    before(async () => {
      root = fs.mkdtempSync(path.join(os.tmpdir(), 'rangeserve-ofc-http-'));
      put(path.join(root, 'v.bin'), content(1, 100_000), T0);
      // With hints active, only one-read bodies share the cached descriptor (app/engines/index.ts).
      // One process: this suite counts the cache's early reads in /healthz, which in cluster mode
      // would answer for one worker while requests go to both. The engine follows RS_TEST_MODE.
      const engine = (process.env['RS_TEST_MODE'] ?? 'stream').endsWith('worker') ? 'worker' : 'stream';
      srv = await startTestServer({ FILES_ROOT: root, MODE: engine, OPEN_FILE_CACHE_MAX: '100', HINTS: hints });
    });
    after(async () => {
      await srv?.stop();
      fs.rmSync(root, { recursive: true, force: true });
    });

    test('after a replace, GET and If-Range resumes see the new file under its own ETag, never a splice', async () => {
      const url = srv!.url;
      const first = await raw(url, { path: '/files/v.bin' });
      assert.equal(first.status, 200);
      assert.equal(sha256(first.body), sha256(content(1, 100_000)));
      const etag1 = first.headers.etag!;
      const warm = await raw(url, { path: '/files/v.bin', headers: { Range: 'bytes=0-4095' } });
      assert.equal(sha256(warm.body), sha256(content(1, 4096)));

      // Replace it atomically (same size, a new mtime), as a deploy would.
      const next = content(2, 100_000);
      put(path.join(root, 'v.tmp'), next, T1);
      fs.renameSync(path.join(root, 'v.tmp'), path.join(root, 'v.bin'));

      const resumed = await raw(url, { path: '/files/v.bin', headers: { Range: 'bytes=50000-', 'If-Range': etag1 } });
      assert.equal(resumed.status, 200, 'the old ETag no longer matches: the whole new file');
      assert.equal(sha256(resumed.body), sha256(next));
      assert.notEqual(resumed.headers.etag, etag1);

      const small = await raw(url, { path: '/files/v.bin', headers: { Range: 'bytes=10-4105', 'If-Range': resumed.headers.etag! } });
      assert.equal(small.status, 206);
      assert.equal(small.headers['content-range'], 'bytes 10-4105/100000');
      assert.equal(sha256(small.body), sha256(next.subarray(10, 4106)));
    });

    test('a hot file: ranges read with the resolve (one pool round trip) carry the same bytes and headers', async () => {
      const url = srv!.url;
      const early = async (): Promise<number> => {
        const h = await raw(url, { path: '/healthz' });
        return (JSON.parse(h.body.toString()) as { openFileCache: { early: number } }).openFileCache.early;
      };
      const data = fs.readFileSync(path.join(root, 'v.bin'));
      const first = await raw(url, { path: '/files/v.bin', headers: { Range: 'bytes=0-99' } });
      const before = await early();
      for (const [start, end] of [[0, 99], [5000, 9095], [99_000, 99_999]] as const) {
        const r = await raw(url, { path: '/files/v.bin', headers: { Range: `bytes=${start}-${end}` } });
        assert.equal(r.status, 206);
        assert.equal(r.headers['content-range'], `bytes ${start}-${end}/100000`);
        assert.equal(r.headers.etag, first.headers.etag);
        assert.equal(r.headers['last-modified'], first.headers['last-modified']);
        assert.equal(sha256(r.body), sha256(data.subarray(start, end + 1)));
      }
      assert.equal(await early(), before + 3, 'each range was read with its resolve');
      const head = await raw(url, { method: 'HEAD', path: '/files/v.bin' });
      assert.equal(head.headers['content-length'], '100000');
      assert.equal(await early(), before + 3, 'a HEAD reads nothing');
    });
  });
}
