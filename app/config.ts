/**
 * Settings come only from the environment, are validated once at start-up,
 * and are frozen. A bad value stops the server with one line naming the
 * variable (see ConfigError); every setting is listed in env.example.
 */
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { parseIoPriority, type IoPriority } from './native/addon';
import { parseByteSize, resolveHintOptions, type HintSettings } from './native/hint-policy';
import { DEFAULT_SEND_QUEUE_BYTES } from './engines/send-queue';

export type Mode = 'stream' | 'worker' | 'cluster';
export type EngineChoice = 'stream' | 'worker';
export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

export interface Config {
  readonly port: number;
  readonly host: string;
  /** Absolute path of the served folder. */
  readonly filesRoot: string;
  /** True when FILES_ROOT was not set, so a missing folder may be created with a sample file. */
  readonly filesRootIsDefault: boolean;
  readonly mode: Mode;
  /** The engine each serving process uses: MODE itself, or CLUSTER_IO in cluster mode. */
  readonly engine: EngineChoice;
  readonly workers: number;
  readonly maxRanges: number;
  readonly showDotfiles: boolean;
  /** '*' for any origin, or the exact origins allowed. Empty: CORS off. */
  readonly corsOrigins: '*' | readonly string[];
  readonly stallTimeoutMs: number;
  readonly shutdownGraceMs: number;
  readonly readChunkBytes: number;
  readonly workerThreads: number;
  readonly logLevel: LogLevel;
  /** Isolation (docs/isolation.md): a file operation slower than this fails its request. */
  readonly readTimeoutMs: number;
  readonly volumeMaxInflight: number;
  readonly volumeMaxQueue: number;
  readonly volumeErrorLimit: number;
  readonly volumeErrorWindowMs: number;
  readonly volumeProbeIntervalMs: number;
  readonly volumeMaxVolumes: number;
  readonly volumeRescanMs: number;
  /** Zero-copy sendfile for plain-TCP single-span bodies (docs/zero-copy.md); auto falls back silently. */
  readonly zeroCopy: 'auto' | 'off';
  /** Bodies shorter than this always take the JS path. */
  readonly zeroCopyMinBytes: number;
  /** TCP_NOTSENT_LOWAT of a young download's socket (app/engines/send-queue.ts): unsent bytes the kernel holds for it; 0: kernel default. */
  readonly sendQueueBytes: number;
  /** Performance (docs/performance.md): bodies up to this size are read whole and sent with one write; 0: off. */
  readonly smallBodyBytes: number;
  /** Open-file cache: descriptors kept open for hot files (0: off), and how long an unused one stays open. */
  readonly openFileCacheMax: number;
  readonly openFileCacheIdleMs: number;
  /** Downloads under /files skip Express's router (same CORS and route code, identical answers). */
  readonly fastFilesRoute: boolean;
  /** Full-size read buffers the stream engine keeps for reuse; 0: none. */
  readonly bufferPoolChunks: number;
  /** Page-cache hints (docs/hints.md): HINTS=on|off and the HINT_* policy knobs. */
  readonly hints: HintSettings;
  /** IO_PRIORITY of the worker engine's reader threads; undefined (off): threads are left alone. */
  readonly ioPriority: IoPriority | undefined;
}

export class ConfigError extends Error {
  readonly code = 'RS_ERR_CONFIG';
  constructor(readonly variable: string, readonly problem: string, readonly value: string) {
    super(`invalid setting ${variable}=${JSON.stringify(value)}: ${problem}`);
    this.name = 'ConfigError';
  }
}

type Env = Readonly<Record<string, string | undefined>>;

const integer = (min: number, max: number) =>
  z
    .string()
    .regex(/^\d+$/, `expected a whole number from ${min} to ${max}`)
    .transform(Number)
    .pipe(z.number().int().min(min, `expected at least ${min}`).max(max, `expected at most ${max}`));

const boolean = z
  .string()
  .transform((s) => s.trim().toLowerCase())
  .pipe(
    z.enum(['1', '0', 'true', 'false', 'on', 'off', 'yes', 'no'], { message: 'expected on or off' }),
  )
  .transform((s) => ['1', 'true', 'on', 'yes'].includes(s));

