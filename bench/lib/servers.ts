/**
 * The servers under test: how to start each one on 127.0.0.1 and an ephemeral
 * port, wait until it answers, and kill its whole process group afterwards.
 * Every started server is registered so that an error, SIGINT or SIGTERM in the
 * benchmark still kills it (see killAllSync).
 */
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { findNginx, openFilesLimit, pidTree } from './proc';

export interface RunningServer {
  readonly targetId: string;
  /** Pid of the process we spawned: the root of the tree whose CPU and RSS are measured. */
  readonly pid: number;
  readonly port: number;
  readonly base: string;
  stop(): Promise<void>;
}

export interface StartContext {
  readonly projectRoot: string;
  readonly fixtureDir: string;
  /** Scratch directory for this run (nginx config, logs). */
  readonly tmpDir: string;
  /** A file that exists in fixtureDir, used for readiness checks of peers without /healthz. */
  readonly probeFile: string;
  /** Extra environment for the rangeserve targets (`--workers`, `--rs-env`): measure a switch on and off. */
  readonly rsEnv?: Readonly<Record<string, string>>;
}

export interface Target {
  readonly id: string;
  readonly label: string;
  readonly group: 'rangeserve' | 'peer';
  /** null when it can run; otherwise why it is skipped. */
  unavailable(ctx: StartContext): string | null;
  start(ctx: StartContext): Promise<RunningServer>;
}

const live = new Map<number, ChildProcess>();

