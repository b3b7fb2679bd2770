/**
 * Cluster mode's lifecycle (MODE=cluster with WORKERS=2; CLUSTER_IO is worker
 * when RS_TEST_MODE=cluster-worker, else stream): a killed worker is replaced
 * and a client resumes; SIGTERM drains or cuts downloads per the grace; SIGHUP
 * restarts the workers without a failed request; no worker outlives the
 * primary, even one killed with SIGKILL.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { makeFixtures, pattern, type Fixtures } from '../helpers/fixtures';
import { openFilesUnder, sleep, waitFor } from '../helpers/proc';
import { startTestServer, type TestServer } from '../helpers/server';
import { alive, getStatus, health, killAll, sha256File, slowDownload, writeRandomFile } from './util';
import { SUITE_TIMEOUT_MS } from '../helpers/timeouts';

const MiB = 1024 * 1024;
const IO = process.env['RS_TEST_MODE'] === 'cluster-worker' ? 'worker' : 'stream';

let fx: Fixtures;
let hugeSha: string;
const seen = new Set<number>();
const servers: TestServer[] = [];

async function start(env: Record<string, string> = {}): Promise<TestServer> {
  const srv = await startTestServer({ FILES_ROOT: fx.root, MODE: 'cluster', CLUSTER_IO: IO, WORKERS: '2', ...env });
  servers.push(srv);
  if (srv.child.pid !== undefined) seen.add(srv.child.pid);
  for (const pid of (await health(srv.url)).workers ?? []) seen.add(pid);
  return srv;
}

async function workerPids(srv: TestServer): Promise<number[]> {
  const pids = (await health(srv.url)).workers ?? [];
  for (const pid of pids) seen.add(pid);
  return pids;
}

function run(cmd: string, args: string[], timeoutMs: number): { code: Promise<number | null>; kill(): void } {
  const child = spawn(cmd, args, { stdio: 'ignore' });
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const code = new Promise<number | null>((resolve) =>
    child.once('exit', (c) => {
      clearTimeout(timer);
      resolve(c);
    }),
  );
  return { code, kill: () => child.kill('SIGKILL') };
}

before(() => {
  fx = makeFixtures();
  hugeSha = writeRandomFile(path.join(fx.root, 'huge.bin'), 200 * MiB);
  fs.writeFileSync(path.join(fx.root, 'mid.bin'), pattern(0, 16 * MiB));
});
after(async () => {
  for (const srv of servers) await srv.stop('SIGKILL');
  await waitFor(() => [...seen].every((p) => !alive(p)), 5_000);
  killAll([...seen].filter(alive));
  fx?.cleanup();
});

describe(`cluster mode (CLUSTER_IO=${IO})`, { timeout: SUITE_TIMEOUT_MS }, () => {
  test('/healthz names the mode, the engine and the worker pids', async () => {
    const srv = await start();
    const h = await health(srv.url);
    assert.equal(h.mode, 'cluster');
    assert.equal(h.engine, IO);
    assert.equal(h.workers?.length, 2);
    assert.ok(h.workers?.includes(h.pid));
    assert.equal(await srv.stop(), 0);
  });

  test('kill -9 of the worker serving a download: curl fails, curl -C - completes it, SHA-256 matches', async () => {
    const srv = await start();
    const out = path.join(fx.outside, 'huge.out');
    const url = `${srv.url}/files/huge.bin`;
    const first = run('curl', ['-sS', '--limit-rate', '20M', '-o', out, url], 30_000);
    assert.ok(await waitFor(() => fs.existsSync(out) && fs.statSync(out).size > 20 * MiB, 10_000), 'download under way');
    const pids = await workerPids(srv);
    const serving = pids.filter((pid) => openFilesUnder([pid], fx.root) > 0);
    assert.equal(serving.length, 1, `one worker holds the file open (${serving})`);
    process.kill(serving[0]!, 'SIGKILL');
    const code = await first.code;
    assert.notEqual(code, 0, 'curl reports the cut download');
    const partial = fs.statSync(out).size;
    assert.ok(partial < 200 * MiB, `partial ${partial}`);
    // Resume once the primary has handled the exit: before that Node's round-robin may hand the
    // new connection to the dead worker, where it hangs (docs/testing.md).
    const victim = serving[0]!;
    assert.ok(await waitFor(() => srv.logs.some((l) => l.includes('worker exited unexpectedly') && l.includes(`"workerPid":${victim}`)), 5_000), 'the primary noticed the exit');

    const resumed = run('curl', ['-sS', '-C', '-', '-o', out, url], 60_000);
    assert.equal(await resumed.code, 0, 'curl -C - completes');
    assert.equal(fs.statSync(out).size, 200 * MiB);
    assert.equal(sha256File(out), hugeSha);
    fs.unlinkSync(out);

    // The primary replaced the killed worker.
    let replaced = false;
    for (const end = Date.now() + 5_000; !replaced && Date.now() < end; await sleep(100)) {
      const now = await workerPids(srv);
      replaced = now.length === 2 && !now.includes(serving[0]!);
    }
    assert.ok(replaced, 'a replacement worker is listed');
    assert.ok(srv.logs.some((l) => l.includes('worker exited unexpectedly')));
    assert.equal(await srv.stop(), 0);
  });

  for (const grace of [20_000, 500]) {
    test(`SIGTERM during 10 downloads with SHUTDOWN_GRACE_MS=${grace}: ${grace > 1000 ? 'all complete' : 'all end short'}, exit 0, no process left`, async () => {
      const srv = await start({ SHUTDOWN_GRACE_MS: String(grace) });
      const pids = await workerPids(srv);
      // 16 MiB each at 4 MiB/s (long grace: ~4 s) or 1 MiB/s (short grace: cut long before the end).
      const rate = grace > 1000 ? 4 * MiB : 1 * MiB;
      const downloads = Array.from({ length: 10 }, () => slowDownload(`${srv.url}/files/mid.bin`, rate));
      await Promise.all(downloads.map((d) => d.started));
      const t0 = Date.now();
      const code = await srv.stop('SIGTERM');
      const stoppedMs = Date.now() - t0;
      assert.equal(code, 0, 'primary exits 0');
      // A cut client may still be reading what its kernel buffered, slowly: bounded all the same
      // (a connection whose bytes stop coming is given up after STALL_GIVE_UP_MS: it ended short).
      const results = await Promise.all(downloads.map((d) => d.done));
      const stalled = results.filter((r) => r.stalled).length;
      if (stalled > 0) process.stdout.write(`# ${stalled} of 10 connections went silent without a FIN or RST and were given up\n`);
      for (const r of results) {
        assert.equal(r.status, 200);
        assert.equal(r.length, 16 * MiB);
        if (grace > 1000) assert.ok(r.complete, `complete (${r.received} of ${r.length}${r.stalled ? ', stalled' : ''})`);
        else assert.ok(!r.complete && r.received < r.length, `short (${r.received} of ${r.length})`);
      }
      if (grace <= 1000) assert.ok(stoppedMs < grace + 3_000, `primary exited ${stoppedMs} ms after SIGTERM`);
      assert.ok(await waitFor(() => [...pids, srv.child.pid!].every((p) => !alive(p)), 5_000), 'no server process remains');
    });
  }

  test('SIGHUP during a request loop: zero failed requests, and every worker pid changed', async () => {
    const srv = await start();
    const before = await workerPids(srv);
    const statuses: number[] = [];
    let running = true;
    const loop = async (): Promise<void> => {
      while (running) statuses.push(await getStatus(`${srv.url}/files/f.bin`));
    };
    // One sequential loop and 4 concurrent ones, keep-alive off (every request is a new connection).
    const loops = Array.from({ length: 5 }, () => loop());
    await sleep(300);
    srv.child.kill('SIGHUP');
    const rolled = await waitFor(() => srv.logs.some((l) => l.includes('"msg":"rolling restart done"')), 20_000);
    await sleep(Math.max(0, 2_000 - 300)); // at least 2 s of load, and some after the roll
    running = false;
    await Promise.all(loops);
    assert.ok(rolled, 'rolling restart finished');
    const failed = statuses.filter((s) => s !== 200);
    assert.ok(statuses.length > 50, `requests made: ${statuses.length}`);
    assert.deepEqual(failed, [], `${failed.length} of ${statuses.length} requests failed`);
    const afterPids = await workerPids(srv);
    assert.equal(afterPids.length, 2);
    for (const pid of before) assert.ok(!afterPids.includes(pid), `old worker ${pid} replaced (${afterPids})`);
    assert.ok(await waitFor(() => before.every((p) => !alive(p)), 5_000), 'old workers exited');
    assert.equal(await srv.stop(), 0);
  });

  test('SIGKILL of the primary: the workers exit within a few seconds', async () => {
    const srv = await start();
    const pids = await workerPids(srv);
    // A download in progress must not keep a worker alive either.
    const d = slowDownload(`${srv.url}/files/mid.bin`, 1 * MiB);
    await d.started;
    srv.child.kill('SIGKILL');
    assert.ok(await waitFor(() => pids.every((p) => !alive(p)), 3_000), `workers still alive: ${pids.filter(alive)}`);
    const r = await d.done;
    assert.ok(!r.complete);
  });
});
