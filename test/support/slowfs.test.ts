/**
 * Tests of the slow-disk harness itself (test/support/slowfs.ts).
 *
 * Measured on the dev VM (Debian 12, kernel 6.18, libfuse 2.9 via fusepy):
 * - A FUSE read request carries up to 128 KiB (the kernel's default max_pages).
 *   With direct_io a read(2) of 64 KiB at offset 0 is exactly one FUSE request
 *   (one delay: 502 ms at delay 500). fs.promises.readFile knows the size from
 *   fstat and stops after that one request (502 ms). createReadStream (and
 *   `cat`) read until EOF: the empty read at offset 65536 is a second delayed
 *   request, so a 64 KiB stream takes 2 x delay (1006 ms). Each read(2) of up
 *   to 128 KiB is one request, so createReadStream (64 KiB highWaterMark) pays
 *   one delay per 64 KiB chunk plus one for EOF.
 * - Each delayed request takes delay + ~0.5 ms. Two concurrent reads at 300 ms:
 *   ~306 ms in parallel, ~603 ms with serialize=1.
 * - mount 40-150 ms; healthy unmount (umount + daemon exit) 12-15 ms; unmount
 *   while hung (fusectl abort + umount + SIGCONT + exit) ~20 ms; the read that
 *   was stuck in the kernel then fails with ECONNABORTED.
 */
import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { mountSlowFs, slowFsSkip, SlowFs } from './slowfs';

// Skipped (each test, with the reason) only where FUSE is impossible; set
// SLOWFS_REQUIRED=1 to make that a failure instead (CI).
const skip = slowFsSkip();

const SIZE = 64 * 1024;

interface Fixture {
  dir: string;
  backing: string;
  mountpoint: string;
  data: Buffer;
}

async function makeFixture(): Promise<Fixture> {
  const dir = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'rangeserve-slowfs-'));
  const backing = path.join(dir, 'backing');
  const mountpoint = path.join(dir, 'mnt');
  await fs.promises.mkdir(backing);
  await fs.promises.mkdir(mountpoint);
  const data = randomBytes(SIZE);
  await fs.promises.writeFile(path.join(backing, 'a.bin'), data);
  await fs.promises.writeFile(path.join(backing, 'b.bin'), data);
  return { dir, backing, mountpoint, data };
}

