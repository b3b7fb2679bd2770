/** Chooses the engine once, from the configuration. */
import type { Config } from '../config';
import { createStreamEngine } from './stream-engine';
import type { Engine } from './types';

export function createEngine(config: Config): Engine {
  switch (config.engine) {
    case 'stream':
      return createStreamEngine({ chunkBytes: config.readChunkBytes });
    case 'worker':
      throw new Error('the worker engine is not built yet');
  }
}
