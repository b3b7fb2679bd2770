/**
 * What happens to a download while it runs (checklist rows 57-59, 70):
 * aborts release descriptors, truncation ends the response short, an append
 * is not sent, a rename keeps the old bytes, and a stalled client is dropped.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { makeFixtures, pattern, sha256, type Fixtures } from '../helpers/fixtures';
import { openFilesUnder, servingPids, sleep, waitFor } from '../helpers/proc';
import { startTestServer, type TestServer } from '../helpers/server';
import { SUITE_TIMEOUT_MS } from '../helpers/timeouts';

const BIG = 64 * 1024 * 1024;
let fx: Fixtures;
let srv: TestServer;

before(async () => {
  fx = makeFixtures();
  fs.writeFileSync(path.join(fx.root, 'large.bin'), pattern(0, BIG));
  // The open-file cache keeps a hot file's descriptor by design, for OPEN_FILE_CACHE_IDLE_MS after its
  // last use: a short idle time makes row 70 check that nothing, cached or not, outlives it.
  srv = await startTestServer({ FILES_ROOT: fx.root, STALL_TIMEOUT_MS: '1500', OPEN_FILE_CACHE_IDLE_MS: '500' });
});
after(async () => {
  await srv?.stop();
  fx?.cleanup();
});

interface Partial {
  readonly status: number;
  readonly length: number;
  readonly received: Buffer[];
  readonly res: http.IncomingMessage;
}

/** Starts a GET and resolves once the first body chunk arrived, with the response paused. */
function firstChunk(url: string, agent?: http.Agent): Promise<Partial> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: agent ?? false }, (res) => {
      const received: Buffer[] = [];
      res.once('data', (d: Buffer) => {
        received.push(d);
        res.pause();
        resolve({ status: res.statusCode ?? 0, length: Number(res.headers['content-length']), received, res });
      });
    });
    req.on('error', reject);
  });
}

/** Reads the rest of a paused response; `complete` is false when the connection ended short. */
function rest(p: Partial): Promise<{ body: Buffer; complete: boolean }> {
  return new Promise((resolve) => {
    const { res, received } = p;
    const done = (): void => resolve({ body: Buffer.concat(received), complete: res.complete });
    res.on('data', (d: Buffer) => received.push(d));
    res.on('end', done);
    res.on('close', done);
    res.on('error', done);
    res.resume();
  });
}

describe(`downloads while files change (${process.env['RS_TEST_MODE'] ?? 'stream'})`, { timeout: SUITE_TIMEOUT_MS }, () => {
  test('row 70: 200 downloads aborted after the first chunk leave no descriptor open', async () => {
    const pids = await servingPids(srv.url);
    const baseline = openFilesUnder(pids, fx.root);
    for (let batch = 0; batch < 10; batch++) {
      const started = await Promise.all(Array.from({ length: 20 }, () => firstChunk(`${srv.url}/files/large.bin`)));
      for (const p of started) p.res.destroy();
    }
    const settled = await waitFor(() => openFilesUnder(pids, fx.root) <= baseline, 5_000);
    assert.ok(settled, `open files under the root: ${openFilesUnder(pids, fx.root)} (baseline ${baseline})`);
  });

  test('row 58: a file truncated during the download ends the connection short, never padded', async () => {
    const p = path.join(fx.root, 'shrinks.bin');
    fs.writeFileSync(p, pattern(0, BIG));
    const started = await firstChunk(`${srv.url}/files/shrinks.bin`);
    assert.equal(started.length, BIG);
    fs.truncateSync(p, 4 * 1024 * 1024);
    const { body, complete } = await rest(started);
    assert.equal(complete, false, 'the client can tell the body is short');
    assert.ok(body.length < BIG, `got ${body.length} bytes`);
    assert.ok(body.equals(pattern(0, body.length)), 'every byte received is a byte of the file');
  });

  test('row 59: a file appended to during the download sends exactly Content-Length bytes', async () => {
    const p = path.join(fx.root, 'grows.bin');
    fs.writeFileSync(p, pattern(0, BIG));
    const started = await firstChunk(`${srv.url}/files/grows.bin`);
    fs.appendFileSync(p, Buffer.alloc(8 * 1024 * 1024, 0xff));
    const { body, complete } = await rest(started);
    assert.equal(complete, true);
    assert.equal(body.length, BIG);
    assert.equal(sha256(body), sha256(pattern(0, BIG)));
  });

  test('row 57: a file replaced by rename during the download finishes with the old bytes; the next request sees the new ETag', async () => {
    const p = path.join(fx.root, 'replaced.bin');
    fs.writeFileSync(p, pattern(0, BIG));
    const etag1 = await new Promise<string>((r) => http.request(`${srv.url}/files/replaced.bin`, { method: 'HEAD' }, (res) => { r(String(res.headers.etag)); res.resume(); }).end());
    const started = await firstChunk(`${srv.url}/files/replaced.bin`);
    fs.writeFileSync(`${p}.tmp`, pattern(9, 1000));
    fs.renameSync(`${p}.tmp`, p);
    const { body, complete } = await rest(started);
    assert.equal(complete, true);
    assert.equal(sha256(body), sha256(pattern(0, BIG)));
    const etag2 = await new Promise<string>((r) => http.request(`${srv.url}/files/replaced.bin`, { method: 'HEAD' }, (res) => { r(String(res.headers.etag)); res.resume(); }).end());
    assert.notEqual(etag2, etag1);
  });

  test('a client that stops reading is disconnected after the stall timeout', async () => {
    const sock = net.connect(srv.port, '127.0.0.1');
    await new Promise((r) => sock.once('connect', r));
    sock.write('GET /files/large.bin HTTP/1.1\r\nHost: x\r\n\r\n');
    sock.pause();
    await sleep(4_000);
    let bytes = 0;
    const closed = new Promise<void>((r) => {
      sock.on('data', (d: Buffer) => (bytes += d.length));
      sock.on('close', () => r());
      sock.on('error', () => undefined);
    });
    sock.resume();
    const ended = await Promise.race([closed.then(() => true), sleep(10_000).then(() => false)]);
    sock.destroy();
    assert.ok(ended, 'the server closed the stalled connection');
    assert.ok(bytes < BIG, `only ${bytes} of ${BIG} bytes were sent before the stall cut it`);
  });

  test('a FIFO never blocks the server', async () => {
    const started = Date.now();
    const codes = await Promise.all(
      Array.from({ length: 8 }, () => new Promise<number>((r) => http.get(`${srv.url}/files/pipe`, (res) => { res.resume(); r(res.statusCode ?? 0); }))),
    );
    assert.deepEqual(codes, Array(8).fill(404));
    const h = await new Promise<number>((r) => http.get(`${srv.url}/files/f.bin`, (res) => { res.resume(); r(res.statusCode ?? 0); }));
    assert.equal(h, 200);
    assert.ok(Date.now() - started < 5_000);
  });
});