function inMountinfo(mountpoint: string): boolean {
  return fs
    .readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .some((l) => l.split(' ')[4] === mountpoint);
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function errno(e: unknown): string | undefined {
  return e instanceof Error ? (e as NodeJS.ErrnoException).code : undefined;
}

/** Time one fh.read of `length` bytes at `position` (a single read(2) syscall). */
async function timedRead(file: string, length: number, position: number): Promise<{ ms: number; bytes: number }> {
  const fh = await fs.promises.open(file, 'r');
  try {
    const buf = Buffer.alloc(length);
    const t0 = performance.now();
    const { bytesRead } = await fh.read(buf, 0, length, position);
    return { ms: performance.now() - t0, bytes: bytesRead };
  } finally {
    await fh.close();
  }
}

describe('slowfs harness', () => {
  let fx: Fixture;
  let sfs: SlowFs;

  before(async () => {
    if (skip) return;
    fx = await makeFixture();
    sfs = await mountSlowFs({ backing: fx.backing, mountpoint: fx.mountpoint, trace: true });
    console.log(`# slowfs mounted in ${sfs.mountMs.toFixed(1)} ms, dev ${sfs.dev}, connection ${sfs.connection}`);
  });

  after(async () => {
    if (sfs) {
      const ms = await sfs.unmount();
      console.log(`# slowfs unmounted in ${ms.toFixed(1)} ms`);
      assert.equal(inMountinfo(sfs.mountpoint), false);
    }
    if (fx) await fs.promises.rm(fx.dir, { recursive: true, force: true });
  });

  it('is a separate volume showing the backing files', { skip }, async () => {
    const parent = await fs.promises.stat(path.dirname(sfs.mountpoint));
    const backing = await fs.promises.stat(fx.backing);
    assert.notEqual(sfs.dev, parent.dev);
    assert.notEqual(sfs.dev, backing.dev);
    const st = await fs.promises.stat(path.join(sfs.mountpoint, 'a.bin'));
    assert.equal(st.dev, sfs.dev);
    assert.equal(st.size, SIZE);
    assert.deepEqual((await fs.promises.readdir(sfs.mountpoint)).sort(), ['a.bin', 'b.bin']);
    assert.ok(inMountinfo(sfs.mountpoint));
  });

  it('is read-only', { skip }, async () => {
    await assert.rejects(fs.promises.writeFile(path.join(sfs.mountpoint, 'new.bin'), 'x'), (e: unknown) =>
      ['EROFS', 'EACCES', 'EPERM'].includes(errno(e) ?? ''),
    );
  });

  it('delay 0 is fast and returns the right bytes', { skip }, async () => {
    await sfs.setDelay(0);
    const t0 = performance.now();
    const got = await fs.promises.readFile(path.join(sfs.mountpoint, 'a.bin'));
    const ms = performance.now() - t0;
    assert.ok(got.equals(fx.data));
    assert.ok(ms < 200, `readFile took ${ms} ms at delay 0`);
  });

  it('delay 500 ms: one 64 KiB read(2) is one delayed FUSE request of >= 500 ms', { skip }, async () => {
    await sfs.setDelay(500);
    sfs.clearReads();
    const r = await timedRead(path.join(sfs.mountpoint, 'a.bin'), SIZE, 0);
    assert.equal(r.bytes, SIZE);
    assert.ok(r.ms >= 500, `read took ${r.ms} ms`);
    assert.ok(r.ms < 1500, `read took ${r.ms} ms`);
    const reads = sfs.reads();
    console.log(`# 64 KiB read(2) at delay 500: ${r.ms.toFixed(1)} ms, FUSE reads ${JSON.stringify(reads)}`);
    assert.ok(reads.length >= 1);
    for (const fr of reads) assert.ok(fr.elapsedMs >= 500);
  });

  it('delay 500 ms: page cache does not hide the delay on a second read', { skip }, async () => {
    const r = await timedRead(path.join(sfs.mountpoint, 'a.bin'), SIZE, 0);
    assert.ok(r.ms >= 500, `second read took ${r.ms} ms`);
  });

  it('delay 500 ms: readFile and a read-to-EOF loop', { skip }, async () => {
    sfs.clearReads();
    let t0 = performance.now();
    const got = await fs.promises.readFile(path.join(sfs.mountpoint, 'a.bin'));
    const readFileMs = performance.now() - t0;
    const readFileReqs = sfs.reads().length;
    assert.ok(got.equals(fx.data));
    assert.ok(readFileMs >= 500);

    // A stream reads until it sees EOF: the empty read at 64 KiB is delayed too.
    sfs.clearReads();
    t0 = performance.now();
    const chunks: Buffer[] = [];
    for await (const c of fs.createReadStream(path.join(sfs.mountpoint, 'a.bin'))) chunks.push(c as Buffer);
    const streamMs = performance.now() - t0;
    const streamReqs = sfs.reads().length;
    assert.ok(Buffer.concat(chunks).equals(fx.data));
    assert.ok(streamMs >= 500 * streamReqs - 50, `stream ${streamMs} ms for ${streamReqs} requests`);
    console.log(
      `# readFile 64 KiB: ${readFileMs.toFixed(1)} ms (${readFileReqs} FUSE reads); ` +
        `createReadStream 64 KiB: ${streamMs.toFixed(1)} ms (${streamReqs} FUSE reads)`,
    );
  });

  it('reads run in parallel unless serialized', { skip }, async () => {
    await sfs.setDelay(300);
    const a = path.join(sfs.mountpoint, 'a.bin');
    const b = path.join(sfs.mountpoint, 'b.bin');
    let t0 = performance.now();
    await Promise.all([timedRead(a, SIZE, 0), timedRead(b, SIZE, 0)]);
    const parallelMs = performance.now() - t0;
    await sfs.setSerialize(true);
    t0 = performance.now();
    await Promise.all([timedRead(a, SIZE, 0), timedRead(b, SIZE, 0)]);
    const serialMs = performance.now() - t0;
    await sfs.setSerialize(false);
    console.log(`# two concurrent 300 ms reads: parallel ${parallelMs.toFixed(1)} ms, serialized ${serialMs.toFixed(1)} ms`);
    assert.ok(parallelMs >= 300 && parallelMs < 590, `parallel ${parallelMs}`);
    assert.ok(serialMs >= 600, `serialized ${serialMs}`);
  });

  it('eio makes reads fail with EIO, and recovers', { skip }, async () => {
    await sfs.setDelay(0);
    await sfs.setEio(true);
    const file = path.join(sfs.mountpoint, 'a.bin');
    await assert.rejects(fs.promises.readFile(file), (e: unknown) => errno(e) === 'EIO');
    await assert.rejects(timedRead(file, SIZE, 0), (e: unknown) => errno(e) === 'EIO');
    await sfs.setEio(false);
    assert.ok((await fs.promises.readFile(file)).equals(fx.data));
  });
});

describe('slowfs hung disk', () => {
  let fx: Fixture;
  let sfs: SlowFs | undefined;

  before(async () => {
    if (skip) return;
    fx = await makeFixture();
  });

  after(async () => {
    if (sfs) await sfs.unmount();
    if (fx) await fs.promises.rm(fx.dir, { recursive: true, force: true });
  });

  it('hang blocks reads; unhang releases them', { skip }, async () => {
    sfs = await mountSlowFs({ backing: fx.backing, mountpoint: fx.mountpoint });
    const fh = await fs.promises.open(path.join(sfs.mountpoint, 'a.bin'), 'r');
    try {
      sfs.hang();
      const t0 = performance.now();
      const pending = fh.read(Buffer.alloc(SIZE), 0, SIZE, 0).then(() => performance.now() - t0);
      const winner = await Promise.race([pending, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 1000))]);
      assert.equal(winner, 'timeout');
      sfs.unhang();
      const ms = await pending;
      assert.ok(ms >= 1000, `read finished after ${ms} ms`);
    } finally {
      await fh.close();
    }
    const ms = await sfs.unmount();
    console.log(`# healthy unmount after unhang: ${ms.toFixed(1)} ms`);
    assert.equal(inMountinfo(sfs.mountpoint), false);
    sfs = undefined;
  });

  it('unmount while hung (with a read stuck in the kernel) succeeds quickly and leaves nothing', { skip }, async () => {
    const s = await mountSlowFs({ backing: fx.backing, mountpoint: fx.mountpoint });
    sfs = s;
    assert.ok(s.flushPrimed);
    const fh = await fs.promises.open(path.join(s.mountpoint, 'a.bin'), 'r');
    try {
      s.hang();
      const pending = fh.read(Buffer.alloc(SIZE), 0, SIZE, 0).then(
        () => 'completed',
        (e: unknown) => errno(e) ?? 'error',
      );
      const winner = await Promise.race([pending, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 1000))]);
      assert.equal(winner, 'timeout', 'a read on a hung disk must not complete');

      // This process holds a descriptor on the hung mount; spawning must still
      // work (execve closes it, and without FLUSH that never waits for the daemon).
      const t0 = performance.now();
      const r = spawnSync('/bin/true', [], { timeout: 3000 });
      assert.equal(r.status, 0, `spawn while hung: ${String(r.error)}`);
      assert.ok(performance.now() - t0 < 2000);

      const ms = await s.unmount();
      console.log(`# unmount while hung: ${ms.toFixed(1)} ms`);
      assert.ok(ms < 5000, `unmount took ${ms} ms`);
      assert.equal(processAlive(s.pid), false, 'daemon still running');
      assert.equal(inMountinfo(s.mountpoint), false, 'still mounted');
      const parent = await fs.promises.stat(path.dirname(s.mountpoint));
      assert.equal((await fs.promises.stat(s.mountpoint)).dev, parent.dev);
      // The stuck read is released by the abort (ENOTCONN or ECONNABORTED).
      const outcome = await pending;
      console.log(`# stuck read ended with: ${outcome}`);
      assert.notEqual(outcome, 'completed');
      // Idempotent.
      await s.unmount();
      sfs = undefined;
    } finally {
      await fh.close().catch(() => undefined);
    }
  });
});
