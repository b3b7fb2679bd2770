/**
 * Mount points from /proc/self/mountinfo. procfs is answered from kernel
 * memory and never waits on a disk, so it is read synchronously: this is how
 * the volume of a path is known BEFORE any fs call that could hang on it.
 */
import fs from 'node:fs';
import path from 'node:path';

export interface MountPoint {
  /** Absolute path as the kernel shows it (octal escapes decoded). */
  readonly path: string;
  readonly major: number;
  readonly minor: number;
  /** st_dev as Node's fs.stat reports it (glibc makedev encoding). */
  readonly dev: number;
  readonly fstype: string;
}

function unescape(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_m, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

/** glibc's makedev(): what stat().dev holds for major:minor. */
export function makedev(major: number, minor: number): number {
  return (minor & 0xff) + (major & 0xfff) * 0x100 + (minor & ~0xff) * 0x1000 + Math.floor(major / 0x1000) * 2 ** 32 * 0x1000;
}

export function parseMountinfo(text: string): MountPoint[] {
  const out: MountPoint[] = [];
  for (const line of text.split('\n')) {
    const f = line.split(' ');
    if (f.length < 10) continue;
    const sep = f.indexOf('-', 6);
    if (sep < 0) continue;
    const [maj, min] = (f[2] ?? '').split(':');
    const major = Number(maj);
    const minor = Number(min ?? '');
    if (!Number.isInteger(major) || !Number.isInteger(minor)) continue;
    out.push({ path: unescape(f[4] ?? ''), major, minor, dev: makedev(major, minor), fstype: f[sep + 1] ?? '' });
  }
  return out;
}

export function readMountinfo(): MountPoint[] {
  try {
    return parseMountinfo(fs.readFileSync('/proc/self/mountinfo', 'utf8'));
  } catch {
    return []; // not Linux: everything is one volume
  }
}

export function isUnder(parent: string, p: string): boolean {
  return p === parent || p.startsWith(parent.endsWith(path.sep) ? parent : parent + path.sep);
}

/**
 * The mounts relevant to `rootReal`: the one the root itself lives on (the
 * visible mount with the longest prefix of the root), then every visible mount
 * strictly inside the root. A later line for the same path hides earlier ones.
 */
export function mountsForRoot(rootReal: string, all: readonly MountPoint[] = readMountinfo()): { root: MountPoint; inside: MountPoint[] } {
  const visible = new Map<string, MountPoint>();
  for (const m of all) visible.set(m.path, m);
  let root: MountPoint | undefined;
  const inside: MountPoint[] = [];
  for (const m of visible.values()) {
    if (isUnder(m.path, rootReal)) {
      if (!root || m.path.length > root.path.length) root = m;
    } else if (isUnder(rootReal, m.path)) {
      inside.push(m);
    }
  }
  root ??= { path: rootReal, major: 0, minor: 0, dev: 0, fstype: 'unknown' };
  inside.sort((a, b) => b.path.length - a.path.length);
  return { root, inside };
}
