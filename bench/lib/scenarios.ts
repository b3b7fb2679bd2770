/**
 * The four scenarios. Each one samples the server's process-tree CPU before
 * and after, and is bounded in count and time.
 */
import http from 'node:http';
import net from 'node:net';
import { spawn, type ChildProcess } from 'node:child_process';
import autocannon from 'autocannon';
import { findCurl, machineJiffies, treeCpuSeconds, treeRssBytes } from './proc';
import type { RunningServer } from './servers';
import { GiB, MiB } from './fixtures';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * autocannon 8 keeps every response body by appending each chunk to a JS string
 * (`req.body += chunk` in lib/pipelinedRequestsQueue.js): a 1 MiB body is decoded
 * as UTF-8 and copied again and again, which caps the client near 50 req/s and
 * would measure autocannon, not the server. We never look at bodies (no
 * verifyBody/expectBody/onResponse), so drop them. Byte counts and latencies are
 * recorded elsewhere and stay correct. Returns false if the internals changed.
 */
function dropAutocannonBodies(): boolean {
  try {
    const mod: unknown = require('autocannon/lib/pipelinedRequestsQueue');
    if (typeof mod !== 'function') return false;
    const proto: unknown = (mod as { prototype?: unknown }).prototype;
    if (typeof proto !== 'object' || proto === null || !('addBody' in proto)) return false;
    (proto as { addBody: (data: unknown) => void }).addBody = function addBody(): void {
      // body intentionally discarded
    };
    return true;
  } catch {
    return false;
  }
}
export const autocannonBodiesDropped = dropAutocannonBodies();

const clients = new Set<ChildProcess>();
/** Kills curl clients still running (error/SIGINT path). */
export function killClientsSync(): void {
  for (const c of clients) {
    try {
      c.kill('SIGKILL');
    } catch {
      // gone
    }
  }
  clients.clear();
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[idx] as number;
}

/** Share of the whole machine's CPU that was busy between two /proc/stat samples. */
function busyFraction(a: { busy: number; total: number }, b: { busy: number; total: number }): number {
  const dt = b.total - a.total;
  return dt > 0 ? (b.busy - a.busy) / dt : NaN;
}

// ---------------------------------------------------------------- (a) throughput

export interface ThroughputResult {
  readonly concurrency: number;
  readonly downloadsStarted: number;
  readonly downloadsCompleted: number;
  readonly bytes: number;
  readonly seconds: number;
  readonly gibPerSec: number;
  readonly serverCpuSeconds: number;
  readonly serverCpuPerGiB: number;
  readonly machineBusy: number;
  readonly client: 'curl' | 'node';
  readonly failures: number;
  /** Highest server RSS (process tree) sampled every 100 ms while the downloads ran. */
  readonly peakRssMiB: number;
}

interface OneDownload {
  readonly bytes: number;
  readonly ok: boolean;
}

function curlDownload(curl: string, url: string, maxSeconds: number): Promise<OneDownload> {
  return new Promise((resolve) => {
    const child = spawn(
      curl,
      ['-s', '-o', '/dev/null', '--max-time', maxSeconds.toFixed(2), '-w', '%{size_download} %{http_code}', url],
      { stdio: ['ignore', 'pipe', 'ignore'] },
    );
    clients.add(child);
    let out = '';
    child.stdout?.on('data', (c: Buffer) => (out += c.toString('utf8')));
    child.on('close', (code) => {
      clients.delete(child);
      const [size, status] = out.trim().split(' ');
      resolve({ bytes: Number(size) || 0, ok: code === 0 && status === '200' });
    });
    child.on('error', () => {
      clients.delete(child);
      resolve({ bytes: 0, ok: false });
    });
  });
}

function nodeDownload(url: string, maxSeconds: number): Promise<OneDownload> {
  return new Promise((resolve) => {
    let bytes = 0;
    let settled = false;
    const finish = (ok: boolean): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve({ bytes, ok });
    };
    const req = http.get(url, { agent: false }, (res) => {
      res.on('data', (c: Buffer) => (bytes += c.length));
      res.on('end', () => finish(res.statusCode === 200));
      res.on('error', () => finish(false));
    });
    const timer = setTimeout(() => {
      req.destroy();
      finish(false);
    }, maxSeconds * 1000);
    req.on('error', () => finish(false));
  });
}

