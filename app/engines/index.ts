/** Chooses the engine once, from the configuration. */
import type { Config } from '../config';
import { withOpenFileCache } from './open-file-cache';
import { createStreamEngine } from './stream-engine';
import { createWorkerEngine } from './worker-engine';
import type { Engine } from './types';
import { hintCalls } from '../metrics';
import { hintStatus } from '../native/hint-status';
import type { HintOutcome } from './file-hints';

const countHints = (outcome: HintOutcome, n: number): void => hintCalls.inc({ outcome }, n);

function baseEngine(config: Config): Engine {
  const common = { chunkBytes: config.readChunkBytes, smallBodyBytes: config.smallBodyBytes };
  switch (config.engine) {
    case 'stream':
      return createStreamEngine({ ...common, bufferPoolChunks: config.bufferPoolChunks, hints: config.hints, countHints });
    case 'worker':
      return createWorkerEngine({
        ...common,
        threads: config.workerThreads,
        hints: config.hints,
        countHints,
        ...(config.ioPriority ? { ioPriority: config.ioPriority } : {}),
      });
  }
}

/**
 * Where the open-file cache may run (docs/performance.md):
 * - stream engine only: Node closes every descriptor a worker thread opened when
 *   that thread exits (measured: fstat gives EBADF after the exit), so a cached fd
 *   from a reader thread that died would fail — or, once the number is reused,
 *   read another file;
 * - not with page-cache hints active: hints are planned per download and
 *   posix_fadvise RANDOM/SEQUENTIAL is per descriptor, so downloads sharing a
 *   cached fd would steer each other's readahead.
 */
export function openFileCacheApplies(config: Config): boolean {
  return config.openFileCacheMax > 0 && config.engine === 'stream' && !hintStatus(config.hints, config.engine).active;
}

export function createEngine(config: Config): Engine {
  const engine = baseEngine(config);
  if (!openFileCacheApplies(config)) return engine;
  return withOpenFileCache(engine, {
    max: config.openFileCacheMax,
    idleMs: config.openFileCacheIdleMs,
    chunkBytes: config.readChunkBytes,
  });
}
