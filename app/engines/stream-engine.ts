/**
 * The async-stream engine: every file operation runs on libuv's threadpool
 * from the main thread, and bodies are sent by one BodyStream per response.
 */
import type { ServerResponse } from 'node:http';
import fs from 'node:fs';
import type { BodyPiece } from '../core/types';
import type { ChunkReader } from './body-stream';
import { closeFd, listDirectory, openRegular, readChunk, statPath } from './fs-ops';
import { sendBody } from './send-body';
import type { DirEntry, Engine, OpenedFile, PathStat, SendOutcome } from './types';

export interface StreamEngineOptions {
  readonly chunkBytes: number;
}

const reader: ChunkReader = { read: readChunk };

export function createStreamEngine(options: StreamEngineOptions): Engine {
  return {
    name: 'stream',
    realpath: (p: string) => fs.promises.realpath(p),
    stat: (p: string): Promise<PathStat> => statPath(p),
    async open(p: string): Promise<OpenedFile> {
      const raw = await openRegular(p);
      let closed: Promise<void> | undefined;
      return { ...raw, close: () => (closed ??= closeFd(raw.fd)) };
    },
    list: (p: string): Promise<DirEntry[]> => listDirectory(p),
    sendBody: (file: OpenedFile, body: readonly BodyPiece[], res: ServerResponse): Promise<SendOutcome> =>
      sendBody(body, reader, file.fd, options.chunkBytes, res),
    describe: () => ({ engine: 'stream', chunkBytes: options.chunkBytes }),
    close: async () => undefined,
  };
}
