/** Chooses the engine once, from the configuration. */
import type { Config } from '../config';
import { withOpenFileCache } from './open-file-cache';
import { createStreamEngine } from './stream-engine';
import { createWorkerEngine } from './worker-engine';
import type { Engine } from './types';

function baseEngine(config: Config): Engine {
  const common = { chunkBytes: config.readChunkBytes, smallBodyBytes: config.smallBodyBytes };
  switch (config.engine) {
    case 'stream':
      return createStreamEngine(common);
    case 'worker':
      return createWorkerEngine({ ...common, threads: config.workerThreads });
  }
}

export function createEngine(config: Config): Engine {
  const engine = baseEngine(config);
  if (config.openFileCacheMax === 0) return engine;
  return withOpenFileCache(engine, {
    max: config.openFileCacheMax,
    idleMs: config.openFileCacheIdleMs,
    chunkBytes: config.readChunkBytes,
  });
}
