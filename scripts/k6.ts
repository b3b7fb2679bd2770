/**
 * npm run k6 -- <scenario> [--mode stream|worker|cluster] [--cluster-io stream|worker]
 *                          [--workers N] [--big-bytes N] [--keep] [-- <extra k6 run args>]
 *
 * 1. checks that `k6` is on PATH (prints how to install it otherwise, exit 1);
 * 2. writes the fixtures into a temp folder (scripts/fixtures.ts);
 * 3. starts rangeserve (node dist/app/main.js, PORT=0) on that folder and
 *    reads the port from its "listening" log line, then waits for /healthz;
 * 4. for pause-resume, rewrites changing.bin every CHANGE_EVERY_MS (3000);
 *    for slow-disk, mounts the slow volume inside the fixture root before the
 *    server starts (as root: the FUSE slow disk, or SLOW_DIR bind-mounted; see
 *    scripts/k6-slow-volume.ts) and unmounts it after the server stopped;
 * 5. runs `k6 run k6/<scenario>.ts` with BASE_URL, FIXTURES, RUN_ID… in env;
 * 6. stops the server (SIGTERM, SIGKILL after STOP_TIMEOUT_MS), prints where
 *    the summary went and exits with k6's exit code.
 *
 * Every other environment variable (VUS, DURATION, SLOW_FILE…) passes through
 * to k6 untouched. The server's log goes to k6/results/<scenario>-<run>-server.log.
 */
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, promises as fsp, readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { fixturesEnv, makeFixtures, startRewriter } from './fixtures';
import type { Rewriter } from './fixtures';
import { prepareSlowVolume, type SlowVolume } from './k6-slow-volume';

const ROOT = path.resolve(__dirname, '..', '..');
const K6_DIR = path.join(ROOT, 'k6');
const RESULTS_DIR = path.join(K6_DIR, 'results');

interface Args {
  scenario: string;
  mode: string;
  clusterIo: string;
  workers: string | undefined;
  bigBytes: number | undefined;
  keep: boolean;
  k6Args: string[];
}

const USAGE = `usage: npm run k6 -- <scenario> [--mode stream|worker|cluster] [--cluster-io stream|worker]
                     [--workers N] [--big-bytes N] [--keep] [-- <extra k6 run args>]`;

function scenarios(): string[] {
  try {
    return readdirSync(K6_DIR)
      .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))
      .map((f) => f.slice(0, -3))
      .sort();
  } catch {
    return [];
  }
}

function die(message: string): never {
  process.stderr.write(`${message}\n`);
  process.exit(2);
}

export function parseArgs(argv: string[]): Args {
  const args: Args = {
    scenario: '',
    mode: process.env['MODE'] || 'stream',
    clusterIo: process.env['CLUSTER_IO'] || 'stream',
    workers: process.env['WORKERS'] || undefined,
    bigBytes: undefined,
    keep: false,
    k6Args: [],
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) die(`${a} needs a value\n${USAGE}`);
      return v;
    };
    if (a === '--') {
      args.k6Args = argv.slice(i + 1);
      break;
    } else if (a === '--mode') args.mode = value();
    else if (a.startsWith('--mode=')) args.mode = a.slice(7);
    else if (a === '--cluster-io') args.clusterIo = value();
    else if (a.startsWith('--cluster-io=')) args.clusterIo = a.slice(13);
    else if (a === '--workers') args.workers = value();
    else if (a === '--big-bytes') args.bigBytes = Number(value());
    else if (a === '--keep') args.keep = true;
    else if (a === '-h' || a === '--help') {
      process.stdout.write(`${USAGE}\nscenarios: ${scenarios().join(', ')}\n`);
      process.exit(0);
    } else if (a.startsWith('-')) die(`unknown option ${a}\n${USAGE}`);
    else if (args.scenario === '') args.scenario = a.replace(/\.ts$/, '').replace(/^k6\//, '');
    else die(`unexpected argument ${a}\n${USAGE}`);
  }
  if (args.scenario === '') die(`${USAGE}\nscenarios: ${scenarios().join(', ')}`);
  if (!scenarios().includes(args.scenario)) die(`unknown scenario "${args.scenario}"; one of: ${scenarios().join(', ')}`);
  if (!['stream', 'worker', 'cluster'].includes(args.mode)) die(`--mode must be stream, worker or cluster`);
  if (!['stream', 'worker'].includes(args.clusterIo)) die(`--cluster-io must be stream or worker`);
  if (args.bigBytes !== undefined && (!Number.isInteger(args.bigBytes) || args.bigBytes < 0)) die('--big-bytes must be a whole number');
  return args;
}

