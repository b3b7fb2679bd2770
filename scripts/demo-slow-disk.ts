/**
 * npm run demo:slow-disk — a dying disk next to a healthy one, served by the
 * naive createReadStream server (bench/naive-server.ts) and by rangeserve.
 *
 * Mounts a FUSE "slow disk" (test/support/slowfs: every read sleeps 2 s)
 * inside a served root that also holds a normal folder, loads each server with
 * N downloads from the slow disk, and measures healthy-file requests meanwhile:
 * the naive server, then rangeserve in all four modes (stream, worker,
 * cluster·stream, cluster·worker), one after the other, from one run. Each
 * server is stopped right after its turn, so a starved one cannot slow the
 * next. Prints one table (p50/p99 of the healthy requests that succeeded).
 * Needs root (FUSE); bounded: about a minute, never more than DEMO_BUDGET_S.
 *
 *   DEMO_SLOW=72 DEMO_DELAY_MS=2000 DEMO_MODES=stream,worker,cluster-stream,cluster-worker npm run demo:slow-disk
 */
import { spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { mountSlowFs, slowFsAvailable, type SlowFs } from '../test/support/slowfs';

const SLOW = Number(process.env['DEMO_SLOW'] ?? 72);
const DELAY_MS = Number(process.env['DEMO_DELAY_MS'] ?? 2000);
const SAMPLES = Number(process.env['DEMO_SAMPLES'] ?? 100);
/** Hard bound on the whole run: past it everything is killed and unmounted. */
const BUDGET_S = Number(process.env['DEMO_BUDGET_S'] ?? 240);
const MODES: Record<string, { label: string; env: Record<string, string> }> = {
  stream: { label: 'rangeserve stream', env: { MODE: 'stream' } },
  worker: { label: 'rangeserve worker', env: { MODE: 'worker' } },
  'cluster-stream': { label: 'rangeserve cluster·stream (2 workers)', env: { MODE: 'cluster', CLUSTER_IO: 'stream', WORKERS: '2' } },
  'cluster-worker': { label: 'rangeserve cluster·worker (2 workers)', env: { MODE: 'cluster', CLUSTER_IO: 'worker', WORKERS: '2' } },
};
const SELECTED = (process.env['DEMO_MODES'] ?? Object.keys(MODES).join(',')).split(',').map((m) => m.trim()).filter((m) => m !== '');
const PER_REQUEST_TIMEOUT_MS = 10_000;
const MEASURE_BUDGET_MS = 20_000;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function startProcess(cmd: string[], env: Record<string, string>, ready: (line: string) => number | undefined): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, cmd, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${cmd.join(' ')} did not start`)), 15_000);
    readline.createInterface({ input: child.stdout! }).on('line', (line) => {
      const port = ready(line);
      if (port !== undefined) {
        clearTimeout(timer);
        resolve({ child, port });
      }
    });
    child.once('exit', (code) => reject(new Error(`${cmd.join(' ')} exited with ${code}`)));
  });
}

function get(port: number, p: string, timeoutMs: number): { done: Promise<number>; req: http.ClientRequest } {
  let req!: http.ClientRequest;
  const done = new Promise<number>((resolve) => {
    req = http.get({ host: '127.0.0.1', port, path: p, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
      res.on('error', () => resolve(-1));
      res.on('close', () => resolve(res.statusCode ?? 0));
    });
    req.setTimeout(timeoutMs, () => req.destroy());
    req.on('error', () => resolve(-1));
  });
  return { done, req };
}

interface Result {
  name: string;
  latencies: number[];
  failed: number;
}

async function measure(name: string, port: number, slow: SlowFs): Promise<Result> {
  await slow.setDelay(DELAY_MS);
  const load = Array.from({ length: SLOW }, (_, i) => get(port, `/files/slow/f${i % 4}.bin`, 60_000));
  await sleep(1000);
  const latencies: number[] = [];
  let failed = 0;
  const end = Date.now() + MEASURE_BUDGET_MS;
  for (let i = 0; i < SAMPLES && Date.now() < end; i++) {
    const t0 = performance.now();
    const status = await get(port, '/files/fast/small.bin', Math.min(PER_REQUEST_TIMEOUT_MS, Math.max(1, end - Date.now()))).done;
    const ms = performance.now() - t0;
    if (status === 200) latencies.push(ms);
    else failed++;
  }
  for (const l of load) l.req.destroy();
  await slow.setDelay(0);
  await sleep(DELAY_MS + 500); // reads already in the kernel drain
  return { name, latencies, failed };
}

function pct(sorted: number[], q: number): string {
  if (sorted.length === 0) return '-';
  // Nearest rank: with 100 samples p99 is the 99th, not the maximum.
  return (sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? 0).toFixed(1);
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) {
    process.stderr.write('demo:slow-disk needs root (it mounts a FUSE file system). Run it as root, e.g. sudo npm run demo:slow-disk\n');
    process.exit(1);
  }
  const avail = slowFsAvailable();
  if (!avail.ok) {
    process.stderr.write(`demo:slow-disk: ${avail.reason}\n`);
    process.exit(1);
  }
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'rangeserve-demo-'));
  const root = path.join(base, 'root');
  const backing = path.join(base, 'backing');
  fs.mkdirSync(path.join(root, 'fast'), { recursive: true });
  fs.mkdirSync(path.join(root, 'slow'));
  fs.mkdirSync(backing);
  fs.writeFileSync(path.join(root, 'fast', 'small.bin'), crypto.randomBytes(16 * 1024));
  const big = crypto.randomBytes(1024 * 1024);
  for (let i = 0; i < 4; i++) fs.writeFileSync(path.join(backing, `f${i}.bin`), big);
  const slow = await mountSlowFs({ backing, mountpoint: path.join(root, 'slow') });
  const children: ChildProcess[] = [];
  // Whatever hangs, the demo ends: kill, unmount, exit 1.
  const guard = setTimeout(() => {
    process.stderr.write(`demo:slow-disk: over its ${BUDGET_S} s budget; stopping\n`);
    for (const c of children) c.kill('SIGKILL');
    void slow.unmount().finally(() => process.exit(1));
  }, BUDGET_S * 1000);
  guard.unref();
  const stop = async (c: ChildProcess): Promise<void> => {
    if (c.exitCode !== null || c.signalCode !== null) return;
    const gone = new Promise<void>((r) => c.once('exit', () => r()));
    c.kill('SIGKILL');
    await gone;
  };
  try {
    const dist = path.resolve(__dirname, '..');
    process.stdout.write(
      `slow disk: every read sleeps ${DELAY_MS} ms; per server ${SLOW} downloads from it, then ${SAMPLES} sequential healthy 16 KiB requests ` +
        `(each new connection, ${PER_REQUEST_TIMEOUT_MS / 1000} s timeout, ${MEASURE_BUDGET_MS / 1000} s budget)\n` +
        `machine: ${os.cpus().length} × ${os.cpus()[0]?.model ?? '?'}, Linux ${os.release()}, Node ${process.version}; ${new Date().toISOString()}\n\n`,
    );
    const results: Result[] = [];
    const naive = await startProcess([path.join(dist, 'bench', 'naive-server.js')], { ROOT: root, PORT: '0' }, (l) => {
      const m = /^listening (\d+)$/.exec(l);
      return m ? Number(m[1]) : undefined;
    });
    children.push(naive.child);
    results.push(await measure('naive createReadStream (pool 4)', naive.port, slow));
    await stop(naive.child);
    for (const mode of SELECTED) {
      const m = MODES[mode];
      if (!m) throw new Error(`DEMO_MODES: unknown mode ${mode} (one of ${Object.keys(MODES).join(', ')})`);
      const rs = await startProcess(
        [path.join(dist, 'app', 'main.js')],
        { FILES_ROOT: root, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info', READ_CHUNK_BYTES: String(64 * 1024), ...m.env },
        (l) => {
          try {
            const o = JSON.parse(l) as { msg?: string; port?: number };
            return o.msg === 'listening' ? o.port : undefined;
          } catch {
            return undefined;
          }
        },
      );
      children.push(rs.child);
      results.push(await measure(m.label, rs.port, slow));
      await stop(rs.child);
    }
    process.stdout.write('| server | healthy ok | failed/timed out | p50 ms | p99 ms | max ms |\n|---|---|---|---|---|---|\n');
    for (const r of results) {
      const s = [...r.latencies].sort((a, b) => a - b);
      process.stdout.write(`| ${r.name} | ${r.latencies.length} | ${r.failed} | ${pct(s, 0.5)} | ${pct(s, 0.99)} | ${s.length ? (s[s.length - 1] ?? 0).toFixed(1) : '-'} |\n`);
    }
  } finally {
    clearTimeout(guard);
    for (const c of children) c.kill('SIGKILL');
    await slow.unmount().catch(() => undefined);
    fs.rmSync(base, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`demo:slow-disk failed: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