const origins = z.string().transform((s, ctx): '*' | string[] => {
  const trimmed = s.trim();
  if (trimmed === '*') return '*';
  if (trimmed.toLowerCase() === 'none') return [];
  const list = trimmed.split(',').map((o) => o.trim()).filter((o) => o !== '');
  for (const o of list) {
    let u: URL;
    try {
      u = new URL(o);
    } catch {
      ctx.addIssue({ code: 'custom', message: `"${o}" is not an origin like https://app.example` });
      return z.NEVER;
    }
    if (u.origin !== o) {
      ctx.addIssue({ code: 'custom', message: `"${o}" is not an origin (expected ${u.origin})` });
      return z.NEVER;
    }
  }
  return list;
});

const byteSize = (min: number) =>
  z.string().transform((s, ctx): number => {
    const n = parseByteSize(s);
    if (n === undefined) {
      ctx.addIssue({ code: 'custom', message: 'expected a byte size like 8388608 or 8MiB (k/KiB, m/MiB, g/GiB)' });
      return z.NEVER;
    }
    if (n < min) {
      ctx.addIssue({ code: 'custom', message: `expected at least ${min} bytes` });
      return z.NEVER;
    }
    return n;
  });

/**
 * The default drop-behind threshold: a quarter of the machine's memory. DONTNEED drops a
 * file's pages for every reader, so on a download server, where many clients fetch the
 * same big files, dropping a file that fits in the cache makes each of them read it from
 * disk again (and takes it off the zero-copy and open-file-cache paths); only files too
 * big to stay cached anyway are worth dropping (docs/hints.md).
 */
export const autoDontneedThreshold = (): number => Math.floor(os.totalmem() / 4);

/** A byte size, or `auto` for the value `auto()` computes. */
const byteSizeOrAuto = (min: number, auto: () => number) =>
  z.string().transform((s, ctx): number => {
    if (s.trim().toLowerCase() === 'auto') return auto();
    const r = byteSize(min).safeParse(s);
    if (r.success) return r.data;
    ctx.addIssue({ code: 'custom', message: `${r.error.issues[0]?.message ?? 'expected a byte size'}, or auto` });
    return z.NEVER;
  });

const ioPriority = z.string().transform((s, ctx): IoPriority | undefined => {
  if (s.trim().toLowerCase() === 'off') return undefined;
  const parsed = parseIoPriority(s);
  if (!parsed.ok) {
    ctx.addIssue({ code: 'custom', message: `${parsed.error.replace(/^IO_PRIORITY /, '')} (or off)` });
    return z.NEVER;
  }
  return parsed.value;
});

/** Reads one variable through its schema, or throws ConfigError naming it. */
function read<T>(env: Env, name: string, schema: z.ZodType<T, string>, fallback: string): T {
  const raw = env[name];
  const value = raw === undefined || raw === '' ? fallback : raw;
  const result = schema.safeParse(value);
  if (!result.success) {
    throw new ConfigError(name, result.error.issues[0]?.message ?? 'invalid value', value);
  }
  return result.data;
}

