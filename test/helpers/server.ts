/**
 * Starts rangeserve as users do (`node dist/app/main.js`, settings in the
 * environment) on an ephemeral port, in the mode named by RS_TEST_MODE
 * (stream | worker | cluster-stream | cluster-worker; default stream), so
 * every HTTP suite runs unchanged against every mode.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import readline from 'node:readline';

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

export function startTestServer(env: Record<string, string>, timeoutMs = 20_000): Promise<TestServer> {
  const child = spawn(process.execPath, [MAIN], {
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info', ...modeEnv(), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: string[] = [];
  child.stderr?.on('data', (d: Buffer) => logs.push(d.toString()));
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
        resolve({
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
        });
      }
    });
    child.once('exit', (code) => {
      if (!started) {
        clearTimeout(timer);
        reject(new Error(`server exited with ${code}: ${logs.join('')}`));
      }
    });
  });
}
