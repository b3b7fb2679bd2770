/**
 * Page-cache facts about one file, as a user checks them: `fincore` (util-linux)
 * for the bytes resident, and a streaming download that hashes what arrives.
 * Shared by test/hints and scripts/measure-hints.ts.
 */
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import { addon } from '../../app/native/addon';

/** Why page-cache checks cannot run here, or undefined when they can. */
export function pageCacheSkipReason(file: string): string | undefined {
  try {
    execFileSync('fincore', ['--version'], { stdio: 'ignore' });
  } catch {
    return 'fincore (util-linux) is not installed';
  }
  if (!addon) return 'the native addon is not loaded, so the file cannot be evicted before the download';
  try {
    const type = execFileSync('stat', ['-f', '-c', '%T', file], { encoding: 'utf8' }).trim();
    if (type === 'tmpfs' || type === 'ramfs') return `${file} is on ${type}, which has no evictable page cache`;
  } catch {
    // unknown filesystem type: try anyway
  }
  return undefined;
}

/** Bytes of `file` resident in the page cache now. */
export function residentBytes(file: string): number {
  const out = execFileSync('fincore', ['--bytes', '--noheadings', '--output', 'RES', file], { encoding: 'utf8' });
  return Number(out.trim());
}

/** Drops `file` from the page cache (written pages are synced first: DONTNEED keeps dirty ones). */
export function evict(file: string): void {
  if (!addon) throw new Error('evict needs the native addon');
  const fd = fs.openSync(file, 'r+');
  try {
    fs.fsyncSync(fd);
    addon.fadvise(fd, 0, 0, 'dontneed');
  } finally {
    fs.closeSync(fd);
  }
}

/** Writes `bytes` bytes of pseudo-random data (1 MiB blocks, each different) and returns its SHA-256. */
export function writeDataFile(file: string, bytes: number): string {
  const hash = crypto.createHash('sha256');
  const block = crypto.randomBytes(1024 * 1024);
  const fd = fs.openSync(file, 'w');
  try {
    for (let off = 0, i = 0; off < bytes; off += block.length, i++) {
      block.writeUInt32BE(i, 0); // every block differs, so a misplaced block changes the hash
      const part = block.subarray(0, Math.min(block.length, bytes - off));
      fs.writeSync(fd, part);
      hash.update(part);
    }
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  return hash.digest('hex');
}

export interface Download {
  readonly status: number;
  readonly bytes: number;
  readonly sha256: string;
  readonly seconds: number;
  /** Most bytes of the file seen resident while the body arrived (sampled when `sampleFile` is given). */
  readonly peakResident: number;
}

/** GETs `path` and hashes the body as it streams (nothing buffered), sampling the file's residency. */
export function download(baseUrl: string, path: string, opts: { sampleFile?: string; sampleEveryMs?: number; headers?: Record<string, string> } = {}): Promise<Download> {
  const u = new URL(baseUrl);
  const started = process.hrtime.bigint();
  let peak = 0;
  const sample = (): void => {
    if (opts.sampleFile) peak = Math.max(peak, residentBytes(opts.sampleFile));
  };
  return new Promise((resolve, reject) => {
    const req = http.get({ host: u.hostname, port: u.port, path, agent: false, headers: opts.headers ?? {} }, (res) => {
      const hash = crypto.createHash('sha256');
      let bytes = 0;
      const timer = opts.sampleFile ? setInterval(sample, opts.sampleEveryMs ?? 50) : undefined;
      res.on('data', (d: Buffer) => {
        bytes += d.length;
        hash.update(d);
      });
      res.on('end', () => {
        if (timer) clearInterval(timer);
        sample();
        resolve({
          status: res.statusCode ?? 0,
          bytes,
          sha256: hash.digest('hex'),
          seconds: Number(process.hrtime.bigint() - started) / 1e9,
          peakResident: peak,
        });
      });
      res.on('error', (err) => {
        if (timer) clearInterval(timer);
        reject(err);
      });
    });
    req.on('error', reject);
  });
}
