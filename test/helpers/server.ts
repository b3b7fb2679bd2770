/**
 * Starts rangeserve as users do (`node dist/app/main.js`, settings in the
 * environment) on an ephemeral port, in the mode named by RS_TEST_MODE
 * (stream | worker | cluster-stream | cluster-worker; default stream), so
 * every HTTP suite runs unchanged against every mode.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import readline from 'node:readline';
import { raw } from './http';

export const MAIN = path.resolve(__dirname, '../../app/main.js');

export interface TestServer {
  readonly url: string;
  readonly port: number;
  readonly child: ChildProcess;
  readonly logs: string[];
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export function modeEnv(mode: string = process.env['RS_TEST_MODE'] ?? 'stream'): Record<string, string> {
  switch (mode) {
    case 'stream':
      return { MODE: 'stream' };
    case 'worker':
      return { MODE: 'worker' };
    case 'cluster-stream':
      return { MODE: 'cluster', CLUSTER_IO: 'stream', WORKERS: '2' };
    case 'cluster-worker':
      return { MODE: 'cluster', CLUSTER_IO: 'worker', WORKERS: '2' };
    default:
      throw new Error(`unknown RS_TEST_MODE ${mode}`);
  }
}

const OFF_REASON = 'disabled by ZERO_COPY=off';

/**
 * The zero-copy state /healthz must show for the server's ZERO_COPY setting.
 * A suite run with ZERO_COPY=off (npm run test:zero-copy-off) proves the JS
 * send path only if the setting reached the server: a test that started it
 * with other settings, or a harness that dropped the environment, fails here
 * instead of passing on the zero-copy path.
 */
export function checkZeroCopyState(setting: string | undefined, seen: { active?: unknown; reason?: unknown } | undefined): string | undefined {
  const want = setting ?? 'auto';
  if (seen === undefined) return 'no zeroCopy in /healthz';
  if (want === 'off') {
    return seen.active === false && seen.reason === OFF_REASON ? undefined : `ZERO_COPY=off did not reach the server: /healthz zeroCopy ${JSON.stringify(seen)}`;
  }
  // auto: active when the addon loaded; either way not switched off.
  return seen.reason !== OFF_REASON ? undefined : `ZERO_COPY=${want} but /healthz says ${JSON.stringify(seen)}`;
}

async function zeroCopyMismatch(url: string, setting: string | undefined): Promise<string | undefined> {
  const h = await raw(url, { path: '/healthz' }, 10_000);
  const body = JSON.parse(h.body.toString()) as { zeroCopy?: { active?: unknown; reason?: unknown } };
  return checkZeroCopyState(setting, body.zeroCopy);
}

/** A server that dies by itself (not through stop()) leaves its last log lines in the test output. */
const CRASH_SIGNALS = new Set(['SIGABRT', 'SIGSEGV', 'SIGBUS', 'SIGILL', 'SIGFPE']);

export function startTestServer(env: Record<string, string>, timeoutMs = 20_000): Promise<TestServer> {
  const fullEnv: Record<string, string | undefined> = { ...process.env, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info', ...modeEnv(), ...env };
  const child = spawn(process.execPath, [MAIN], {
    env: fullEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: string[] = [];
  child.stderr?.on('data', (d: Buffer) => logs.push(d.toString()));
  child.once('exit', (code, signal) => {
    if ((code !== null && code !== 0) || (signal !== null && CRASH_SIGNALS.has(signal))) {
      process.stderr.write(`# test server ${child.pid} exited (code ${code}, signal ${signal}); last log lines:\n${logs.slice(-30).join('\n')}\n`);
    }
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`server did not start: ${logs.join('')}`));
    }, timeoutMs);
    const lines = readline.createInterface({ input: child.stdout! });
    let started = false;
    lines.on('line', (line) => {
      logs.push(line);
      if (started) return;
      let msg: { msg?: unknown; port?: unknown };
      try {
        msg = JSON.parse(line) as { msg?: unknown; port?: unknown };
      } catch {
        return;
      }
      if (msg.msg === 'listening' && typeof msg.port === 'number') {
        started = true;
        clearTimeout(timer);
        const port = msg.port;
        const server: TestServer = {
          url: `http://127.0.0.1:${port}`,
          port,
          child,
          logs,
          stop: (signal: NodeJS.Signals = 'SIGTERM') =>
            new Promise((done) => {
              if (child.exitCode !== null || child.signalCode !== null) return done(child.exitCode);
              const kill = setTimeout(() => child.kill('SIGKILL'), 10_000);
              child.once('exit', (code) => {
                clearTimeout(kill);
                done(code);
              });
              child.kill(signal);
            }),
        };
        zeroCopyMismatch(server.url, fullEnv['ZERO_COPY']).then(
          (wrong) => {
            if (wrong === undefined) return resolve(server);
            child.kill('SIGKILL');
            reject(new Error(wrong));
          },
          (err: unknown) => {
            child.kill('SIGKILL');
            reject(new Error(`/healthz of the test server failed: ${String(err)}`));
          },
        );
      }
    });
    child.once('exit', (code, signal) => {
      if (!started) {
        clearTimeout(timer);
        reject(new Error(`server exited with ${code ?? signal}: ${logs.join('')}`));
      }
    });
  });
}