/** k6 on PATH? Prints install instructions and returns false otherwise. */
export function checkK6(): boolean {
  const r = spawnSync('k6', ['version'], { encoding: 'utf8' });
  if (!r.error && r.status === 0) {
    process.stdout.write(`using ${String(r.stdout).trim().split('\n')[0]}\n`);
    return true;
  }
  process.stderr.write(
    [
      'k6 was not found on PATH. These scenarios need k6 1.x (it runs TypeScript natively).',
      'Install it from the k6 project (https://grafana.com/docs/k6/latest/set-up/install-k6/):',
      '  Debian/Ubuntu: the apt repository at https://dl.k6.io/deb (see the page above for the signing key), then',
      '                 sudo apt-get install k6',
      '  Fedora/RHEL:   sudo dnf install https://dl.k6.io/rpm/repo.rpm && sudo dnf install k6',
      '  macOS:         brew install k6',
      '  Windows:       winget install k6 --source winget   (or choco install k6)',
      '  Any OS:        a release binary from https://github.com/grafana/k6/releases (put it on PATH)',
      '  Docker:        docker run --rm -i --network host -v "$PWD:/work" -w /work grafana/k6 run k6/<scenario>.ts',
      '(k6 is a Go binary; it is not published on npm.)',
      '',
    ].join('\n'),
  );
  return false;
}

interface Server {
  child: ChildProcess;
  port: number;
}

/** Starts rangeserve and resolves once it logged "listening" with its port. */
function startServer(env: NodeJS.ProcessEnv, logPath: string, timeoutMs: number): Promise<Server> {
  const main = path.join(ROOT, 'dist', 'app', 'main.js');
  if (!existsSync(main)) throw new Error(`${path.relative(ROOT, main)} not found: run npm run build first`);
  const child = spawn(process.execPath, [main], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const log = createWriteStream(logPath);
  child.stderr!.pipe(log, { end: false });
  return new Promise((resolve, reject) => {
    let settled = false;
    const timer = setTimeout(() => {
      if (settled) return;
      settled = true;
      child.kill('SIGKILL');
      reject(new Error(`server did not log "listening" within ${timeoutMs} ms (see ${logPath})`));
    }, timeoutMs);
    const lines = readline.createInterface({ input: child.stdout! });
    lines.on('line', (line) => {
      log.write(line + '\n');
      if (settled) return;
      let rec: { msg?: unknown; port?: unknown };
      try {
        rec = JSON.parse(line) as { msg?: unknown; port?: unknown };
      } catch {
        return;
      }
      if (rec.msg === 'listening' && typeof rec.port === 'number' && rec.port > 0) {
        settled = true;
        clearTimeout(timer);
        resolve({ child, port: rec.port });
      }
    });
    child.once('exit', (code, signal) => {
      log.end();
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      reject(new Error(`server exited early (${signal ?? code}); see ${logPath}`));
    });
    child.once('error', (err) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      reject(err);
    });
  });
}

async function waitHealthy(baseUrl: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    try {
      const res = await fetch(`${baseUrl}/healthz`, { signal: AbortSignal.timeout(2000) });
      await res.arrayBuffer();
      if (res.status === 200) return;
      last = `status ${res.status}`;
    } catch (err) {
      last = String(err);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`/healthz did not answer 200 within ${timeoutMs} ms (${last})`);
}

