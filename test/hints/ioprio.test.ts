/**
 * IO_PRIORITY (issue 5 part 4): every reader thread of the worker engine sets
 * it on itself at start. Checked from outside as a user would, with `ionice -p`
 * on each thread of the server (/proc/<pid>/task): exactly the reader threads
 * carry the class, and the main thread (and every other) keeps the one it
 * started with. /healthz reports what a reader thread read back in-thread.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { hints } from '../../app/native/addon';
import { raw } from '../helpers/http';
import { startTestServer, type TestServer } from '../helpers/server';
import { SUITE_TIMEOUT_MS } from '../helpers/timeouts';

interface IoHealth {
  readonly pools: number;
  readonly threads: number;
  readonly ioPriority?: { readonly requested: string; readonly reading?: { class: string; level: number }; readonly error?: string };
}

let dir = '';
let skip: string | undefined;

function ionice(tid: number): string {
  return execFileSync('ionice', ['-p', String(tid)], { encoding: 'utf8' }).trim();
}

/** `ionice -p` of every thread of `pid`, by thread id (threads that exit meanwhile are left out). */
function threadPriorities(pid: number): Map<number, string> {
  const out = new Map<number, string>();
  for (const name of fs.readdirSync(`/proc/${pid}/task`)) {
    try {
      out.set(Number(name), ionice(Number(name)));
    } catch {
      // the thread ended
    }
  }
  return out;
}

async function healthOf(srv: TestServer): Promise<IoHealth> {
  return JSON.parse((await raw(srv.url, { path: '/healthz' }, 5_000)).body.toString()) as IoHealth;
}

before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rangeserve-ioprio-'));
  fs.writeFileSync(path.join(dir, 'a.bin'), Buffer.alloc(64 * 1024, 7));
  if (!hints.active) skip = `hints inactive: ${hints.reason}`;
  else {
    try {
      ionice(process.pid);
    } catch {
      skip = 'ionice (util-linux) is not installed';
    }
  }
});
after(() => {
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

const cases = [
  { setting: 'idle', ionice: 'idle', reading: { class: 'idle', level: 0 } },
  { setting: 'be:7', ionice: 'best-effort: prio 7', reading: { class: 'be', level: 7 } },
] as const;

describe('IO_PRIORITY in the worker engine', { timeout: SUITE_TIMEOUT_MS }, () => {
  for (const c of cases) {
    test(`IO_PRIORITY=${c.setting}: exactly the reader threads run in it, the main thread is unchanged`, async (t) => {
      if (skip) return t.skip(skip);
      const baseline = ionice(process.pid); // what the server inherits from this process
      assert.notEqual(baseline, c.ionice, 'precondition: the test runs in another I/O class');
      const srv = await startTestServer({ FILES_ROOT: dir, MODE: 'worker', WORKER_THREADS: '2', IO_PRIORITY: c.setting });
      try {
        const pid = srv.child.pid!;
        let h = await healthOf(srv);
        for (let i = 0; i < 50 && !h.ioPriority?.reading; i++) {
          await new Promise((r) => setTimeout(r, 100));
          h = await healthOf(srv);
        }
        // Read back inside a reader thread (ioprio_get there).
        assert.equal(h.ioPriority?.requested, c.setting);
        assert.equal(h.ioPriority?.error, undefined);
        assert.deepEqual({ class: h.ioPriority?.reading?.class, level: h.ioPriority?.reading?.level }, c.reading);
        assert.equal(h.threads, 2 * h.pools);

        const prios = threadPriorities(pid);
        const changed = [...prios].filter(([, p]) => p !== baseline);
        assert.equal(prios.get(pid), baseline, 'the main thread keeps its I/O priority');
        assert.equal(changed.length, h.threads, `threads not in ${baseline}: ${JSON.stringify(changed)}`);
        for (const [tid, p] of changed) assert.equal(p, c.ionice, `thread ${tid}`);

        const got = await raw(srv.url, { path: '/files/a.bin' });
        assert.equal(got.status, 200);
        assert.deepEqual(got.body, Buffer.alloc(64 * 1024, 7));
      } finally {
        await srv.stop();
      }
    });
  }

  test('IO_PRIORITY=off (default): no thread changes class', async (t) => {
    if (skip) return t.skip(skip);
    const baseline = ionice(process.pid);
    const srv = await startTestServer({ FILES_ROOT: dir, MODE: 'worker', WORKER_THREADS: '2' });
    try {
      const h = await healthOf(srv);
      assert.equal(h.ioPriority, undefined);
      for (const [tid, p] of threadPriorities(srv.child.pid!)) assert.equal(p, baseline, `thread ${tid}`);
    } finally {
      await srv.stop();
    }
  });
});
