/** Chooses the engine once, from the configuration. */
import type { Config } from '../config';
import { chunkSizeAt } from './chunk-size';
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
 * Where the open-file cache runs (docs/performance.md): both engines (reader
 * threads start with trackUnmanagedFds off, so a descriptor a thread opened
 * outlives the thread). With page-cache hints active, a cached descriptor serves
 * only bodies whose file spans are each one read (the first chunk's size); bigger
 * ones plan per-descriptor hints and get a descriptor of their own.
 */
export function openFileCacheApplies(config: Config): boolean {
  return config.openFileCacheMax > 0;
}

export function createEngine(config: Config): Engine {
  const engine = baseEngine(config);
  if (!openFileCacheApplies(config)) return engine;
  const hinted = hintStatus(config.hints, config.engine).active;
  return withOpenFileCache(engine, {
    max: config.openFileCacheMax,
    idleMs: config.openFileCacheIdleMs,
    chunkBytes: config.readChunkBytes,
    ...(hinted ? { sharedBodyBytes: chunkSizeAt(0, config.readChunkBytes) } : {}),
  });
}