/** SIGTERM, then SIGKILL after timeoutMs; resolves when the process is gone. */
function stopServer(child: ChildProcess, timeoutMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const killer = setTimeout(() => {
      process.stderr.write(`server did not stop within ${timeoutMs} ms after SIGTERM; sending SIGKILL\n`);
      child.kill('SIGKILL');
    }, timeoutMs);
    child.once('exit', () => {
      clearTimeout(killer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

function runK6(script: string, extra: string[], env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn('k6', ['run', ...extra, script], { cwd: ROOT, env, stdio: 'inherit' });
    child.once('error', (err) => {
      process.stderr.write(`could not start k6: ${String(err)}\n`);
      resolve(127);
    });
    child.once('exit', (code, signal) => resolve(code ?? (signal ? 128 + (os.constants.signals[signal] ?? 0) : 1)));
  });
}

export async function main(argv: string[]): Promise<number> {
  const args = parseArgs(argv);
  if (!checkK6()) return 1;

  mkdirSync(RESULTS_DIR, { recursive: true });
  const runId = `${args.mode}${args.mode === 'cluster' ? '-' + args.clusterIo : ''}-${new Date()
    .toISOString()
    .replace(/\.\d+Z$/, 'Z')
    .replace(/:/g, '-')}`;
  const fixtureDir = await fsp.mkdtemp(path.join(os.tmpdir(), 'rangeserve-k6-'));
  const serverLog = path.join(RESULTS_DIR, `${args.scenario}-${runId}-server.log`);

  let server: Server | undefined;
  let rewriter: Rewriter | undefined;
  let slow: SlowVolume | undefined;
  let code = 1;
  // Ctrl-C reaches k6 directly (same terminal); we only clean up afterwards.
  const onSigint = (): void => undefined;
  process.on('SIGINT', onSigint);
  try {
    const bigBytes = args.bigBytes ?? (process.env['BIG_BYTES'] ? Number(process.env['BIG_BYTES']) : undefined);
    process.stdout.write(`fixtures in ${fixtureDir}…\n`);
    const fx = await makeFixtures(fixtureDir, {
      ...(bigBytes !== undefined ? { bigBytes } : {}),
      ...(process.env['BIG_CONTENT'] === 'zero' ? { bigContent: 'zero' as const } : {}),
    });
    for (const f of fx.files) process.stdout.write(`  ${f.name.padEnd(12)} ${String(f.size).padStart(11)} B  ${f.sha256.slice(0, 16)}…\n`);

    const k6Env: NodeJS.ProcessEnv = { ...process.env };
    if (args.scenario === 'slow-disk') {
      // Mounted before the server starts, so it is a volume from the first request (scripts/k6-slow-volume.ts).
      slow = await prepareSlowVolume(fx, k6Env);
      k6Env['SLOW_FILE'] = slow.file;
      process.stdout.write(`${slow.describe}\n`);
    }

    const serverEnv: NodeJS.ProcessEnv = {
      ...process.env,
      PORT: '0',
      HOST: '127.0.0.1',
      FILES_ROOT: fixtureDir,
      MODE: args.mode,
      CLUSTER_IO: args.clusterIo,
    };
    if (args.workers !== undefined) serverEnv['WORKERS'] = args.workers;
    server = await startServer(serverEnv, serverLog, Number(process.env['START_TIMEOUT_MS'] || 30000));
    const baseUrl = `http://127.0.0.1:${server.port}`;
    await waitHealthy(baseUrl, 30000);
    process.stdout.write(`rangeserve (${args.mode}${args.mode === 'cluster' ? '/' + args.clusterIo : ''}) at ${baseUrl}, log ${path.relative(ROOT, serverLog)}\n`);

    Object.assign(k6Env, {
      BASE_URL: baseUrl,
      FIXTURES: fixturesEnv(fx),
      RUN_ID: runId,
      RESULTS_DIR: path.relative(ROOT, RESULTS_DIR) || '.',
      SERVER_MODE: args.mode,
      SERVER_CLUSTER_IO: args.mode === 'cluster' ? args.clusterIo : '',
    });
    if (args.scenario === 'pause-resume' && fx.changing !== null) {
      k6Env['CHANGING_SHA256S'] = fx.changing.versionSha256.join(',');
      if (!process.env['VARIANT']) k6Env['VARIANT'] = 'both';
      if (!process.env['EXPECT_RESTARTS']) k6Env['EXPECT_RESTARTS'] = '1';
      rewriter = startRewriter(fx, Number(process.env['CHANGE_EVERY_MS'] || 3000));
    }

    code = await runK6(path.join('k6', `${args.scenario}.ts`), args.k6Args, k6Env);
    if (rewriter) process.stdout.write(`changing.bin was rewritten ${rewriter.count()} times\n`);
  } catch (err) {
    process.stderr.write(`k6 runner: ${err instanceof Error ? err.message : String(err)}\n`);
    code = code === 0 ? 1 : code;
  } finally {
    if (rewriter) await rewriter.stop();
    await slow?.calm().catch(() => undefined);
    if (server) await stopServer(server.child, Number(process.env['STOP_TIMEOUT_MS'] || 15000));
    await slow?.release().catch((err: unknown) => process.stderr.write(`slow volume not released: ${String(err)}\n`));
    process.off('SIGINT', onSigint);
    if (args.keep) process.stdout.write(`fixtures kept in ${fixtureDir}\n`);
    else await fsp.rm(fixtureDir, { recursive: true, force: true });
  }

  const base = path.join(RESULTS_DIR, `${args.scenario}-${runId}`);
  for (const p of [`${base}.json`, `${base}-summary.txt`]) {
    if (existsSync(p)) process.stdout.write(`summary: ${path.relative(ROOT, p)}\n`);
  }
  process.stdout.write(`k6 exit code ${code}\n`);
  return code;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`${String(err)}\n`);
      process.exit(1);
    },
  );
}
