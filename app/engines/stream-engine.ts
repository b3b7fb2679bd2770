/**
 * The async-stream engine: every file operation runs on libuv's threadpool
 * from the main thread, and bodies are sent by sendBody (send-body.ts).
 *
 * Isolation (docs/isolation.md): every operation of a request goes through the
 * gate of the volume its path lives on (app/volumes), which caps the pool
 * threads one volume can hold and puts a deadline on each operation; open
 * files are gated-file.ts's, shared with the worker engine.
 *
 * Page-cache hints (docs/hints.md) run as batches on libuv's pool through the
 * addon's fadviseAsync (WILLNEED can block on a slow disk; never on the event
 * loop), under the same gates. IO_PRIORITY does not apply: libuv gives no way
 * to choose the pool thread an operation runs on.
 */
import type { ServerResponse } from 'node:http';
import fs from 'node:fs';
import type { BodyPiece } from '../core/types';
import { closeFd, listDirectory, openRegular, readChunk, resolvePath, statPath } from './fs-ops';
import { gatesOf, openGatedFile, type GatedFile, type HintOps, type RawFileOps } from './gated-file';
import { BufferPool } from './buffer-pool';
import type { HintOutcome } from './file-hints';
import { addon } from '../native/addon';
import type { HintSettings } from '../native/hint-policy';
import { hintStatus } from '../native/hint-status';
import { sendBody } from './send-body';
import { readerOf, type DirEntry, type Engine, type OpenedFile, type OpenOptions, type OpOptions, type PathStat, type Resolved, type ResolveOptions, type SendOutcome } from './types';
import { currentVolumes, type VolumeRegistry } from '../volumes';

export interface StreamEngineOptions {
  readonly chunkBytes: number;
  /** Bodies up to this size take the lean path (small-body.ts); 0 or absent: never. */
  readonly smallBodyBytes?: number;
  /** Full-size read buffers kept for reuse (buffer-pool.ts); 0 or absent: none. */
  readonly bufferPoolChunks?: number;
  /** Per-volume gates; default: the process's registry installed by serve(), or none (ungated). */
  readonly volumes?: VolumeRegistry;
  /** Page-cache hints (HINTS, HINT_*); default off. Active only when the addon is loaded. */
  readonly hints?: HintSettings;
  /** Counts hints by outcome (metrics). */
  readonly countHints?: (outcome: HintOutcome, hints: number) => void;
}

export function createStreamEngine(options: StreamEngineOptions): Engine {
  const gates = gatesOf(() => options.volumes ?? currentVolumes());
  const { run } = gates;
  const pool = (options.bufferPoolChunks ?? 0) > 0 ? new BufferPool(options.chunkBytes, options.bufferPoolChunks ?? 0) : undefined;
  const hints = hintStatus(options.hints ?? { enabled: false }, 'stream');
  const fadviseAsync = addon?.fadviseAsync;
  const hintOps: HintOps | undefined =
    hints.active && options.hints && fadviseAsync
      ? {
          options: options.hints.options,
          advise: (fd, batch) => fadviseAsync.call(addon, fd, batch),
          ...(options.countHints ? { count: options.countHints } : {}),
        }
      : undefined;
  const ops: RawFileOps = {
    read: (fd, position, length) => readChunk(fd, position, length, pool),
    close: closeFd,
    ...(hintOps ? { hints: hintOps } : {}),
  };
  const files = new WeakMap<OpenedFile, GatedFile>();
  const send = { smallBodyBytes: options.smallBodyBytes ?? 0, ...(pool ? { pool } : {}) };

  return {
    name: 'stream',
    realpath: (p: string, o?: OpOptions) => run(p, 'realpath', () => fs.promises.realpath(p), o),
    resolve: (p: string, o?: ResolveOptions): Promise<Resolved> => run(p, 'resolve', () => resolvePath(p, o?.readAhead), o),
    stat: (p: string, o?: OpOptions): Promise<PathStat> => run(p, 'stat', () => statPath(p), o),
    async open(p: string, o?: OpenOptions): Promise<OpenedFile> {
      const file = await openGatedFile(p, gates, () => openRegular(p), ops, options.chunkBytes, o?.budget);
      files.set(file, file);
      return file;
    },
    // readdir under the folder's gate, each entry's stat under the entry's own (a mount point is another volume).
    list: (p: string, o?: OpOptions): Promise<DirEntry[]> => listDirectory(p, run, o?.budget),
    sendBody: (file: OpenedFile, body: readonly BodyPiece[], res: ServerResponse): Promise<SendOutcome> =>
      sendBody(body, readerOf(file) ?? files.get(file)?.reader ?? { read: (fd, position, length) => readChunk(fd, position, length) }, file.fd, options.chunkBytes, res, send),
    describe: () => ({ engine: 'stream', chunkBytes: options.chunkBytes, hints, ...(pool ? { bufferPool: pool.stats() } : {}) }),
    close: async () => undefined,
  };
}
