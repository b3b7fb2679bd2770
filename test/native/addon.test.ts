// Tests of the native addon itself (issue 5 part 5): error shapes, kernel-side EINVAL,
// DONTNEED really evicting pages, and per-thread I/O priority in worker_threads.
// Skipped, with the loader's reason, when the addon is not active in this process.
import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { Worker } from 'node:worker_threads';

import { addon, hints, type IoPriorityReading, type NativeAddon } from '../../app/native/addon';
import { SUITE_TIMEOUT_MS } from '../helpers/timeouts';

const skip = hints.active ? false : `native addon inactive: ${hints.reason}`;
const MiB = 1024 * 1024;
const TMPFS_MAGIC = 0x01021994;

function native(): NativeAddon {
  if (!addon) throw new Error('addon not loaded');
  return addon;
}

/** systemError asserts err is a Node-style system error with the given code/errno/syscall. */
function systemError(code: string, errno: number, syscall: string): (err: unknown) => boolean {
  return (err: unknown) => {
    assert.ok(err instanceof Error, 'an Error');
    const e = err as Error & { code?: unknown; errno?: unknown; syscall?: unknown };
    assert.equal(e.code, code);
    assert.equal(e.errno, errno);
    assert.equal(e.syscall, syscall);
    assert.match(e.message, new RegExp(`^${code}: .+, ${syscall}$`));
    return true;
  };
}

