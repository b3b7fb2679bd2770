/**
 * The checklist's fixture folder (range-conformance.md §0), built fresh in a
 * temp dir: f.bin (10 000 bytes, byte i = i mod 251, mtime 2020-01-01), empty,
 * a sparse 5 GiB big.bin with a known tail, dotfiles, a FIFO, a symlink out.
 */
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const F_SIZE = 10_000;
export const F_MTIME = new Date('2020-01-01T00:00:00Z');
export const F_LM = 'Wed, 01 Jan 2020 00:00:00 GMT';
export const BIG_SIZE = 5_368_709_120;
export const UNICODE_NAME = "résumé 日本 (v2)*'.pdf";

export function pattern(offset: number, length: number): Buffer {
  const b = Buffer.allocUnsafe(length);
  for (let i = 0; i < length; i++) b[i] = (offset + i) % 251;
  return b;
}

/** The last KiB of big.bin: byte i (absolute offset) = (i * 7) mod 256. */
export function bigTail(offset: number, length: number): Buffer {
  const b = Buffer.allocUnsafe(length);
  for (let i = 0; i < length; i++) b[i] = Number((BigInt(offset + i) * 7n) % 256n);
  return b;
}

export function sha256(b: Buffer | string): string {
  return crypto.createHash('sha256').update(b).digest('hex');
}

export interface Fixtures {
  readonly root: string;
  /** A folder outside the root, target of the link-out symlink. */
  readonly outside: string;
  readonly fBin: Buffer;
  cleanup(): void;
}

export function makeFixtures(): Fixtures {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'rangeserve-fx-'));
  const root = path.join(base, 'root');
  const outside = path.join(base, 'outside');
  fs.mkdirSync(root);
  fs.mkdirSync(outside);
  fs.writeFileSync(path.join(outside, 'passwd'), 'secret outside the root\n');

  const fBin = pattern(0, F_SIZE);
  const put = (name: string, data: Buffer | string, mtime: Date = F_MTIME): void => {
    const p = path.join(root, name);
    fs.mkdirSync(path.dirname(p), { recursive: true });
    fs.writeFileSync(p, data);
    fs.utimesSync(p, mtime, mtime);
  };
  put('f.bin', fBin);
  put('empty.bin', Buffer.alloc(0));
  put('a.txt', 'hello text\n');
  put('a.mp4', pattern(0, 2048));
  put('x.unknownext', pattern(0, 100));
  put('.env', 'SECRET=1\n');
  put('.git/config', '[core]\n');
  put('sub/.hidden/x', 'hidden\n');
  put('sub/inner.bin', pattern(0, 300));
  put('dir/child.txt', 'child\n');
  put(UNICODE_NAME, pattern(0, 64));
  put('résumé.pdf', pattern(0, 64));
  put('fresh.bin', pattern(0, 1000), new Date());
  const future = new Date(Date.now() + 3600_000);
  put('future.bin', pattern(0, 1000), future);

  const big = path.join(root, 'big.bin');
  const fd = fs.openSync(big, 'w');
  fs.ftruncateSync(fd, BIG_SIZE);
  fs.writeSync(fd, bigTail(BIG_SIZE - 1024, 1024), 0, 1024, BIG_SIZE - 1024);
  fs.closeSync(fd);
  fs.utimesSync(big, F_MTIME, F_MTIME);

  fs.symlinkSync(outside, path.join(root, 'link-out'));
  fs.symlinkSync(path.join(root, 'f.bin'), path.join(root, 'link-in.bin'));
  execFileSync('mkfifo', [path.join(root, 'pipe')]);

  return {
    root,
    outside,
    fBin,
    cleanup: () => fs.rmSync(base, { recursive: true, force: true }),
  };
}
