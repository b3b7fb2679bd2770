/**
 * Test fixture files for the k6 scenarios and the benchmarks.
 *
 * makeFixtures(dir, options) writes a folder of files with known sizes and
 * SHA-256 digests and returns their descriptions. Contents:
 *  - 'random':  deterministic pseudo-random bytes (AES-128-CTR keystream of a
 *               fixed key derived from the file name), identical on every run;
 *  - 'pattern': byte i = (i + offset) mod 251, so any range can be verified
 *               from its offset alone (251 is prime: no power-of-two alignment
 *               can hide a misplaced block);
 *  - 'zero':    a sparse file (ftruncate), costs no disk.
 *
 * Files are written beside their final name and renamed into place, so a
 * server reading the old file never sees a half-written one; the same
 * mechanism drives startRewriter(), which swaps versions of a "changing" file
 * while downloads are in flight.
 */
import { createCipheriv, createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import path from 'node:path';

export type FixtureContent = 'random' | 'pattern' | 'zero';

export interface FixtureSpec {
  /** Relative path inside the fixture folder (may contain '/'). */
  name: string;
  size: number;
  content: FixtureContent;
  /** Pattern offset (content 'pattern' only). */
  offset?: number;
}

export interface FixtureFile {
  name: string;
  /** Absolute path. */
  path: string;
  size: number;
  sha256: string;
  content: FixtureContent;
  offset: number;
}

export interface ChangingFixture {
  name: string;
  path: string;
  size: number;
  /** SHA-256 of version v (content: pattern with offset v), v = 0..versions-1. */
  versionSha256: string[];
}

export interface Fixtures {
  dir: string;
  files: FixtureFile[];
  byName: Record<string, FixtureFile>;
  changing: ChangingFixture | null;
}

export interface MakeFixturesOptions {
  /** Size of big.bin (default 256 MiB). 0 leaves it out. */
  bigBytes?: number;
  /** Content of big.bin: 'pattern' (default, verifiable by range) or 'zero' (sparse, no disk). */
  bigContent?: FixtureContent;
  /** Size of changing.bin (default 2 MiB); 0 leaves it out. */
  changingBytes?: number;
  /** Number of versions changing.bin cycles through (default 4, at most 251). */
  changingVersions?: number;
  /** Replaces the default set (small, medium, big, pattern) when given. */
  specs?: FixtureSpec[];
  /** Extra files added to the default set. */
  extra?: FixtureSpec[];
  /** Keep an existing file whose size matches and whose manifest entry matches (default true). */
  reuse?: boolean;
}

export const KiB = 1024;
export const MiB = 1024 * 1024;

const CHUNK = 1 * MiB;
const MANIFEST = '.fixtures-manifest.json';

/** The default fixture set the k6 scenarios expect. */
export function defaultSpecs(options: MakeFixturesOptions = {}): FixtureSpec[] {
  const bigBytes = options.bigBytes ?? 256 * MiB;
  const specs: FixtureSpec[] = [
    { name: 'small.bin', size: 256 * KiB, content: 'random' },
    { name: 'medium.bin', size: 8 * MiB, content: 'random' },
    { name: 'pattern.bin', size: 4 * MiB, content: 'pattern', offset: 0 },
  ];
  if (bigBytes > 0) specs.push({ name: 'big.bin', size: bigBytes, content: options.bigContent ?? 'pattern', offset: 0 });
  return specs;
}

/** `length` pattern bytes starting at file position `start`: byte i = (i + offset) mod 251. */
export function patternBytes(length: number, start = 0, offset = 0): Buffer {
  const buf = Buffer.allocUnsafe(length);
  let v = (((start + offset) % 251) + 251) % 251;
  for (let i = 0; i < length; i++) {
    buf[i] = v;
    v = v === 250 ? 0 : v + 1;
  }
  return buf;
}

/** Pseudo-random but reproducible stream: AES-128-CTR keystream keyed by the file name. */
function randomSource(name: string): (length: number) => Buffer {
  const key = createHash('sha256').update('rangeserve-fixture:' + name).digest().subarray(0, 16);
  const cipher = createCipheriv('aes-128-ctr', key, Buffer.alloc(16));
  return (length) => cipher.update(Buffer.alloc(length));
}

function chunkSource(spec: FixtureSpec): (start: number, length: number) => Buffer {
  switch (spec.content) {
    case 'pattern': {
      // One pattern period longer than a chunk: any chunk is a subarray of it.
      const period = patternBytes(CHUNK + 251, 0, 0);
      const offset = spec.offset ?? 0;
      return (start, length) => {
        const s = (((start + offset) % 251) + 251) % 251;
        return period.subarray(s, s + length);
      };
    }
    case 'random': {
      const next = randomSource(spec.name);
      return (_start, length) => next(length);
    }
    case 'zero': {
      const zeros = Buffer.alloc(CHUNK);
      return (_start, length) => zeros.subarray(0, length);
    }
  }
}

/** SHA-256 of a spec's content, without writing it. */
export function specSha256(spec: FixtureSpec): string {
  const hash = createHash('sha256');
  const source = chunkSource(spec);
  for (let pos = 0; pos < spec.size; pos += CHUNK) {
    hash.update(source(pos, Math.min(CHUNK, spec.size - pos)));
  }
  return hash.digest('hex');
}

/** Writes one fixture atomically (temp file + rename) and returns its description. */
export async function writeFixture(dir: string, spec: FixtureSpec, mtime?: Date): Promise<FixtureFile> {
  const target = path.join(dir, spec.name);
  await fsp.mkdir(path.dirname(target), { recursive: true });
  const tmp = path.join(path.dirname(target), `.${path.basename(target)}.tmp-${process.pid}-${Date.now()}`);
  const hash = createHash('sha256');
  const fh = await fsp.open(tmp, 'w');
  try {
    if (spec.content === 'zero') {
      await fh.truncate(spec.size); // sparse
      const zeros = Buffer.alloc(CHUNK);
      for (let pos = 0; pos < spec.size; pos += CHUNK) hash.update(zeros.subarray(0, Math.min(CHUNK, spec.size - pos)));
    } else {
      const source = chunkSource(spec);
      for (let pos = 0; pos < spec.size; pos += CHUNK) {
        const chunk = source(pos, Math.min(CHUNK, spec.size - pos));
        hash.update(chunk);
        await fh.write(chunk, 0, chunk.length, pos);
      }
    }
  } finally {
    await fh.close();
  }
  if (mtime !== undefined) await fsp.utimes(tmp, mtime, mtime);
  await fsp.rename(tmp, target);
  return {
    name: spec.name,
    path: target,
    size: spec.size,
    sha256: hash.digest('hex'),
    content: spec.content,
    offset: spec.offset ?? 0,
  };
}

type Manifest = Record<string, FixtureFile>;

async function readManifest(dir: string): Promise<Manifest> {
  try {
    return JSON.parse(await fsp.readFile(path.join(dir, MANIFEST), 'utf8')) as Manifest;
  } catch {
    return {};
  }
}

async function stillValid(dir: string, spec: FixtureSpec, known: FixtureFile | undefined): Promise<boolean> {
  if (known === undefined) return false;
  if (known.size !== spec.size || known.content !== spec.content || known.offset !== (spec.offset ?? 0)) return false;
  try {
    const st = await fsp.stat(path.join(dir, spec.name));
    return st.isFile() && st.size === spec.size;
  } catch {
    return false;
  }
}

/**
 * Creates (or reuses) the fixture folder. Returns every file with its size
 * and SHA-256, plus the changing file's per-version digests.
 */
export async function makeFixtures(dir: string, options: MakeFixturesOptions = {}): Promise<Fixtures> {
  await fsp.mkdir(dir, { recursive: true });
  const specs = [...(options.specs ?? defaultSpecs(options)), ...(options.extra ?? [])];
  const reuse = options.reuse ?? true;
  const manifest = reuse ? await readManifest(dir) : {};
  const files: FixtureFile[] = [];
  for (const spec of specs) {
    if (!Number.isInteger(spec.size) || spec.size < 0) throw new Error(`fixture ${spec.name}: bad size ${spec.size}`);
    const known = manifest[spec.name];
    if (reuse && known !== undefined && (await stillValid(dir, spec, known))) {
      files.push({ ...known, path: path.join(dir, spec.name) });
    } else {
      files.push(await writeFixture(dir, spec));
    }
  }

  let changing: ChangingFixture | null = null;
  const changingBytes = options.changingBytes ?? 2 * MiB;
  if (changingBytes > 0) {
    const versions = Math.min(251, Math.max(2, options.changingVersions ?? 4));
    const versionSha256: string[] = [];
    for (let v = 0; v < versions; v++) {
      versionSha256.push(specSha256({ name: 'changing.bin', size: changingBytes, content: 'pattern', offset: v }));
    }
    const first = await writeFixture(dir, { name: 'changing.bin', size: changingBytes, content: 'pattern', offset: 0 });
    changing = { name: first.name, path: first.path, size: changingBytes, versionSha256 };
  }

  const byName: Record<string, FixtureFile> = {};
  for (const f of files) byName[f.name] = f;
  await fsp.writeFile(path.join(dir, MANIFEST), JSON.stringify(byName, null, 2));
  return { dir, files, byName, changing };
}

/**
 * The FIXTURES environment value the k6 scenarios read:
 * `{ "<name>": { size, sha256, content, offset } }` (changing.bin has content
 * 'changing' and no sha256; its digests go in CHANGING_SHA256S).
 */
export function fixturesEnv(fx: Fixtures): string {
  const out: Record<string, { size: number; sha256?: string; content: string; offset?: number }> = {};
  for (const f of fx.files) out[f.name] = { size: f.size, sha256: f.sha256, content: f.content, offset: f.offset };
  if (fx.changing !== null) out[fx.changing.name] = { size: fx.changing.size, content: 'changing' };
  return JSON.stringify(out);
}

export interface Rewriter {
  /** Number of rewrites done so far. */
  readonly count: () => number;
  stop(): Promise<void>;
}

/**
 * Rewrites the changing file every intervalMs with the next version (pattern
 * offset v+1 mod versions), atomically, each with a strictly later mtime so
 * the server's validator changes even on coarse-mtime file systems.
 */
export function startRewriter(fx: Fixtures, intervalMs: number): Rewriter {
  const changing = fx.changing;
  if (changing === null) throw new Error('no changing fixture to rewrite');
  const versions = changing.versionSha256.length;
  let version = 0;
  let done = 0;
  let lastMtime = Date.now();
  let stopped = false;
  let busy: Promise<void> = Promise.resolve();
  const timer = setInterval(() => {
    if (stopped) return;
    busy = busy.then(async () => {
      if (stopped) return;
      version = (version + 1) % versions;
      lastMtime = Math.max(Date.now(), lastMtime + 1000);
      await writeFixture(
        fx.dir,
        { name: changing.name, size: changing.size, content: 'pattern', offset: version },
        new Date(lastMtime),
      );
      done++;
    }).catch((err: unknown) => {
      process.stderr.write(`fixture rewriter: ${String(err)}\n`);
    });
  }, Math.max(1000, intervalMs));
  return {
    count: () => done,
    async stop() {
      stopped = true;
      clearInterval(timer);
      await busy;
    },
  };
}
