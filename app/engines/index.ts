/** Chooses the engine once, from the configuration. */
import type { Config } from '../config';
import { createStreamEngine } from './stream-engine';
import { createWorkerEngine } from './worker-engine';
import type { Engine } from './types';

export function createEngine(config: Config): Engine {
  switch (config.engine) {
    case 'stream':
      return createStreamEngine({ chunkBytes: config.readChunkBytes });
    case 'worker':
      return createWorkerEngine({ chunkBytes: config.readChunkBytes, threads: config.workerThreads });
  }
}
