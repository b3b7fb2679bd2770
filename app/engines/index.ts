/** Chooses the engine once, from the configuration. */
import type { Config } from '../config';
import { createStreamEngine } from './stream-engine';
import { createWorkerEngine } from './worker-engine';
import type { Engine } from './types';
import { hintCalls } from '../metrics';
import type { HintOutcome } from './file-hints';

const countHints = (outcome: HintOutcome, n: number): void => hintCalls.inc({ outcome }, n);

export function createEngine(config: Config): Engine {
  switch (config.engine) {
    case 'stream':
      return createStreamEngine({ chunkBytes: config.readChunkBytes, hints: config.hints, countHints });
    case 'worker':
      return createWorkerEngine({
        chunkBytes: config.readChunkBytes,
        threads: config.workerThreads,
        hints: config.hints,
        countHints,
        ...(config.ioPriority ? { ioPriority: config.ioPriority } : {}),
      });
  }
}
