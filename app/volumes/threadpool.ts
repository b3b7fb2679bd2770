/**
 * Sizes libuv's threadpool for the per-volume gates. Imported first by
 * app/main.ts, for its side effect: libuv reads UV_THREADPOOL_SIZE once, when
 * the pool is first used (the first async fs/dns/crypto/zlib call), so it
 * must be set before that. Sync fs calls do not use the pool.
 *
 * Each volume may hold VOLUME_MAX_INFLIGHT threads plus one probe; the pool
 * gets that for VOLUME_MAX_VOLUMES volumes (or the mounts found under
 * FILES_ROOT now, if more) plus spare threads, so one stuck volume can never
 * take a thread another volume needs. An explicit UV_THREADPOOL_SIZE wins.
 * Values are validated later by loadConfig; here a bad one just means the default.
 */
import path from 'node:path';
import { mountsForRoot } from './mounts';

export const SPARE_THREADS = 4;
/** libuv's own maximum. */
const UV_MAX = 1024;

function intEnv(name: string, fallback: number): number {
  const v = Number(process.env[name]);
  return Number.isInteger(v) && v > 0 ? v : fallback;
}

export function wantedThreadpoolSize(env: NodeJS.ProcessEnv = process.env): number {
  const perVolume = intEnv('VOLUME_MAX_INFLIGHT', 4) + 1;
  let volumes = intEnv('VOLUME_MAX_VOLUMES', 8);
  try {
    const root = path.resolve(env['FILES_ROOT'] || './files');
    volumes = Math.max(volumes, mountsForRoot(root).inside.length + 1);
  } catch {
    // no mount table: the setting alone
  }
  return Math.min(UV_MAX, volumes * perVolume + SPARE_THREADS);
}

process.env['UV_THREADPOOL_SIZE'] ??= String(wantedThreadpoolSize());