export function loadConfig(env: Env = process.env, cwd: string = process.cwd()): Config {
  const port = read(env, 'PORT', integer(0, 65535), '8080');
  const host = read(env, 'HOST', z.string().regex(/^[\w.:[\]-]+$/, 'expected a host name or IP address'), '127.0.0.1');
  const rootSetting = read(env, 'FILES_ROOT', z.string(), './files');
  const mode = read(env, 'MODE', z.enum(['stream', 'worker', 'cluster'], { message: 'expected stream, worker or cluster' }), 'stream');
  const clusterIo = read(env, 'CLUSTER_IO', z.enum(['stream', 'worker'], { message: 'expected stream or worker' }), 'stream');
  const workers = read(env, 'WORKERS', integer(1, 256), String(os.availableParallelism()));
  const maxRanges = read(env, 'MAX_RANGES', integer(1, 1000), '16');
  const showDotfiles = read(env, 'SHOW_DOTFILES', boolean, 'off');
  const corsOrigins = read(env, 'CORS_ORIGINS', origins, '*');
  const stallTimeoutMs = read(env, 'STALL_TIMEOUT_MS', integer(1000, 86_400_000), '60000');
  const shutdownGraceMs = read(env, 'SHUTDOWN_GRACE_MS', integer(0, 3_600_000), '30000');
  const readChunkBytes = read(env, 'READ_CHUNK_BYTES', integer(4096, 16 * 1024 * 1024), String(1024 * 1024));
  const workerThreads = read(env, 'WORKER_THREADS', integer(1, 64), '4');
  const logLevel = read(
    env,
    'LOG_LEVEL',
    z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], {
      message: 'expected one of fatal, error, warn, info, debug, trace, silent',
    }),
    'info',
  );
  const readTimeoutMs = read(env, 'READ_TIMEOUT_MS', integer(50, 3_600_000), '5000');
  const volumeMaxInflight = read(env, 'VOLUME_MAX_INFLIGHT', integer(1, 256), '4');
  const volumeMaxQueue = read(env, 'VOLUME_MAX_QUEUE', integer(0, 100_000), '4096');
  const volumeErrorLimit = read(env, 'VOLUME_ERROR_LIMIT', integer(1, 10_000), '3');
  const volumeErrorWindowMs = read(env, 'VOLUME_ERROR_WINDOW_MS', integer(100, 86_400_000), '60000');
  const volumeProbeIntervalMs = read(env, 'VOLUME_PROBE_INTERVAL_MS', integer(50, 3_600_000), '5000');
  const volumeMaxVolumes = read(env, 'VOLUME_MAX_VOLUMES', integer(1, 200), '8');
  const volumeRescanMs = read(env, 'VOLUME_RESCAN_MS', integer(0, 86_400_000), '10000');
  const smallBodyBytes = read(env, 'SMALL_BODY_BYTES', integer(0, 1024 * 1024), '65536');
  const openFileCacheMax = read(env, 'OPEN_FILE_CACHE_MAX', integer(0, 100_000), '1000');
  const openFileCacheIdleMs = read(env, 'OPEN_FILE_CACHE_IDLE_MS', integer(100, 86_400_000), '30000');
  const fastFilesRoute = read(env, 'FAST_FILES_ROUTE', boolean, 'on');
  const bufferPoolChunks = read(env, 'BUFFER_POOL_CHUNKS', integer(0, 1024), '16');
  const hints: HintSettings = Object.freeze({
    enabled: read(env, 'HINTS', boolean, 'on'),
    options: resolveHintOptions({
      prefetchBytes: read(env, 'HINT_PREFETCH_BYTES', byteSize(0), '8MiB'),
      dontneedThreshold: read(env, 'HINT_DONTNEED_THRESHOLD', byteSizeOrAuto(0, autoDontneedThreshold), 'auto'),
      smallRangeBytes: read(env, 'HINT_SMALL_RANGE_BYTES', byteSize(0), '256KiB'),
      prefetchChunkBytes: read(env, 'HINT_PREFETCH_CHUNK_BYTES', byteSize(4096), '1MiB'),
      dontneedBatchBytes: read(env, 'HINT_DONTNEED_BATCH_BYTES', byteSize(0), '8MiB'),
    }),
  });
  const ioPrio = read(env, 'IO_PRIORITY', ioPriority, 'off');
  const zeroCopy = read(env, 'ZERO_COPY', z.enum(['auto', 'off'], { message: 'expected auto or off' }), 'auto');
  const zeroCopyMinBytes = read(env, 'ZERO_COPY_MIN_BYTES', integer(1, 2 ** 40), '65536');
  const sendQueueBytes = read(env, 'SEND_QUEUE_BYTES', integer(0, 64 * 1024 * 1024), String(DEFAULT_SEND_QUEUE_BYTES));
  return Object.freeze({
    port,
    host,
    filesRoot: path.resolve(cwd, rootSetting),
    filesRootIsDefault: env['FILES_ROOT'] === undefined || env['FILES_ROOT'] === '',
    mode,
    engine: mode === 'cluster' ? clusterIo : mode,
    workers,
    maxRanges,
    showDotfiles,
    corsOrigins: Array.isArray(corsOrigins) ? Object.freeze([...corsOrigins]) : corsOrigins,
    stallTimeoutMs,
    shutdownGraceMs,
    readChunkBytes,
    workerThreads,
    logLevel,
    readTimeoutMs,
    volumeMaxInflight,
    volumeMaxQueue,
    volumeErrorLimit,
    volumeErrorWindowMs,
    volumeProbeIntervalMs,
    volumeMaxVolumes,
    volumeRescanMs,
    zeroCopy,
    zeroCopyMinBytes,
    sendQueueBytes,
    smallBodyBytes,
    openFileCacheMax,
    openFileCacheIdleMs,
    fastFilesRoute,
    bufferPoolChunks,
    hints,
    ioPriority: ioPrio,
  });
}
