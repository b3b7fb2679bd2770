/**
 * The worker engine on its own (MODE=worker whatever RS_TEST_MODE says):
 * a reader thread that dies ends its response short and is replaced, and
 * paused downloads hold a bounded amount of memory.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { makeFixtures, pattern, type Fixtures } from '../helpers/fixtures';
import { raw } from '../helpers/http';
import { rssKiB, sleep } from '../helpers/proc';
import { startTestServer, type TestServer } from '../helpers/server';
import { health, killAll } from './util';
import { SUITE_TIMEOUT_MS } from '../helpers/timeouts';

const MiB = 1024 * 1024;
const BIG = 64 * MiB;
/** The test-only hook (workers/reader.ts): a reader thread exits when asked to read at this offset. */
const CRASH_AT = 5 * MiB;

let fx: Fixtures;
let srv: TestServer | undefined;
const sockets: net.Socket[] = [];

before(() => {
  fx = makeFixtures();
  fs.writeFileSync(path.join(fx.root, 'large.bin'), pattern(0, BIG));
});
after(async () => {
  for (const s of sockets) s.destroy();
  if (srv) {
    const pid = srv.child.pid;
    await srv.stop();
    if (pid !== undefined) killAll([pid]);
  }
  fx?.cleanup();
});

describe('worker engine', { timeout: SUITE_TIMEOUT_MS }, () => {
  test('a reader thread that dies ends its response short (never hangs) and is replaced', async () => {
    // The body must go through the reader threads to reach the crash hook, not through sendfile.
    srv = await startTestServer({ FILES_ROOT: fx.root, MODE: 'worker', ZERO_COPY: 'off', RS_TEST_CRASH_READER_AT: String(CRASH_AT) });
    const h0 = await health(srv.url);
    assert.equal(h0.engine, 'worker');
    assert.equal(h0.mode, 'worker');

    const started = Date.now();
    const r = await raw(srv.url, { path: '/files/large.bin' }, 15_000);
    assert.equal(r.status, 200);
    assert.equal(r.complete, false, 'the connection ended short');
    assert.ok(r.body.length <= CRASH_AT, `received ${r.body.length} bytes, at most the ${CRASH_AT} before the crash`);
    assert.ok(r.body.equals(pattern(0, r.body.length)), 'the bytes before the cut are right');
    assert.ok(Date.now() - started < 10_000, 'ended promptly');

    // The pool replaced the thread: the next downloads work, including the same file around the crash offset.
    const h1 = await health(srv.url);
    assert.ok((h1.threadExits ?? 0) >= 1, `threadExits ${h1.threadExits}`);
    const again = await raw(srv.url, { path: '/files/large.bin', headers: { Range: `bytes=0-${CRASH_AT - 1}` } });
    assert.equal(again.status, 206);
    assert.ok(again.complete && again.body.equals(pattern(0, CRASH_AT)));
    const f = await raw(srv.url, { path: '/files/f.bin' });
    assert.ok(f.complete && f.body.equals(fx.fBin));
    await srv.stop();
    srv = undefined;
  });

  test('a reader thread that dies leaves the other downloads it opened files for intact', async () => {
    // One reader thread: it opens the files of every download, and its exit must not close them
    // (Node's default for a worker's fds), or those downloads fail with EBADF or, once the number
    // is reused, read another file's bytes.
    const own = await startTestServer({ FILES_ROOT: fx.root, MODE: 'worker', WORKER_THREADS: '1', ZERO_COPY: 'off', RS_TEST_CRASH_READER_AT: String(CRASH_AT) });
    try {
      await pausedDownloadSurvivesCrash(own);
    } finally {
      // SIGKILL: a paused download would otherwise hold the shutdown for its grace period.
      await own.stop('SIGKILL');
    }
  });

  async function pausedDownloadSurvivesCrash(srv: TestServer): Promise<void> {
    const FROM = 100; // its reads start at 100 + k * chunk: never at the crash offset
    const b = net.connect(srv.port, '127.0.0.1');
    sockets.push(b);
    const got: Buffer[] = [];
    let received = 0;
    const ended = new Promise<void>((resolve) => b.on('close', () => resolve()));
    b.on('data', (d: Buffer) => {
      got.push(d);
      received += d.length;
      if (received >= MiB && received - d.length < MiB) b.pause();
    });
    b.write(`GET /files/large.bin HTTP/1.1\r\nHost: x\r\nRange: bytes=${FROM}-\r\nConnection: close\r\n\r\n`);
    while (received < MiB) await sleep(20);

    // Another request makes the one thread read at the crash offset: the thread dies.
    const a = await raw(srv.url, { path: '/files/large.bin', headers: { Range: `bytes=${CRASH_AT}-${CRASH_AT + 65535}` } }, 15_000);
    assert.equal(a.status, 503, 'a reader that dies before the headers: 503, retry later');
    assert.ok(((await health(srv.url)).threadExits ?? 0) >= 1);

    b.resume();
    await ended;
    const all = Buffer.concat(got);
    const head = all.indexOf('\r\n\r\n');
    assert.match(all.subarray(0, head).toString('latin1'), /^HTTP\/1\.1 206 /);
    const body = all.subarray(head + 4);
    assert.equal(body.length, BIG - FROM, 'the paused download completed');
    assert.ok(body.equals(pattern(FROM, BIG - FROM)), 'byte-exact');
  }

  test('100 downloads paused by their clients keep RSS bounded', async (t) => {
    srv = await startTestServer({ FILES_ROOT: fx.root, MODE: 'worker', STALL_TIMEOUT_MS: '120000' });
    const pid = srv.child.pid!;
    // Warm up: threads started, code paths compiled, one full download done.
    const warm = await raw(srv.url, { path: '/files/large.bin' }, 30_000);
    assert.ok(warm.complete);
    await sleep(500);
    const before = rssKiB([pid]);

    // Each client sends its GET and never reads. The server fills the kernel's
    // socket buffers, then the pump stops: one chunk being written
    // plus the chunk the response is still writing (plus at most one read in
    // flight), i.e. about 2-3 chunks of 1 MiB per download. Reading the files
    // in would be 100 × 64 MiB.
    for (let i = 0; i < 100; i++) {
      const s = net.connect(srv.port, '127.0.0.1');
      s.on('error', () => undefined);
      s.write('GET /files/large.bin HTTP/1.1\r\nHost: x\r\n\r\n');
      s.pause();
      sockets.push(s);
    }
    // Let every download reach its back-pressure point, then measure.
    let peak = 0;
    for (let i = 0; i < 20; i++) {
      await sleep(200);
      peak = Math.max(peak, rssKiB([pid]));
    }
    const grownMiB = (peak - before) / 1024;
    const h = await health(srv.url);
    assert.equal(h.engine, 'worker');
    // Bound: 100 × 3 chunks + 64 MiB of allocator slack: far below one file's worth per download.
    assert.ok(grownMiB < 100 * 3 + 64, `RSS grew by ${grownMiB.toFixed(1)} MiB (before ${(before / 1024).toFixed(1)} MiB)`);
    t.diagnostic(`paused-downloads RSS: before ${(before / 1024).toFixed(1)} MiB, peak +${grownMiB.toFixed(1)} MiB`);
    for (const s of sockets.splice(0)) s.destroy();
    await srv.stop();
    srv = undefined;
  });
});
