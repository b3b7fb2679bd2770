/**
 * Fixture files, generated once into bench/.fixtures (gitignored) with real,
 * non-repeating content (no sparse holes: the page cache must hold real pages),
 * then read once per run so every measurement starts from a warm cache.
 */
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { execFileSync } from 'node:child_process';

export const MiB = 1024 * 1024;
export const GiB = 1024 * MiB;

export interface FixtureSpec {
  readonly name: string;
  readonly size: number;
}

export interface Fixtures {
  readonly dir: string;
  /** The big file for throughput, ranges and paused downloads. */
  readonly big: FixtureSpec;
  readonly oneMiB: FixtureSpec;
  readonly small: FixtureSpec;
}

export function fixtureSpecs(dir: string, quick: boolean): Fixtures {
  return {
    dir,
    big: quick ? { name: 'big-256m.bin', size: 256 * MiB } : { name: 'big-1g.bin', size: GiB },
    oneMiB: { name: 'one-1m.bin', size: MiB },
    small: { name: 'small-16k.bin', size: 16 * 1024 },
  };
}

/** Writes the file unless it already exists with the right size. Returns seconds spent (0 when cached). */
function ensureFile(dir: string, spec: FixtureSpec): number {
  const target = path.join(dir, spec.name);
  try {
    if (fs.statSync(target).size === spec.size) return 0;
  } catch {
    // missing: create below
  }
  const t0 = process.hrtime.bigint();
  const tmp = `${target}.tmp-${process.pid}`;
  const chunk = Math.min(spec.size, 16 * MiB);
  const buf = crypto.randomBytes(chunk);
  const fd = fs.openSync(tmp, 'w');
  try {
    let written = 0;
    let block = 0;
    while (written < spec.size) {
      const n = Math.min(chunk, spec.size - written);
      // Stamp every 4 KiB block with its index so no two blocks are equal.
      for (let off = 0; off + 8 <= n; off += 4096) buf.writeBigUInt64LE(BigInt(block++), off);
      let done = 0;
      while (done < n) done += fs.writeSync(fd, buf, done, n - done, written + done);
      written += n;
    }
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, target);
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

export function ensureFixtures(f: Fixtures): { generatedSeconds: number } {
  fs.mkdirSync(f.dir, { recursive: true });
  // Leftovers of an interrupted generation.
  for (const name of fs.readdirSync(f.dir)) {
    if (name.includes('.tmp-')) fs.rmSync(path.join(f.dir, name), { force: true });
  }
  let generatedSeconds = 0;
  for (const spec of [f.big, f.oneMiB, f.small]) generatedSeconds += ensureFile(f.dir, spec);
  return { generatedSeconds };
}

/** Reads every fixture once (like `cat file > /dev/null`). Returns the fraction cached afterwards, when fincore exists. */
export function warmCache(f: Fixtures): { seconds: number; cachedFraction: number | null } {
  const t0 = process.hrtime.bigint();
  const buf = Buffer.allocUnsafe(8 * MiB);
  for (const spec of [f.big, f.oneMiB, f.small]) {
    const fd = fs.openSync(path.join(f.dir, spec.name), 'r');
    try {
      while (fs.readSync(fd, buf, 0, buf.length, null) > 0) {
        // discard
      }
    } finally {
      fs.closeSync(fd);
    }
  }
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  let cachedFraction: number | null = null;
  try {
    const file = path.join(f.dir, f.big.name);
    const out = execFileSync('fincore', ['--bytes', '--noheadings', '--raw', '--output', 'RES', file], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    const res = Number(out.trim());
    if (Number.isFinite(res)) cachedFraction = res / f.big.size;
  } catch {
    // fincore missing: leave null
  }
  return { seconds, cachedFraction };
}
