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
      return createStreamEngine({ ...common, bufferPoolChunks: config.bufferPoolChunks });
    case 'worker':
      return createWorkerEngine({ ...common, threads: config.workerThreads });
  }
}

export function createEngine(config: Config): Engine {
  const engine = baseEngine(config);
  // Stream engine only: Node closes every descriptor a worker thread opened when
  // that thread exits (measured: fstat gives EBADF after the exit), so a cached fd
  // from a reader thread that died would fail — or, once the number is reused,
  // read another file. docs/performance.md.
  if (config.openFileCacheMax === 0 || config.engine !== 'stream') return engine;
  return withOpenFileCache(engine, {
    max: config.openFileCacheMax,
    idleMs: config.openFileCacheIdleMs,
    chunkBytes: config.readChunkBytes,
  });
}
