/**
 * How the k6 runner finds the slow-disk scenario's slow volume
 * (scripts/k6-slow-volume.ts planSlowVolume): the slow file must be on its own
 * mount inside the served root, so SLOW_DIR needs root (bind mount), root with
 * FUSE gets the test slow disk, and anything else falls back to a heavy
 * neighbour with the reason said.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { planSlowVolume, type Host, type SlowVolumePlan } from '../scripts/k6-slow-volume';

const root: Host = { isRoot: true, fuse: { ok: true, reason: '' } };
const rootNoFuse: Host = { isRoot: true, fuse: { ok: false, reason: '/dev/fuse missing' } };
const user: Host = { isRoot: false, fuse: { ok: false, reason: 'needs root' } };

const table: { name: string; env: Record<string, string>; host: Host; want: SlowVolumePlan | { kind: 'error' } }[] = [
  { name: 'SLOW_FILE wins over everything', env: { SLOW_FILE: 'x/y.bin', SLOW_DIR: '/mnt/slow' }, host: user, want: { kind: 'file', file: 'x/y.bin' } },
  { name: 'SLOW_DIR as root: bind mount', env: { SLOW_DIR: '/mnt/slow/' }, host: root, want: { kind: 'bind', dir: '/mnt/slow' } },
  { name: 'SLOW_DIR without root: a clear error, not a symlink the server refuses', env: { SLOW_DIR: '/mnt/slow' }, host: user, want: { kind: 'error' } },
  { name: 'root with FUSE: the slow disk, 2 s reads', env: {}, host: root, want: { kind: 'slowfs', delayMs: 2000, eio: false } },
  { name: 'root with FUSE, SLOW_DELAY_MS and SLOW_EIO', env: { SLOW_DELAY_MS: '500', SLOW_EIO: '1' }, host: root, want: { kind: 'slowfs', delayMs: 500, eio: true } },
  { name: 'bad SLOW_DELAY_MS', env: { SLOW_DELAY_MS: 'soon' }, host: root, want: { kind: 'error' } },
  { name: 'root without FUSE: heavy neighbour, says why', env: {}, host: rootNoFuse, want: { kind: 'heavy', why: 'no FUSE slow disk: /dev/fuse missing' } },
  { name: 'not root: heavy neighbour, says why', env: {}, host: user, want: { kind: 'heavy', why: 'not root, so no FUSE slow disk can be mounted' } },
];

for (const row of table) {
  test(`k6 slow volume: ${row.name}`, () => {
    const got = planSlowVolume(row.env, row.host);
    if (row.want.kind === 'error') {
      assert.equal(got.kind, 'error');
      if (got.kind === 'error') assert.ok(got.message.length > 20);
    } else assert.deepEqual(got, row.want);
  });
}