/**
 * `concurrency` clients, each downloading the file `perClient` times in a row,
 * all stopped at `maxSeconds` (bytes received so far still count).
 */
export async function throughput(
  server: RunningServer,
  file: string,
  expectedSize: number,
  concurrency: number,
  perClient: number,
  maxSeconds: number,
): Promise<ThroughputResult> {
  const curl = findCurl();
  const url = `${server.base}/files/${file}`;
  let bytes = 0;
  let started = 0;
  let completed = 0;
  let failures = 0;
  const cpu0 = treeCpuSeconds(server.pid);
  const m0 = machineJiffies();
  const t0 = process.hrtime.bigint();
  const deadline = Date.now() + maxSeconds * 1000;
  let peakRss = treeRssBytes(server.pid);
  const sampler = setInterval(() => {
    peakRss = Math.max(peakRss, treeRssBytes(server.pid));
  }, 100);
  const worker = async (): Promise<void> => {
    for (let i = 0; i < perClient; i++) {
      const left = (deadline - Date.now()) / 1000;
      if (left < 0.05) return;
      started++;
      const r = curl ? await curlDownload(curl, url, left) : await nodeDownload(url, left);
      bytes += r.bytes;
      if (r.ok && r.bytes === expectedSize) completed++;
      else if (Date.now() < deadline - 50) failures++;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, () => worker())).finally(() => clearInterval(sampler));
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = treeCpuSeconds(server.pid) - cpu0;
  const m1 = machineJiffies();
  return {
    concurrency,
    downloadsStarted: started,
    downloadsCompleted: completed,
    bytes,
    seconds,
    gibPerSec: bytes / GiB / seconds,
    serverCpuSeconds: cpu,
    serverCpuPerGiB: bytes > 0 ? cpu / (bytes / GiB) : NaN,
    machineBusy: busyFraction(m0, m1),
    client: curl ? 'curl' : 'node',
    failures,
    peakRssMiB: peakRss / MiB,
  };
}

// ---------------------------------------------------------------- (b) / (c) autocannon

export interface LoadResult {
  readonly connections: number;
  readonly seconds: number;
  readonly ok: number;
  readonly reqPerSec: number;
  readonly p50ms: number;
  readonly p99ms: number;
  readonly maxMs: number;
  readonly mibPerSec: number;
  readonly errors: number;
  readonly timeouts: number;
  readonly non2xx: number;
  readonly wrongStatus: number;
  /** Responses per status code, as autocannon counted them. */
  readonly statuses: Record<string, number>;
  readonly serverCpuSeconds: number;
  readonly serverCpuUsPerReq: number;
  readonly machineBusy: number;
}

function runCannon(opts: autocannon.Options): Promise<autocannon.Result> {
  return new Promise((resolve, reject) => {
    autocannon(opts, (err: unknown, result: autocannon.Result) => {
      if (err) reject(err instanceof Error ? err : new Error(String(err)));
      else resolve(result);
    });
  });
}

function statusCount(r: autocannon.Result, code: number): number | undefined {
  const s = r.statusCodeStats?.[`${code}`];
  return s?.count === undefined ? undefined : Number(s.count);
}