/** Synchronous last-resort cleanup: SIGKILL every registered process group and any stray descendants. */
export function killAllSync(): void {
  for (const [pid] of live) {
    const tree = pidTree(pid);
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // already gone
    }
    for (const p of tree) {
      try {
        process.kill(p.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
  live.clear();
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function getStatus(url: string, timeoutMs: number): Promise<number> {
  return new Promise((resolve) => {
    const req = http.get(url, { agent: false, timeout: timeoutMs }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
      res.on('error', () => resolve(0));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(0));
  });
}

async function waitHealthy(url: string, child: ChildProcess, deadlineMs: number): Promise<void> {
  const until = Date.now() + deadlineMs;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error('exited before answering');
    if ((await getStatus(url, 1000)) === 200) return;
    if (Date.now() > until) throw new Error(`no 200 from ${url} within ${deadlineMs} ms`);
    await sleep(50);
  }
}

interface SpawnSpec {
  readonly targetId: string;
  readonly cmd: string;
  readonly args: readonly string[];
  readonly env: NodeJS.ProcessEnv;
  readonly cwd: string;
  /** Known port (nginx) or undefined: read it from stdout. */
  readonly port?: number;
  readonly healthPath: string;
}

/** Port from a rangeserve JSON log line ({"msg":"listening","port":n}) or a "listening <port>" line. */
function portFromLine(line: string): number | undefined {
  const t = line.trim();
  if (t.startsWith('{')) {
    try {
      const o = JSON.parse(t) as Record<string, unknown>;
      if (o['msg'] === 'listening' && typeof o['port'] === 'number' && o['port'] > 0) return o['port'];
    } catch {
      return undefined;
    }
    return undefined;
  }
  const m = /^listening\D*(\d+)/i.exec(t);
  return m && Number(m[1]) > 0 ? Number(m[1]) : undefined;
}

async function spawnServer(spec: SpawnSpec): Promise<RunningServer> {
  const child = spawn(spec.cmd, [...spec.args], {
    cwd: spec.cwd,
    env: spec.env,
    detached: true, // own process group: stop() kills workers/children too
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const pid = child.pid;
  if (pid === undefined) throw new Error(`${spec.targetId}: spawn ${spec.cmd} failed`);
  live.set(pid, child);
  let tail = '';
  const keep = (chunk: Buffer): void => {
    tail = (tail + chunk.toString('utf8')).slice(-4000);
  };
  child.stderr?.on('data', keep);

  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async (): Promise<void> => {
    if (!live.has(pid)) return;
    const tree = pidTree(pid);
    try {
      process.kill(-pid, 'SIGTERM');
    } catch {
      // already gone
    }
    const done = await Promise.race([exited.then(() => true), sleep(3000).then(() => false)]);
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // group already empty
    }
    for (const p of tree) {
      try {
        process.kill(p.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    if (!done) await Promise.race([exited, sleep(2000)]);
    live.delete(pid);
  };

  try {
    let port = spec.port;
    if (port === undefined) {
      port = await new Promise<number>((resolve, reject) => {
        let buf = '';
        const timer = setTimeout(() => reject(new Error('no "listening" line within 20 s')), 20_000);
        child.stdout?.on('data', (chunk: Buffer) => {
          buf += chunk.toString('utf8');
          let nl: number;
          while ((nl = buf.indexOf('\n')) >= 0) {
            const line = buf.slice(0, nl);
            buf = buf.slice(nl + 1);
            const p = portFromLine(line);
            if (p !== undefined) {
              clearTimeout(timer);
              resolve(p);
            }
          }
          if (buf.length > 65536) buf = buf.slice(-4096);
        });
        child.once('exit', (code, signal) => {
          clearTimeout(timer);
          reject(new Error(`exited (${code ?? signal}) before listening`));
        });
      });
    }
    // Keep draining stdout so a chatty server never blocks on a full pipe.
    child.stdout?.removeAllListeners('data');
    child.stdout?.on('data', keep);
    const base = `http://127.0.0.1:${port}`;
    await waitHealthy(base + spec.healthPath, child, 15_000);
    return { targetId: spec.targetId, pid, port, base, stop };
  } catch (err) {
    await stop();
    const why = err instanceof Error ? err.message : String(err);
    throw new Error(`${spec.targetId}: ${why}${tail ? `\n--- output tail ---\n${tail.trim()}` : ''}`);
  }
}

function baseEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env['NODE_OPTIONS'];
  delete env['UV_THREADPOOL_SIZE'];
  return env;
}

function rangeserveTarget(id: string, label: string, mode: string, clusterIo: string, extraEnv: NodeJS.ProcessEnv = {}): Target {
  const main = (ctx: StartContext): string => path.join(ctx.projectRoot, 'dist', 'app', 'main.js');
  return {
    id,
    label,
    group: 'rangeserve',
    unavailable: (ctx) => (fs.existsSync(main(ctx)) ? null : 'dist/app/main.js not built yet'),
    // A pre-chosen free port rather than PORT=0: the "listening" line is an info-level log and
    // LOG_LEVEL=warn hides it, so readiness is /healthz answering 200 on a known port.
    start: async (ctx) => {
      const port = await freePort();
      return spawnServer({
        targetId: id,
        cmd: process.execPath,
        args: [main(ctx)],
        cwd: ctx.projectRoot,
        port,
        env: {
          ...baseEnv(),
          PORT: String(port),
          HOST: '127.0.0.1',
          FILES_ROOT: ctx.fixtureDir,
          MODE: mode,
          CLUSTER_IO: clusterIo,
          WORKERS: '2',
          LOG_LEVEL: 'warn',
          NODE_ENV: 'production',
          // Peers serve the big fixture from the page cache; DONTNEED behind rangeserve's reader would
          // evict it for every target (docs/hints.md, "Benchmarks"). The other hints stay on.
          HINT_DONTNEED_THRESHOLD: process.env['HINT_DONTNEED_THRESHOLD'] ?? '1024GiB',
          ...ctx.rsEnv,
          ...extraEnv,
        },
        healthPath: '/healthz',
      });
    },
  };
}

const expressTarget: Target = {
  id: 'express',
  label: 'express.static',
  group: 'peer',
  unavailable: (ctx) =>
    fs.existsSync(path.join(ctx.projectRoot, 'dist', 'bench', 'peers', 'express-static.js'))
      ? null
      : 'dist/bench/peers/express-static.js missing',
  start: (ctx) =>
    spawnServer({
      targetId: 'express',
      cmd: process.execPath,
      args: [path.join(ctx.projectRoot, 'dist', 'bench', 'peers', 'express-static.js')],
      cwd: ctx.projectRoot,
      env: { ...baseEnv(), ROOT: ctx.fixtureDir, PORT: '0', NODE_ENV: 'production' },
      healthPath: `/files/${ctx.probeFile}`,
    }),
};

/** Prefers the team's bench/naive-server.ts (compiled) when present; otherwise bench/peers/plain-stream.ts. */
function plainServerScript(ctx: StartContext): { script: string; which: string } {
  const naive = path.join(ctx.projectRoot, 'dist', 'bench', 'naive-server.js');
  if (fs.existsSync(naive)) return { script: naive, which: 'bench/naive-server.ts' };
  return {
    script: path.join(ctx.projectRoot, 'dist', 'bench', 'peers', 'plain-stream.js'),
    which: 'bench/peers/plain-stream.ts',
  };
}

export function plainServerSource(ctx: StartContext): string {
  return plainServerScript(ctx).which;
}

const plainTarget: Target = {
  id: 'plain',
  label: 'plain createReadStream',
  group: 'peer',
  unavailable: (ctx) => (fs.existsSync(plainServerScript(ctx).script) ? null : 'no plain-stream server built'),
  start: async (ctx) => {
    const port = await freePort();
    return spawnServer({
      targetId: 'plain',
      cmd: process.execPath,
      args: [plainServerScript(ctx).script],
      cwd: ctx.projectRoot,
      env: { ...baseEnv(), ROOT: ctx.fixtureDir, PORT: String(port), HOST: '127.0.0.1', NODE_ENV: 'production' },
      healthPath: `/files/${ctx.probeFile}`,
    });
  },
};

/** bench/peers/plain-stream.ts with 1 MiB reads: Node's best plain stream (issue 7 measured it at half the 64 KiB CPU per GB). */
const plain1MiBTarget: Target = {
  id: 'plain-1m',
  label: 'plain createReadStream, 1 MiB highWaterMark',
  group: 'peer',
  unavailable: (ctx) =>
    fs.existsSync(path.join(ctx.projectRoot, 'dist', 'bench', 'peers', 'plain-stream.js')) ? null : 'dist/bench/peers/plain-stream.js missing',
  start: async (ctx) => {
    const port = await freePort();
    return spawnServer({
      targetId: 'plain-1m',
      cmd: process.execPath,
      args: [path.join(ctx.projectRoot, 'dist', 'bench', 'peers', 'plain-stream.js')],
      cwd: ctx.projectRoot,
      env: { ...baseEnv(), ROOT: ctx.fixtureDir, PORT: String(port), HOST: '127.0.0.1', NODE_ENV: 'production', HWM: String(1024 * 1024) },
      healthPath: `/files/${ctx.probeFile}`,
    });
  },
};

function nginxConfig(ctx: StartContext, port: number, dir: string): string {
  const nofile = Math.max(1024, openFilesLimit());
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  return [
    isRoot ? 'user root;' : '',
    'daemon off;',
    'master_process on;',
    'worker_processes auto;',
    `worker_rlimit_nofile ${nofile};`,
    `pid ${path.join(dir, 'nginx.pid')};`,
    `error_log ${path.join(dir, 'error.log')} warn;`,
    'events { worker_connections 4096; }',
    'http {',
    '  default_type application/octet-stream;',
    '  sendfile on;',
    '  tcp_nopush on;',
    '  access_log off;',
    '  keepalive_requests 1000000;',
    `  client_body_temp_path ${path.join(dir, 'client_body')};`,
    `  proxy_temp_path ${path.join(dir, 'proxy')};`,
    `  fastcgi_temp_path ${path.join(dir, 'fastcgi')};`,
    `  uwsgi_temp_path ${path.join(dir, 'uwsgi')};`,
    `  scgi_temp_path ${path.join(dir, 'scgi')};`,
    '  server {',
    `    listen 127.0.0.1:${port};`,
    `    location /files/ { alias ${ctx.fixtureDir.replace(/\/?$/, '/')}; }`,
    '    location = /healthz { return 200 "ok"; }',
    '  }',
    '}',
    '',
  ]
    .filter((l) => l !== '')
    .join('\n');
}

const nginxTarget: Target = {
  id: 'nginx',
  label: 'nginx sendfile',
  group: 'peer',
  unavailable: () => (findNginx() ? null : 'nginx not installed (apt-get install -y nginx)'),
  start: async (ctx) => {
    const bin = findNginx();
    if (!bin) throw new Error('nginx: not installed');
    const port = await freePort();
    const dir = fs.mkdtempSync(path.join(ctx.tmpDir, 'nginx-'));
    const conf = path.join(dir, 'nginx.conf');
    fs.writeFileSync(conf, nginxConfig(ctx, port, dir));
    return spawnServer({
      targetId: 'nginx',
      cmd: bin,
      args: ['-p', dir + '/', '-c', conf, '-e', path.join(dir, 'error.log')],
      cwd: dir,
      env: baseEnv(),
      port,
      healthPath: '/healthz',
    });
  },
};

/** All targets in the order they run within a round. */
export const TARGETS: readonly Target[] = [
  nginxTarget,
  expressTarget,
  plainTarget,
  plain1MiBTarget,
  rangeserveTarget('rs-stream', 'rangeserve stream', 'stream', 'stream'),
  rangeserveTarget('rs-worker', 'rangeserve worker', 'worker', 'stream'),
  // The same server with the zero-copy path off: the JS path's cost, measured in the same run.
  rangeserveTarget('rs-stream-js', 'rangeserve stream, ZERO_COPY=off', 'stream', 'stream', { ZERO_COPY: 'off' }),
  rangeserveTarget('rs-cluster-stream', 'rangeserve cluster+stream', 'cluster', 'stream'),
  rangeserveTarget('rs-cluster-worker', 'rangeserve cluster+worker', 'cluster', 'worker'),
];
