/**
 * Shared set-up of the isolation suites: a served root holding a normal folder
 * (`fast/`, the healthy volume) and a slowfs FUSE mount (`slow/`, a separate
 * volume), plus a client that records how slow downloads progress.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { mountSlowFs, slowFsAvailable, type SlowFs } from '../support/slowfs';
import { raw } from '../helpers/http';

export const avail = slowFsAvailable();
export const skipReason: string | false = avail.ok ? false : `slowfs unavailable: ${avail.reason}`;

export const CHUNK = 64 * 1024;
export const SLOW_SIZE = 1024 * 1024;

export interface IsolationFixture {
  readonly base: string;
  readonly root: string;
  readonly slow: SlowFs;
  readonly fastData: Buffer;
  readonly slowData: Buffer;
  cleanup(): Promise<void>;
}

export async function makeIsolationFixture(): Promise<IsolationFixture> {
  const base = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'rangeserve-iso-'));
  const root = path.join(base, 'root');
  const backing = path.join(base, 'backing');
  await fs.promises.mkdir(path.join(root, 'fast'), { recursive: true });
  await fs.promises.mkdir(path.join(root, 'slow'));
  await fs.promises.mkdir(backing);
  const fastData = crypto.randomBytes(16 * 1024);
  const slowData = crypto.randomBytes(SLOW_SIZE);
  await fs.promises.writeFile(path.join(root, 'fast', 'small.bin'), fastData);
  for (let i = 0; i < 4; i++) await fs.promises.writeFile(path.join(backing, `f${i}.bin`), slowData);
  const slow = await mountSlowFs({ backing, mountpoint: path.join(root, 'slow') });
  return {
    base,
    root,
    slow,
    fastData,
    slowData,
    cleanup: async () => {
      await slow.unmount().catch(() => undefined);
      await fs.promises.rm(base, { recursive: true, force: true });
    },
  };
}

/** Settings every isolation server uses (one FUSE request per read; quick probe). */
export function isolationEnv(root: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    FILES_ROOT: root,
    READ_CHUNK_BYTES: String(CHUNK),
    READ_TIMEOUT_MS: '3000',
    VOLUME_PROBE_INTERVAL_MS: '500',
    ...extra,
  };
}

export function sha(b: Buffer): string {
  return crypto.createHash('sha256').update(b).digest('hex');
}

/** One slow download and how it went. */
export interface Tracked {
  readonly startedAt: number;
  status: number;
  /** Longest time without news (headers, data or the end), ms; updated until it ends. */
  maxGapMs: number;
  bytes: number;
  endedAt: number | undefined;
  complete: boolean;
  lastNewsAt: number;
}

export class SlowClients {
  readonly list: Tracked[] = [];
  private readonly reqs: http.ClientRequest[] = [];

  constructor(private readonly baseUrl: string) {}

  start(n: number, pathFor: (i: number) => string): void {
    const u = new URL(this.baseUrl);
    for (let i = 0; i < n; i++) {
      const t: Tracked = { startedAt: Date.now(), status: 0, maxGapMs: 0, bytes: 0, endedAt: undefined, complete: false, lastNewsAt: Date.now() };
      const news = (): void => {
        const now = Date.now();
        t.maxGapMs = Math.max(t.maxGapMs, now - t.lastNewsAt);
        t.lastNewsAt = now;
      };
      const end = (complete: boolean): void => {
        if (t.endedAt !== undefined) return;
        news();
        t.endedAt = Date.now();
        t.complete = complete;
      };
      const req = http.get({ host: u.hostname, port: u.port, path: pathFor(i), agent: false }, (res) => {
        news();
        t.status = res.statusCode ?? 0;
        res.on('data', (d: Buffer) => {
          news();
          t.bytes += d.length;
        });
        res.on('end', () => end(res.complete));
        res.on('aborted', () => end(false));
        res.on('error', () => end(false));
        res.on('close', () => end(res.complete));
      });
      req.on('error', () => end(false));
      this.list.push(t);
      this.reqs.push(req);
    }
  }

  /** The worst silence so far of any download, counting the time since its last news for those still open. */
  worstGapMs(): number {
    const now = Date.now();
    return Math.max(0, ...this.list.map((t) => Math.max(t.maxGapMs, t.endedAt === undefined ? now - t.lastNewsAt : 0)));
  }

  stop(): void {
    for (const r of this.reqs) r.destroy();
  }
}

/** `n` sequential GETs of a healthy file; returns each latency (ms), asserting the body. */
export async function healthyLatencies(baseUrl: string, n: number, expect: Buffer): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const r = await raw(baseUrl, { path: '/files/fast/small.bin' }, 10_000);
    out.push(performance.now() - t0);
    if (r.status !== 200 || !r.body.equals(expect)) throw new Error(`healthy request failed: ${r.status} ${r.body.length} bytes`);
  }
  return out;
}

export interface Readyz {
  status: string;
  volumes: { id: string; mount: string; state: string; inflight: number; queued: number; latencyMs: { p50: number | null; p99: number | null } }[];
}

export async function readyz(baseUrl: string): Promise<{ status: number; body: Readyz }> {
  const r = await raw(baseUrl, { path: '/readyz' }, 5_000);
  return { status: r.status, body: JSON.parse(r.body.toString()) as Readyz };
}

export async function waitUntil(pred: () => Promise<boolean>, timeoutMs: number, stepMs = 100): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await pred()) return true;
    await new Promise((r) => setTimeout(r, stepMs));
  }
  return pred();
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