describe('native addon', { skip, timeout: SUITE_TIMEOUT_MS }, () => {
  let dir = '';
  let file = '';
  let fd = -1;

  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rangeserve-addon-'));
    file = path.join(dir, 'small.bin');
    fs.writeFileSync(file, Buffer.alloc(64 * 1024, 7));
    fd = fs.openSync(file, 'r');
  });
  after(() => {
    if (fd >= 0) fs.closeSync(fd);
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('exports the Linux constants', () => {
    const c = native().constants;
    assert.equal(native().supported, true);
    assert.deepEqual(
      [c.POSIX_FADV_NORMAL, c.POSIX_FADV_RANDOM, c.POSIX_FADV_SEQUENTIAL, c.POSIX_FADV_WILLNEED, c.POSIX_FADV_DONTNEED, c.POSIX_FADV_NOREUSE],
      [0, 1, 2, 3, 4, 5],
    );
    assert.deepEqual([c.IOPRIO_CLASS_NONE, c.IOPRIO_CLASS_RT, c.IOPRIO_CLASS_BE, c.IOPRIO_CLASS_IDLE], [0, 1, 2, 3]);
  });

  it('accepts every advice name and numeric constant on a regular file', () => {
    for (const advice of ['normal', 'sequential', 'random', 'willneed', 'dontneed', 'noreuse'] as const) {
      native().fadvise(fd, 0, 0, advice);
    }
    native().fadvise(fd, 0, 4096, native().constants.POSIX_FADV_WILLNEED);
  });

  it('offsets beyond 2^32 pass as int64 (no wrap-around)', () => {
    native().fadvise(fd, 2 ** 40, 4096, 'dontneed');
    native().fadvise(fd, Number.MAX_SAFE_INTEGER - 4096, 4096, 'willneed');
  });

  it('bad fd: EBADF with errno -9 and syscall posix_fadvise', () => {
    assert.throws(() => native().fadvise(2 ** 30, 0, 0, 'sequential'), systemError('EBADF', -9, 'posix_fadvise'));
  });

  it('unknown numeric advice reaches the kernel: EINVAL', () => {
    assert.throws(() => native().fadvise(fd, 0, 0, 99), systemError('EINVAL', -22, 'posix_fadvise'));
    assert.throws(() => native().fadvise(fd, 0, 0, -1), systemError('EINVAL', -22, 'posix_fadvise'));
  });

  it('a FIFO: ESPIPE', () => {
    const [readFd, writeFd] = pipeFds();
    try {
      assert.throws(() => native().fadvise(readFd, 0, 0, 'willneed'), systemError('ESPIPE', -29, 'posix_fadvise'));
    } finally {
      fs.closeSync(readFd);
      fs.closeSync(writeFd);
    }
  });

  it('argument errors are TypeError/RangeError, before any syscall', () => {
    const a = native() as unknown as Record<string, (...args: unknown[]) => unknown>;
    assert.throws(() => a['fadvise']?.(fd, 0, 0, 'sideways'), { name: 'TypeError', message: /advice.*'normal'/ });
    assert.throws(() => a['fadvise']?.(fd, 0, 0), TypeError);
    assert.throws(() => a['fadvise']?.('3', 0, 0, 'normal'), TypeError);
    assert.throws(() => a['fadvise']?.(fd, -1, 0, 'normal'), RangeError);
    assert.throws(() => a['fadvise']?.(fd, 0.5, 0, 'normal'), RangeError);
    assert.throws(() => a['fadvise']?.(fd, 2 ** 53, 0, 'normal'), RangeError);
    assert.throws(() => a['ioprioSet']?.('best-effort', 4), TypeError);
    assert.throws(() => a['ioprioSet']?.('be', 8), RangeError);
  });

  it('DONTNEED after reading a 64 MiB file drops it from the page cache', (t) => {
    if (spawnSync('fincore', ['--version']).status !== 0) {
      t.skip('fincore (util-linux) not installed');
      return;
    }
    const big = path.join(dir, 'big.bin');
    if (fs.statfsSync(dir).type === TMPFS_MAGIC) {
      t.skip(`${dir} is tmpfs: its pages cannot be dropped`);
      return;
    }
    const chunk = Buffer.alloc(MiB, 0x5a);
    const w = fs.openSync(big, 'w');
    try {
      for (let i = 0; i < 64; i += 1) fs.writeSync(w, chunk);
      fs.fsyncSync(w); // clean pages, so DONTNEED need not wait for writeback
    } finally {
      fs.closeSync(w);
    }
    const cachedBytes = (): number => {
      const r = spawnSync('fincore', ['--bytes', '--noheadings', '--raw', '--output', 'RES', big], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      return Number(r.stdout.trim());
    };
    const r = fs.openSync(big, 'r');
    try {
      const buf = Buffer.alloc(MiB);
      while (fs.readSync(r, buf) > 0);
      const before = cachedBytes();
      const started = process.hrtime.bigint();
      native().fadvise(r, 0, 0, 'dontneed');
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      const afterDrop = cachedBytes();
      t.diagnostic(`page cache for 64 MiB file: ${before} bytes before, ${afterDrop} after DONTNEED (${ms.toFixed(2)} ms)`);
      assert.ok(before >= 60 * MiB, `file should be cached after reading it, fincore says ${before}`);
      assert.equal(afterDrop, 0);
    } finally {
      fs.closeSync(r);
    }
  });

  it('ioprio is per thread: idle set in a Worker reads back there, main thread unchanged', async () => {
    const mainBefore = native().ioprioGet();
    const loader = require.resolve('../../app/native/addon');
    const code = `
      const { parentPort } = require('node:worker_threads');
      const { addon, hints } = require(${JSON.stringify(loader)});
      if (!addon) throw new Error('inactive in worker: ' + hints.reason);
      const before = addon.ioprioGet();
      addon.ioprioSet('idle');
      const idle = addon.ioprioGet();
      addon.ioprioSet('be', 6);
      const be6 = addon.ioprioGet();
      addon.ioprioSet('idle', 0);
      parentPort.postMessage({ before, idle, be6, final: addon.ioprioGet() });
    `;
    const result = await new Promise<Record<string, IoPriorityReading>>((resolve, reject) => {
      const worker = new Worker(code, { eval: true });
      worker.once('message', resolve);
      worker.once('error', reject);
      worker.once('exit', (c) => (c === 0 ? undefined : reject(new Error(`worker exit ${c}`))));
    });
    assert.equal(result['idle']?.class, 'idle');
    assert.deepEqual(result['be6'] && { class: result['be6'].class, level: result['be6'].level }, { class: 'be', level: 6 });
    assert.equal(result['final']?.class, 'idle');
    assert.deepEqual(native().ioprioGet(), mainBefore);
    assert.notEqual(mainBefore.class, 'idle');
  });

  it('ioprioSet on the main thread round-trips and can be restored', () => {
    const original = native().ioprioGet();
    try {
      native().ioprioSet('be', 3);
      assert.deepEqual(native().ioprioGet(), { class: 'be', level: 3, value: (2 << 13) | 3 });
    } finally {
      native().ioprioSet(original.class === 'unknown' ? 'none' : original.class, original.level);
    }
    assert.deepEqual(native().ioprioGet(), original);
  });

  it('loads in several workers at once (context-aware) and fadvise works there', async () => {
    const loader = require.resolve('../../app/native/addon');
    const code = `
      const { parentPort, workerData } = require('node:worker_threads');
      const fs = require('node:fs');
      const { addon } = require(${JSON.stringify(loader)});
      const fd = fs.openSync(workerData, 'r');
      try { addon.fadvise(fd, 0, 0, 'willneed'); parentPort.postMessage('ok'); }
      finally { fs.closeSync(fd); }
    `;
    const runs = Array.from(
      { length: 3 },
      () =>
        new Promise<unknown>((resolve, reject) => {
          const worker = new Worker(code, { eval: true, workerData: file });
          worker.once('message', resolve);
          worker.once('error', reject);
        }),
    );
    assert.deepEqual(await Promise.all(runs), ['ok', 'ok', 'ok']);
  });
});

/** pipeFds opens both ends of a FIFO (Node has no pipe(2) binding); the FIFO's name is removed at once. */
function pipeFds(): [number, number] {
  const fifo = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'rangeserve-fifo-')), 'p');
  const r = spawnSync('mkfifo', [fifo]);
  if (r.status !== 0) throw new Error('mkfifo failed');
  // O_RDWR on a FIFO does not block on Linux; open both ends from it.
  const readFd = fs.openSync(fifo, fs.constants.O_RDWR | fs.constants.O_NONBLOCK);
  const writeFd = fs.openSync(fifo, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK);
  fs.rmSync(path.dirname(fifo), { recursive: true, force: true });
  return [readFd, writeFd];
}
