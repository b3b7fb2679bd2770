/**
 * The addon's fadviseAsync (the stream engine's way to hint off the event
 * loop): errors shaped like fs errors, argument checks before anything is
 * queued, and every call of a batch made even when one fails.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { addon, hints } from '../../app/native/addon';
import { pageCacheSkipReason, residentBytes } from '../helpers/page-cache';

let dir = '';
let file = '';
let fd = -1;

before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rangeserve-fadvise-async-'));
  file = path.join(dir, 'f.bin');
  fs.writeFileSync(file, Buffer.alloc(8 * 1024 * 1024, 1));
  fd = fs.openSync(file, 'r');
  fs.fsyncSync(fd);
});
after(() => {
  if (fd >= 0) fs.closeSync(fd);
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

describe('fadviseAsync', { skip: hints.active ? false : `hints inactive: ${hints.reason}` }, () => {
  const fadviseAsync = (f: number, h: Parameters<NonNullable<NonNullable<typeof addon>['fadviseAsync']>>[1]): Promise<void> =>
    addon!.fadviseAsync!.call(addon, f, h);

  test('a batch resolves; DONTNEED then leaves nothing of the file cached', async (t) => {
    await fadviseAsync(fd, [
      { offset: 0, length: 0, advice: 'sequential' },
      { offset: 0, length: 1024 * 1024, advice: 'willneed' },
      { offset: 0, length: 0, advice: 'dontneed' },
    ]);
    const skip = pageCacheSkipReason(file);
    if (skip) return t.skip(skip);
    assert.equal(residentBytes(file), 0);
  });

  test('bad fd: rejects with EBADF, errno -9, syscall posix_fadvise', async () => {
    await assert.rejects(fadviseAsync(987_654, [{ offset: 0, length: 0, advice: 'willneed' }]), {
      code: 'EBADF',
      errno: -9,
      syscall: 'posix_fadvise',
      message: 'EBADF: Bad file descriptor, posix_fadvise',
    });
  });

  test('unknown advice number: the kernel says EINVAL; the rest of the batch still runs', async (t) => {
    const skip = pageCacheSkipReason(file);
    await assert.rejects(
      fadviseAsync(fd, [
        { offset: 0, length: 0, advice: 99 },
        { offset: 0, length: 0, advice: 'dontneed' },
      ]),
      { code: 'EINVAL', errno: -22 },
    );
    if (skip) return t.skip(skip);
    fs.readSync(fd, Buffer.alloc(4096), 0, 4096, 0);
    await assert.rejects(fadviseAsync(fd, [{ offset: 0, length: 0, advice: 99 }, { offset: 0, length: 0, advice: 'dontneed' }]));
    assert.equal(residentBytes(file), 0, 'the DONTNEED after the failed call was made');
  });

  test('argument errors are thrown before anything is queued', () => {
    assert.throws(() => fadviseAsync(fd, [{ offset: -1, length: 0, advice: 'willneed' }]), RangeError);
    assert.throws(() => fadviseAsync(fd, [{ offset: 0, length: 0.5, advice: 'willneed' }]), RangeError);
    assert.throws(() => fadviseAsync(fd, [{ offset: 0, length: 0, advice: 'sometimes' as 'willneed' }]), TypeError);
    assert.throws(() => (addon!.fadviseAsync as unknown as (f: unknown, h: unknown) => unknown).call(addon, fd, 'x'), TypeError);
    assert.throws(() => fadviseAsync(-1, []), RangeError);
  });

  test('an empty batch resolves', async () => {
    await fadviseAsync(fd, []);
  });
});
