/**
 * Runs one serving process: engine, app, HTTP server, and signal handling.
 * Used directly in stream and worker modes, and by every cluster worker.
 */
import fs from 'node:fs';
import type { Logger } from 'pino';
import type { Config } from './config';
import { createEngine } from './engines';
import { createApp } from './http/app';
import { startServer, type RunningServer } from './server';
import { VERSION } from './version';

export interface ServeOptions {
  readonly health?: () => Record<string, unknown>;
  /** Called once the server listens (cluster workers tell the primary). */
  readonly onListening?: (server: RunningServer) => void;
}

export async function serve(config: Config, log: Logger, options: ServeOptions = {}): Promise<RunningServer> {
  const engine = createEngine(config);
  const rootReal = await fs.promises.realpath(config.filesRoot);
  const app = createApp({ config, engine, rootReal, log, version: VERSION, ...(options.health ? { health: options.health } : {}) });
  const running = await startServer(app, { host: config.host, port: config.port, stallTimeoutMs: config.stallTimeoutMs });
  log.info({ port: running.port, host: config.host, mode: config.mode, engine: engine.name, root: config.filesRoot }, 'listening');
  options.onListening?.(running);
  return running;
}