async function load(
  server: RunningServer,
  opts: Omit<autocannon.Options, 'url'> & { path: string },
  expectStatus: number,
  warmupRequests: number,
): Promise<LoadResult> {
  const { path: urlPath, duration, ...common } = opts;
  const url = server.base + urlPath;
  const connections = common.connections ?? 10;
  if (warmupRequests > 0) {
    await runCannon({ ...common, url, amount: Math.max(warmupRequests, connections), timeout: 10 });
  }
  const cpu0 = treeCpuSeconds(server.pid);
  const m0 = machineJiffies();
  const r = await runCannon({ ...common, url, timeout: 10, ...(duration !== undefined ? { duration } : {}) });
  const cpu = treeCpuSeconds(server.pid) - cpu0;
  const m1 = machineJiffies();
  const ok = r['2xx'];
  const expected = statusCount(r, expectStatus);
  return {
    connections,
    seconds: r.duration,
    ok,
    reqPerSec: ok / r.duration,
    p50ms: r.latency.p50,
    p99ms: r.latency.p99,
    maxMs: r.latency.max,
    mibPerSec: r.throughput.average / MiB,
    errors: r.errors,
    timeouts: r.timeouts,
    non2xx: r.non2xx,
    wrongStatus: expected === undefined ? 0 : ok - expected,
    statuses: Object.fromEntries(Object.entries(r.statusCodeStats ?? {}).map(([k, v]) => [k, Number(v.count ?? 0)])),
    serverCpuSeconds: cpu,
    serverCpuUsPerReq: ok > 0 ? (cpu / ok) * 1e6 : NaN,
    machineBusy: busyFraction(m0, m1),
  };
}

/** (b) full downloads of a 1 MiB file. */
export function smallDownloads(server: RunningServer, file: string, connections: number, seconds: number, warmup: number): Promise<LoadResult> {
  return load(server, { path: `/files/${file}`, connections, duration: seconds }, 200, warmup);
}

/** (c) one random 4 KiB range per request inside a big file. */
export function randomRanges(
  server: RunningServer,
  file: string,
  fileSize: number,
  connections: number,
  seconds: number,
  warmup: number,
): Promise<LoadResult> {
  return rangesIn(server, file, 0, fileSize, connections, seconds, warmup);
}

/**
 * (e) one random 4 KiB range per request inside [from, to) of a file: the same
 * window at offset 0 and near the end of a 5 GiB file shows whether a range's
 * cost depends on where it is.
 */
export function rangesIn(
  server: RunningServer,
  file: string,
  from: number,
  to: number,
  connections: number,
  seconds: number,
  warmup: number,
): Promise<LoadResult> {
  const span = 4096;
  const setupRequest = (req: autocannon.Request): autocannon.Request => {
    const start = from + Math.floor(Math.random() * (to - from - span + 1));
    return { ...req, headers: { ...(req.headers ?? {}), range: `bytes=${start}-${start + span - 1}` } };
  };
  return load(
    server,
    {
      path: `/files/${file}`,
      connections,
      duration: seconds,
      requests: [{ method: 'GET', path: `/files/${file}`, setupRequest }],
    },
    206,
    warmup,
  );
}

/** One plain request; resolves with status, body length and time to the first response byte. */
export function probe(
  url: string,
  headers: http.OutgoingHttpHeaders,
  timeoutMs: number,
  maxBytes = Infinity,
): Promise<{ status: number; bytes: number; ttfbMs: number; totalMs: number }> {
  return new Promise((resolve) => {
    const t0 = process.hrtime.bigint();
    let ttfbMs = NaN;
    let bytes = 0;
    let settled = false;
    const done = (status: number): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve({ status, bytes, ttfbMs, totalMs: Number(process.hrtime.bigint() - t0) / 1e6 });
    };
    const req = http.get(url, { agent: false, headers }, (res) => {
      ttfbMs = Number(process.hrtime.bigint() - t0) / 1e6;
      res.on('data', (c: Buffer) => {
        bytes += c.length;
        if (bytes > maxBytes) {
          done(res.statusCode ?? 0); // more than asked for: stop here, report what came
          req.destroy();
        }
      });
      res.on('end', () => done(res.statusCode ?? 0));
      res.on('error', () => done(0));
    });
    const timer = setTimeout(() => {
      req.destroy();
      done(0);
    }, timeoutMs);
    req.on('error', () => done(0));
  });
}

// ---------------------------------------------------------------- (d) paused downloads

