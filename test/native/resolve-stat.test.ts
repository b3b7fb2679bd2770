/**
 * Engine.resolve's building blocks: the addon's resolveStat (realpath + stat in
 * one libuv task) and its pure-Node twins must agree on every kind of path, and
 * fail the same way, with `syscall` naming the step (the route maps a path that
 * cannot be resolved to 404/403, and a stat failure of a resolved one by its code).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { addon } from '../../app/native/addon';
import { openRegular, resolvePath, resolvePathSync } from '../../app/engines/fs-ops';
import type { Resolved } from '../../app/engines/types';

let dir = '';
before(() => {
  dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'rangeserve-resolve-')));
  fs.writeFileSync(path.join(dir, 'f.bin'), Buffer.alloc(12345, 7));
  fs.mkdirSync(path.join(dir, 'sub'));
  fs.symlinkSync(path.join(dir, 'f.bin'), path.join(dir, 'link'));
  fs.symlinkSync('sub', path.join(dir, 'dirlink'));
  fs.symlinkSync('loop-b', path.join(dir, 'loop-a'));
  fs.symlinkSync('loop-a', path.join(dir, 'loop-b'));
  fs.symlinkSync('missing', path.join(dir, 'dangling'));
  execFileSync('mkfifo', [path.join(dir, 'fifo')]);
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

type Want = { real: string; kind: 'file' | 'directory' | 'other' } | { code: string; syscall: 'realpath' };
const rows: { name: string; path: () => string; want: () => Want }[] = [
  { name: 'a regular file', path: () => path.join(dir, 'f.bin'), want: () => ({ real: path.join(dir, 'f.bin'), kind: 'file' }) },
  { name: 'a symlink to a file: the target', path: () => path.join(dir, 'link'), want: () => ({ real: path.join(dir, 'f.bin'), kind: 'file' }) },
  { name: 'a path through a symlinked folder', path: () => path.join(dir, 'dirlink'), want: () => ({ real: path.join(dir, 'sub'), kind: 'directory' }) },
  { name: 'dot segments', path: () => path.join(dir, 'sub') + '/../f.bin', want: () => ({ real: path.join(dir, 'f.bin'), kind: 'file' }) },
  { name: 'a FIFO is "other" (stat never opens it)', path: () => path.join(dir, 'fifo'), want: () => ({ real: path.join(dir, 'fifo'), kind: 'other' }) },
  { name: 'a missing file', path: () => path.join(dir, 'nope'), want: () => ({ code: 'ENOENT', syscall: 'realpath' }) },
  { name: 'a dangling symlink', path: () => path.join(dir, 'dangling'), want: () => ({ code: 'ENOENT', syscall: 'realpath' }) },
  { name: 'a file used as a folder', path: () => path.join(dir, 'f.bin', 'x'), want: () => ({ code: 'ENOTDIR', syscall: 'realpath' }) },
  { name: 'a symlink loop', path: () => path.join(dir, 'loop-a'), want: () => ({ code: 'ELOOP', syscall: 'realpath' }) },
  { name: 'a name too long', path: () => path.join(dir, 'x'.repeat(300)), want: () => ({ code: 'ENAMETOOLONG', syscall: 'realpath' }) },
];

const implementations: [string, ((p: string) => Promise<Resolved>) | undefined][] = [
  [
    'addon resolveStat',
    addon?.resolveStat
      ? async (p) => {
          const r = await addon!.resolveStat!.call(addon, p);
          return { real: r.real, stat: { kind: r.kind, size: r.size, mtimeNs: r.mtimeNs, dev: r.dev, ino: r.ino } };
        }
      : undefined,
  ],
  ['resolvePath (what the stream engine runs)', resolvePath],
  ['resolvePathSync (what a reader thread runs)', async (p) => resolvePathSync(p)],
];

for (const [name, impl] of implementations) {
  describe(name, { skip: impl ? false : 'the addon is not loaded' }, () => {
    for (const row of rows) {
      test(row.name, async () => {
        const want = row.want();
        if ('code' in want) {
          await assert.rejects(impl!(row.path()), (e: unknown) => {
            const err = e as { code?: unknown; syscall?: unknown };
            assert.equal(err.code, want.code);
            assert.equal(err.syscall, want.syscall);
            return true;
          });
          return;
        }
        const got = await impl!(row.path());
        const st = fs.statSync(want.real, { bigint: true });
        assert.deepEqual(got, {
          real: want.real,
          stat: { kind: want.kind, size: Number(st.size), mtimeNs: st.mtimeNs, dev: Number(st.dev), ino: st.ino },
        });
      });
    }
  });
}

describe('addon resolveStat arguments', { skip: addon?.resolveStat ? false : 'the addon is not loaded' }, () => {
  test('a path that is not a string, or holds a NUL byte, throws TypeError before anything is queued', () => {
    const call = (p: unknown) => (addon!.resolveStat as unknown as (p: unknown) => Promise<Resolved>).call(addon, p);
    assert.throws(() => call(42), TypeError);
    assert.throws(() => call(undefined), TypeError);
    assert.throws(() => call('a\0b'), TypeError);
  });
});

describe('openRegular (the addon openStat: open + fstat in one task; two without the addon)', () => {
  const openFds = (): number => fs.readdirSync('/proc/self/fd').length;
  const rows: { name: string; path: () => string; code?: string }[] = [
    { name: 'a regular file opens, with the fstat of its descriptor', path: () => path.join(dir, 'f.bin') },
    { name: 'a symlink is refused (O_NOFOLLOW): ELOOP', path: () => path.join(dir, 'link'), code: 'ELOOP' },
    { name: 'a folder is not a regular file: ENOTREG, its descriptor closed', path: () => path.join(dir, 'sub'), code: 'ENOTREG' },
    { name: 'a FIFO opens without blocking (O_NONBLOCK) and is refused: ENOTREG', path: () => path.join(dir, 'fifo'), code: 'ENOTREG' },
    { name: 'a missing file: ENOENT', path: () => path.join(dir, 'nope'), code: 'ENOENT' },
  ];
  for (const row of rows) {
    test(row.name, async () => {
      const before = openFds();
      if (row.code !== undefined) {
        await assert.rejects(openRegular(row.path()), (e: unknown) => (e as { code?: unknown }).code === row.code);
        assert.equal(openFds(), before, 'no descriptor left open');
        return;
      }
      const r = await openRegular(row.path());
      try {
        const st = fs.fstatSync(r.fd, { bigint: true });
        assert.deepEqual(r, { fd: r.fd, meta: { size: Number(st.size), mtimeNs: st.mtimeNs }, dev: Number(st.dev), ino: st.ino });
        assert.equal(fs.readFileSync(row.path()).length, 12345);
        // O_CLOEXEC (as Node's own fs.open): a child process never inherits a download's file.
        const flags = /flags:\s+([0-7]+)/.exec(fs.readFileSync(`/proc/self/fdinfo/${r.fd}`, 'utf8'))?.[1] ?? '0';
        assert.ok((parseInt(flags, 8) & 0o2000000) !== 0, `fd flags ${flags} include O_CLOEXEC`);
      } finally {
        fs.closeSync(r.fd);
      }
      assert.equal(openFds(), before);
    });
  }
});
