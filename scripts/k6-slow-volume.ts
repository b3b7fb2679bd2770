/**
 * Where the k6 slow-disk scenario's slow file comes from (scripts/k6.ts).
 *
 * The file must sit on its own volume INSIDE the served root: rangeserve finds
 * volumes by the mount points under FILES_ROOT and refuses symlinks that lead
 * out of the root (404), so linking an outside folder in does not work.
 * In order of precedence:
 *  1. SLOW_FILE set: the caller's own file (used as is).
 *  2. SLOW_DIR set (a slow mount: NFS, sshfs, dm-delay...): bind-mounted at
 *     <root>/slow (needs root; a bind mount keeps the device, so the server
 *     sees a separate volume). slow.bin is written there if missing.
 *  3. Root with FUSE: the test slow disk (test/support/slowfs) mounted at
 *     <root>/slow, every read sleeping SLOW_DELAY_MS (2000), or failing with
 *     EIO when SLOW_EIO=1.
 *  4. Otherwise: big.bin (or medium.bin) as a heavy neighbour, with a line
 *     saying why there is no slow volume.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, promises as fsp } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { mountSlowFs, slowFsAvailable, type SlowFs } from '../test/support/slowfs';
import { MiB, writeFixture, type Fixtures } from './fixtures';

const run = promisify(execFile);

export const SLOW_FILE_BYTES = 16 * MiB;

export type SlowVolumePlan =
  | { readonly kind: 'file'; readonly file: string }
  | { readonly kind: 'bind'; readonly dir: string }
  | { readonly kind: 'slowfs'; readonly delayMs: number; readonly eio: boolean }
  | { readonly kind: 'heavy'; readonly why: string }
  | { readonly kind: 'error'; readonly message: string };

export interface Host {
  readonly isRoot: boolean;
  /** slowFsAvailable(): can this machine mount the FUSE slow disk? */
  readonly fuse: { readonly ok: boolean; readonly reason: string };
}

/** Pure: which slow volume to use, from the environment and what the host can do. */
export function planSlowVolume(env: NodeJS.ProcessEnv, host: Host): SlowVolumePlan {
  if (env['SLOW_FILE']) return { kind: 'file', file: env['SLOW_FILE'] };
  const delay = env['SLOW_DELAY_MS'] === undefined || env['SLOW_DELAY_MS'] === '' ? 2000 : Number(env['SLOW_DELAY_MS']);
  if (!Number.isInteger(delay) || delay < 0) return { kind: 'error', message: `invalid setting SLOW_DELAY_MS=${JSON.stringify(env['SLOW_DELAY_MS'])}: a whole number of ms` };
  if (env['SLOW_DIR']) {
    if (!host.isRoot) {
      return {
        kind: 'error',
        message:
          'SLOW_DIR needs root: the runner bind-mounts it inside the served root (rangeserve sees volumes by their mount ' +
          'points under FILES_ROOT and does not follow symlinks out of it). Run as root, or start rangeserve yourself with ' +
          'the slow mount under FILES_ROOT and run k6 with SLOW_FILE (see k6/README.md).',
      };
    }
    return { kind: 'bind', dir: path.resolve(env['SLOW_DIR']) };
  }
  if (!host.isRoot) return { kind: 'heavy', why: 'not root, so no FUSE slow disk can be mounted' };
  if (!host.fuse.ok) return { kind: 'heavy', why: `no FUSE slow disk: ${host.fuse.reason}` };
  return { kind: 'slowfs', delayMs: delay, eio: env['SLOW_EIO'] === '1' };
}

export interface SlowVolume {
  /** SLOW_FILE for k6, relative to the root. */
  readonly file: string;
  /** One line for the console. */
  readonly describe: string;
  /** Lets reads in the kernel return quickly (call before the server stops). */
  calm(): Promise<void>;
  /** Unmounts what was mounted (call after the server stopped). */
  release(): Promise<void>;
}

const nothing = (): Promise<void> => Promise.resolve();

/** Carries out planSlowVolume() for the fixture root `fx.dir`; throws on 'error'. */
export async function prepareSlowVolume(fx: Fixtures, env: NodeJS.ProcessEnv): Promise<SlowVolume> {
  const plan = planSlowVolume(env, { isRoot: process.getuid?.() === 0, fuse: slowFsAvailable() });
  const mountpoint = path.join(fx.dir, 'slow');
  switch (plan.kind) {
    case 'error':
      throw new Error(plan.message);
    case 'file':
      return { file: plan.file, describe: `slow file: ${plan.file} (SLOW_FILE, as given)`, calm: nothing, release: nothing };
    case 'heavy': {
      const heavy = fx.byName['big.bin'] ? 'big.bin' : 'medium.bin';
      return {
        file: heavy,
        describe: `${plan.why}: the "slow" scenario downloads ${heavy} as a heavy neighbour instead of a slow volume`,
        calm: nothing,
        release: nothing,
      };
    }
    case 'bind': {
      if (!existsSync(path.join(plan.dir, 'slow.bin'))) {
        await writeFixture(plan.dir, { name: 'slow.bin', size: SLOW_FILE_BYTES, content: 'pattern' });
      }
      mkdirSync(mountpoint);
      await run('mount', ['--bind', plan.dir, mountpoint]);
      return {
        file: 'slow/slow.bin',
        describe: `slow volume: ${plan.dir} bind-mounted at slow/`,
        calm: nothing,
        release: async () => {
          await run('umount', [mountpoint]).catch(() => run('umount', ['-l', mountpoint]));
        },
      };
    }
    case 'slowfs': {
      const backing = path.join(path.dirname(fx.dir), `${path.basename(fx.dir)}-slow-backing`);
      mkdirSync(backing);
      await writeFixture(backing, { name: 'slow.bin', size: SLOW_FILE_BYTES, content: 'pattern' });
      mkdirSync(mountpoint);
      let slow: SlowFs;
      try {
        slow = await mountSlowFs({ backing, mountpoint, delayMs: plan.delayMs, eio: plan.eio });
      } catch (err) {
        await fsp.rm(backing, { recursive: true, force: true });
        throw err;
      }
      return {
        file: 'slow/slow.bin',
        describe: `slow volume: FUSE slow disk at slow/ (every read ${plan.eio ? 'fails with EIO' : `sleeps ${plan.delayMs} ms`})`,
        calm: async () => {
          await slow.setDelay(0);
          await slow.setEio(false);
        },
        release: async () => {
          await slow.unmount();
          await fsp.rm(backing, { recursive: true, force: true });
        },
      };
    }
  }
}