export interface PausedResult {
  readonly requestedSockets: number;
  readonly responding: number;
  readonly rssIdleMiB: number;
  readonly rssPausedMiB: number;
  readonly rssPerPausedKiB: number;
  readonly smallRequests: number;
  readonly smallFailures: number;
  readonly ttfbIdleP99ms: number;
  readonly ttfbP50ms: number;
  readonly ttfbP99ms: number;
  readonly ttfbMaxMs: number;
  readonly serverCpuSeconds: number;
}

async function smallTtfb(
  server: RunningServer,
  file: string,
  count: number,
  concurrency: number,
  maxSeconds: number,
): Promise<{ sorted: number[]; failures: number; sent: number }> {
  const ttfbs: number[] = [];
  let failures = 0;
  let next = 0;
  const url = `${server.base}/files/${file}`;
  const deadline = Date.now() + maxSeconds * 1000;
  const worker = async (): Promise<void> => {
    while (next < count && Date.now() < deadline) {
      next++;
      const r = await probe(url, {}, 5_000);
      if (r.status === 200 && Number.isFinite(r.ttfbMs)) ttfbs.push(r.ttfbMs);
      else failures++;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, () => worker()));
  return { sorted: ttfbs.sort((a, b) => a - b), failures, sent: next };
}

/**
 * (d) `sockets` raw connections each send one GET for the big file, read the
 * first chunk (proof the response started) and then stop reading. While they
 * hang there, measure server RSS and the time-to-first-byte of new small
 * requests. Every socket is destroyed before returning, whatever happens.
 */
export async function pausedDownloads(
  server: RunningServer,
  bigFile: string,
  smallFile: string,
  sockets: number,
  smallCount: number,
): Promise<PausedResult> {
  const idle = await smallTtfb(server, smallFile, Math.min(100, smallCount), 4, 5);
  const rssIdle = treeRssBytes(server.pid);
  const cpu0 = treeCpuSeconds(server.pid);
  const open: net.Socket[] = [];
  let responding = 0;
  try {
    const request = `GET /files/${bigFile} HTTP/1.1\r\nHost: 127.0.0.1:${server.port}\r\n\r\n`;
    const batch = 100;
    for (let i = 0; i < sockets; i += batch) {
      const n = Math.min(batch, sockets - i);
      await Promise.all(
        Array.from(
          { length: n },
          () =>
            new Promise<void>((resolve) => {
              const s = net.connect({ host: '127.0.0.1', port: server.port });
              open.push(s);
              s.setNoDelay(true);
              s.once('connect', () => {
                s.write(request);
                resolve();
              });
              s.once('data', () => {
                responding++;
                s.pause(); // stop reading: the kernel buffers fill, then the server must hold the rest
              });
              s.on('error', () => resolve());
              setTimeout(resolve, 3000);
            }),
        ),
      );
    }
    // Let every response start and every buffer fill (bounded: 5 s).
    const until = Date.now() + 5000;
    while (responding < open.length && Date.now() < until) await sleep(100);
    let rss = treeRssBytes(server.pid);
    for (let i = 0; i < 10; i++) {
      await sleep(200);
      const now = treeRssBytes(server.pid);
      const stable = Math.abs(now - rss) < 0.01 * rss;
      rss = now;
      if (stable) break;
    }
    const loaded = await smallTtfb(server, smallFile, smallCount, 4, 10);
    const rssPaused = Math.max(rss, treeRssBytes(server.pid));
    const cpu = treeCpuSeconds(server.pid) - cpu0;
    return {
      requestedSockets: sockets,
      responding,
      rssIdleMiB: rssIdle / MiB,
      rssPausedMiB: rssPaused / MiB,
      rssPerPausedKiB: responding > 0 ? (rssPaused - rssIdle) / 1024 / responding : NaN,
      smallRequests: loaded.sent,
      smallFailures: loaded.failures,
      ttfbIdleP99ms: percentile(idle.sorted, 99),
      ttfbP50ms: percentile(loaded.sorted, 50),
      ttfbP99ms: percentile(loaded.sorted, 99),
      ttfbMaxMs: loaded.sorted[loaded.sorted.length - 1] ?? NaN,
      serverCpuSeconds: cpu,
    };
  } finally {
    for (const s of open) s.destroy();
    await sleep(300);
  }
}
