/**
 * Runs one serving process: engine, app, HTTP server, and signal handling.
 * Used directly in stream and worker modes, and by every cluster worker.
 */
import fs from 'node:fs';
import type { Logger } from 'pino';
import type { Config } from './config';
import { createEngine } from './engines';
import { createRequestListener } from './http/app';
import { hintStatus } from './native/hint-status';
import type { ObservabilitySource } from './http/health-routes';
import { setVolumeSource, volumeMetrics } from './metrics';
import { startServer, type RunningServer } from './server';
import { installVolumes, VolumeRegistry } from './volumes';
import { VERSION } from './version';
import { configureZeroCopy } from './zero-copy';
import { configureSendQueue } from './engines/send-queue';

export interface ServeOptions {
  readonly health?: () => Record<string, unknown>;
  /** Called once the server listens (cluster workers tell the primary). */
  readonly onListening?: (server: RunningServer) => void;
  /** The msg of the ready log line: 'listening' (what the test helper waits for) unless a cluster worker. */
  readonly listeningMessage?: string;
  /** /readyz and /metrics source (cluster workers: merged across the cluster). */
  readonly observability?: ObservabilitySource;
}

export async function serve(config: Config, log: Logger, options: ServeOptions = {}): Promise<RunningServer> {
  const rootReal = await fs.promises.realpath(config.filesRoot);
  // Per-volume gates (docs/isolation.md), installed before the engine exists so engines find them.
  const volumes = new VolumeRegistry(rootReal, volumeSettings(config), log, volumeMetrics).start();
  installVolumes(volumes);
  setVolumeSource(() => volumes.volumes());
  log.info({ volumes: volumes.describe().map((v) => v['mount']), uvThreadpoolSize: process.env['UV_THREADPOOL_SIZE'] }, 'volumes');
  const engine = createEngine(config);
  configureZeroCopy(config);
  configureSendQueue(config.sendQueueBytes);
  const app = createRequestListener({ config, engine, rootReal, log, version: VERSION, volumes, ...(options.health ? { health: options.health } : {}), ...(options.observability ? { observability: options.observability } : {}) });
  const hints = hintStatus(config.hints, engine.name);
  log.info({ hints, ioPriority: config.ioPriority ?? 'off' }, hints.active ? 'hints active' : 'hints off');
  let started: RunningServer;
  try {
    started = await startServer(app, { host: config.host, port: config.port, stallTimeoutMs: config.stallTimeoutMs });
  } catch (err) {
    await engine.close();
    throw err;
  }
  // Stopping the server also releases the engine (reader threads) once the last response ended.
  const running: RunningServer = {
    ...started,
    stop: async (graceMs: number): Promise<number> => {
      const cut = await started.stop(graceMs);
      await engine.close().catch(() => undefined);
      installVolumes(undefined);
      return cut;
    },
  };
  log.info(
    { port: running.port, host: config.host, mode: config.mode, engine: engine.name, root: config.filesRoot },
    options.listeningMessage ?? 'listening',
  );
  options.onListening?.(running);
  return running;
}

function volumeSettings(config: Config) {
  return {
    maxInflight: config.volumeMaxInflight,
    maxQueue: config.volumeMaxQueue,
    timeoutMs: config.readTimeoutMs,
    errorLimit: config.volumeErrorLimit,
    errorWindowMs: config.volumeErrorWindowMs,
    probeIntervalMs: config.volumeProbeIntervalMs,
    rescanMs: config.volumeRescanMs,
    maxVolumes: config.volumeMaxVolumes,
  };
}
