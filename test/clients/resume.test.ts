/**
 * Real clients resume real interrupted downloads (checklist rows 75-76): each
 * download is cut by killing the client mid-transfer, then resumed, and the
 * result must hash like the original. Without If-Range none of these clients
 * can detect a changed file, so the last case shows the If-Range guard.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { makeFixtures, pattern, sha256, type Fixtures } from '../helpers/fixtures';
import { raw } from '../helpers/http';
import { sleep, waitFor } from '../helpers/proc';
import { startTestServer, type TestServer } from '../helpers/server';
import { SUITE_TIMEOUT_MS } from '../helpers/timeouts';

const SIZE = 24 * 1024 * 1024;
let fx: Fixtures;
let srv: TestServer;
let work: string;
let original: Buffer;

function have(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
}

/** Starts `cmd`, kills it once `file` holds at least `minBytes`, and returns the partial size. */
async function interrupted(cmd: string, args: string[], file: string, minBytes: number): Promise<number> {
  const child = spawn(cmd, args, { stdio: 'ignore' });
  const size = (): number => {
    try {
      return fs.statSync(file).size;
    } catch {
      return 0;
    }
  };
  const reached = await waitFor(() => size() >= minBytes, 20_000, 20);
  child.kill('SIGKILL');
  await new Promise((r) => child.once('exit', r));
  assert.ok(reached, `${cmd} wrote ${size()} bytes`);
  const partial = size();
  assert.ok(partial > 0 && partial < SIZE, `partial download (${partial} of ${SIZE})`);
  return partial;
}

function run(cmd: string, args: string[]): { status: number | null; out: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

before(async () => {
  fx = makeFixtures();
  original = pattern(3, SIZE);
  fs.writeFileSync(path.join(fx.root, 'movie.bin'), original);
  fs.utimesSync(path.join(fx.root, 'movie.bin'), new Date('2022-01-01Z'), new Date('2022-01-01Z'));
  srv = await startTestServer({ FILES_ROOT: fx.root });
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'rangeserve-clients-'));
});
after(async () => {
  await srv?.stop();
  fx?.cleanup();
  fs.rmSync(work, { recursive: true, force: true });
});

describe(`real clients resume (${process.env['RS_TEST_MODE'] ?? 'stream'})`, { timeout: SUITE_TIMEOUT_MS }, () => {
  test('curl -C - resumes an interrupted download byte-exactly; on a complete file it gets 416 and exits 0', { skip: !have('curl') }, async () => {
    const out = path.join(work, 'curl.bin');
    const url = `${srv.url}/files/movie.bin`;
    await interrupted('curl', ['-s', '--limit-rate', '4M', '-o', out, url], out, 1 << 20);
    const r = run('curl', ['-s', '-S', '-C', '-', '-o', out, url]);
    assert.equal(r.status, 0, r.out);
    assert.equal(sha256(fs.readFileSync(out)), sha256(original));
    const again = run('curl', ['-s', '-S', '-C', '-', '-o', out, '-w', '%{http_code}', url]);
    assert.equal(again.status, 0, again.out);
    assert.match(again.out, /416/);
    assert.equal(sha256(fs.readFileSync(out)), sha256(original));
  });

  test('wget -c resumes an interrupted download byte-exactly and knows when it is complete', { skip: !have('wget') }, async () => {
    const out = path.join(work, 'wget.bin');
    const url = `${srv.url}/files/movie.bin`;
    await interrupted('wget', ['-q', '--limit-rate=4m', '-O', out, url], out, 1 << 20);
    const r = run('wget', ['-c', '-O', out, url]);
    assert.equal(r.status, 0, r.out);
    assert.match(r.out, /206 Partial Content/);
    assert.equal(sha256(fs.readFileSync(out)), sha256(original));
    const again = run('wget', ['-c', '-O', out, url]);
    assert.match(again.out, /already fully retrieved/);
  });

  test('aria2c -x4 -s4 segmented download, interrupted and continued, hashes equal', { skip: !have('aria2c') }, async () => {
    const dir = path.join(work, 'aria');
    fs.mkdirSync(dir);
    const out = path.join(dir, 'movie.bin');
    const url = `${srv.url}/files/movie.bin`;
    const args = ['-q', '-x4', '-s4', '-k1M', '--file-allocation=none', '--auto-file-renaming=false', '-d', dir, '-o', 'movie.bin', url];
    const child = spawn('aria2c', ['--max-overall-download-limit=4M', ...args], { stdio: 'ignore' });
    await sleep(1500);
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    assert.ok(fs.existsSync(`${out}.aria2`), 'aria2 left its control file: the download was cut');
    const r = run('aria2c', ['-c', ...args]);
    assert.equal(r.status, 0, r.out);
    assert.equal(sha256(fs.readFileSync(out)), sha256(original));
  });

  test('a file changed between cut and resume: curl -C - with If-Range gets 200 and exits 33 instead of splicing', { skip: !have('curl') }, async () => {
    const name = 'changes.bin';
    const p = path.join(fx.root, name);
    fs.writeFileSync(p, original);
    fs.utimesSync(p, new Date('2022-01-01Z'), new Date('2022-01-01Z'));
    const url = `${srv.url}/files/${name}`;
    const etag = String((await raw(srv.url, { method: 'HEAD', path: `/files/${name}` })).headers.etag);
    const out = path.join(work, 'changes.bin');
    const partial = await interrupted('curl', ['-s', '--limit-rate', '4M', '-o', out, url], out, 1 << 20);
    const replacement = pattern(100, SIZE);
    fs.writeFileSync(`${p}.new`, replacement);
    fs.renameSync(`${p}.new`, p);
    const r = run('curl', ['-s', '-S', '-C', '-', '-H', `If-Range: ${etag}`, '-o', out, url]);
    assert.equal(r.status, 33, r.out);
    const kept = fs.readFileSync(out);
    assert.equal(kept.length, partial, 'the partial file is left as it was');
    assert.ok(kept.equals(original.subarray(0, partial)), 'no byte of the new version was spliced in');
  });
});
