/**
 * A real slow disk for tests: mounts test/support/slowfs/slowfs.py (a FUSE
 * passthrough of a backing directory) and steers it at run time.
 *
 * Every read(2) on the mount becomes one or more FUSE read requests (direct_io:
 * the page cache never answers), and each request sleeps `delay_ms` inside the
 * daemon, so the caller's libuv pool thread really blocks, like on a slow disk.
 *
 * Needs root, /dev/fuse and Debian's `fuse3` + `python3-fusepy` (module
 * `fusepy`, run with /usr/bin/python3). Use slowFsAvailable() to skip when
 * the machine genuinely cannot mount FUSE.
 */
import { ChildProcess, execFile, spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

export const PYTHON = '/usr/bin/python3';
/** slowfs.py lives in the source tree; from dist/test/support we go back to test/support. */
const SCRIPT_CANDIDATES = [
  path.join(__dirname, 'slowfs', 'slowfs.py'),
  path.resolve(__dirname, '..', '..', '..', 'test', 'support', 'slowfs', 'slowfs.py'),
];
const FUSECTL_DIR = '/sys/fs/fuse/connections';
const MOUNT_TIMEOUT_MS = 10_000;

export interface SlowFsOptions {
  /** Directory whose files appear (read-only) at the mountpoint. */
  backing: string;
  /** An existing empty directory; use one under fs.mkdtemp(os.tmpdir()/...). */
  mountpoint: string;
  /** Initial settings (default: no delay, no errors). */
  delayMs?: number;
  eio?: boolean;
  serialize?: boolean;
  trace?: boolean;
}

/** One FUSE read request as the daemon saw it (only recorded with trace on). */
export interface SlowFsRead {
  offset: number;
  size: number;
  elapsedMs: number;
  ok: boolean;
}

export interface SlowFs {
  readonly backing: string;
  /** Real path of the mountpoint. */
  readonly mountpoint: string;
  /** stat(mountpoint).dev: differs from the parent directory's (a separate volume). */
  readonly dev: number;
  /** FUSE connection id (the anonymous device's minor), the name under /sys/fs/fuse/connections. */
  readonly connection: number;
  /** pid of the FUSE daemon. */
  readonly pid: number;
  /** ms from spawn until the mount appeared in /proc/self/mountinfo. */
  readonly mountMs: number;
  /** Path of the control file (outside the mount). */
  readonly controlFile: string;
  /**
   * True when a file was opened and closed at mount time, so the kernel no
   * longer sends FLUSH on close(2): closing descriptors or spawning processes
   * never waits for a hung daemon. False only if the backing directory had no
   * readable file; then the first close on the mount primes it.
   */
  readonly flushPrimed: boolean;
  /** Sleep this long inside every FUSE read request (0 = full speed). */
  setDelay(ms: number): Promise<void>;
  /** Make every read fail with EIO (stat/open still work). */
  setEio(on: boolean): Promise<void>;
  /** One lock around every read: queue depth 1, like a dying spindle. */
  setSerialize(on: boolean): Promise<void>;
  /** Record every FUSE read request (see reads()). */
  setTrace(on: boolean): Promise<void>;
  /** FUSE read requests recorded while trace was on. */
  reads(): SlowFsRead[];
  clearReads(): void;
  /** Hung disk: SIGSTOP the daemon. Every request to the mount blocks until unhang() or unmount(). */
  hang(): void;
  unhang(): void;
  readonly hung: boolean;
  /**
   * Unmount and stop the daemon. Works when hung or busy: aborts the FUSE
   * connection (pending and later requests fail with ENOTCONN), lazy-unmounts
   * if needed, SIGCONTs and kills the daemon. Idempotent. Resolves with the
   * ms it took.
   */
  unmount(): Promise<number>;
}

export interface Availability {
  ok: boolean;
  reason: string;
}

let availability: Availability | undefined;

/**
 * Whether slowfs can run here. The reason names what is missing and how to get
 * it; CI installs the packages, so this should only be false where FUSE is
 * genuinely impossible (not root, no /dev/fuse, not Linux).
 */
export function slowFsAvailable(): Availability {
  if (availability === undefined) availability = checkAvailability();
  return availability;
}

/**
 * For node:test's `skip` option: false when slowfs can run, else the reason.
 * With SLOWFS_REQUIRED=1 in the environment (CI) it never skips, so a missing
 * package fails the tests loudly instead of hiding them.
 */
export function slowFsSkip(): string | false {
  const a = slowFsAvailable();
  if (a.ok || process.env.SLOWFS_REQUIRED === '1') return false;
  return `slowfs unavailable: ${a.reason}`;
}

function checkAvailability(): Availability {
  if (process.platform !== 'linux') return { ok: false, reason: `slowfs needs Linux (platform ${process.platform})` };
  const uid = process.getuid?.();
  if (uid !== 0) return { ok: false, reason: `slowfs needs root to mount FUSE and abort hung connections (uid ${String(uid)})` };
  try {
    fs.accessSync('/dev/fuse', fs.constants.R_OK | fs.constants.W_OK);
  } catch (e) {
    return { ok: false, reason: `/dev/fuse is not usable (${errCode(e)}): the kernel or container has no FUSE` };
  }
  if (findScript() === undefined) return { ok: false, reason: `slowfs.py not found (looked at ${SCRIPT_CANDIDATES.join(', ')})` };
  if (!fs.existsSync(PYTHON)) return { ok: false, reason: `${PYTHON} missing: apt-get install -y python3 fuse3 python3-fusepy` };
  const probe = spawnSync(PYTHON, ['-c', 'import fusepy'], { encoding: 'utf8', timeout: 10_000 });
  if (probe.status !== 0) {
    const msg = (probe.stderr || probe.error?.message || '').trim().split('\n').pop() ?? '';
    return { ok: false, reason: `${PYTHON} cannot import fusepy (${msg}): apt-get install -y fuse3 python3-fusepy` };
  }
  if (findUmount() === undefined) return { ok: false, reason: 'umount not found (util-linux / mount package)' };
  return { ok: true, reason: 'ok' };
}

function findScript(): string | undefined {
  return SCRIPT_CANDIDATES.find((p) => fs.existsSync(p));
}

function findUmount(): string | undefined {
  return ['/usr/bin/umount', '/bin/umount'].find((p) => fs.existsSync(p));
}

function errCode(e: unknown): string {
  if (e instanceof Error) return (e as NodeJS.ErrnoException).code ?? e.message;
  return String(e);
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

interface MountInfo {
  major: number;
  minor: number;
  fstype: string;
}

function unescapeMountPath(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_m, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

/** The last mount at `mountpoint` in /proc/self/mountinfo (the visible one). */
function findMount(mountpoint: string): MountInfo | undefined {
  let text: string;
  try {
    text = fs.readFileSync('/proc/self/mountinfo', 'utf8');
  } catch {
    return undefined;
  }
  let found: MountInfo | undefined;
  for (const line of text.split('\n')) {
    const fields = line.split(' ');
    if (fields.length < 10) continue;
    if (unescapeMountPath(fields[4] ?? '') !== mountpoint) continue;
    const sep = fields.indexOf('-', 6);
    if (sep < 0) continue;
    const [maj, min] = (fields[2] ?? '').split(':');
    found = { major: Number(maj), minor: Number(min), fstype: fields[sep + 1] ?? '' };
  }
  return found;
}

function isFuseMountedAt(mountpoint: string, connection?: number): boolean {
  const m = findMount(mountpoint);
  if (m === undefined || !m.fstype.startsWith('fuse')) return false;
  return connection === undefined || m.minor === connection;
}

function fusectlMounted(): boolean {
  const m = findMount(FUSECTL_DIR);
  return m !== undefined && m.fstype === 'fusectl';
}

function run(cmd: string, args: string[], timeoutMs: number): Promise<{ ok: boolean; out: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: timeoutMs, encoding: 'utf8' }, (err, stdout, stderr) => {
      resolve({ ok: err === null, out: `${stdout}${stderr}`.trim() });
    });
  });
}

/**
 * Make sure /sys/fs/fuse/connections is mounted. Must happen BEFORE a hang:
 * spawning `mount` while a FUSE request is stuck can itself get stuck.
 */
function ensureFusectlSync(): boolean {
  if (fusectlMounted()) return true;
  if (!fs.existsSync(FUSECTL_DIR)) return false;
  spawnSync('mount', ['-t', 'fusectl', 'none', FUSECTL_DIR], { timeout: 5_000 });
  return fusectlMounted();
}

/** Abort a FUSE connection: every pending and later request fails with ENOTCONN. Sync so the exit hook can use it. */
function abortConnectionSync(connection: number): boolean {
  try {
    ensureFusectlSync();
    const abortFile = path.join(FUSECTL_DIR, String(connection), 'abort');
    if (!fs.existsSync(abortFile)) return false;
    fs.writeFileSync(abortFile, '1');
    return true;
  } catch {
    return false;
  }
}

/** Polls /proc until every thread of `pid` is in the stopped state (T). Synchronous: hang() is. */
function waitAllStopped(pid: number, timeoutMs: number): boolean {
  const tick = new Int32Array(new SharedArrayBuffer(4));
  const until = Date.now() + timeoutMs;
  for (;;) {
    let all = true;
    try {
      for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
        const stat = fs.readFileSync(`/proc/${pid}/task/${tid}/stat`, 'latin1');
        // The state follows the ")" that closes the command name.
        const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
        if (state !== 'T' && state !== 't') all = false;
      }
    } catch {
      return false; // the daemon is gone
    }
    if (all) return true;
    if (Date.now() > until) return false;
    Atomics.wait(tick, 0, 0, 1);
  }
}

function signal(pid: number, sig: NodeJS.Signals): boolean {
  try {
    process.kill(pid, sig);
    return true;
  } catch {
    return false;
  }
}

// Last line of defence: a test run that exits without unmount() leaves nothing behind.
// (If this process is SIGKILLed, the daemon's parent watchdog lazy-unmounts by itself.)
const live = new Set<SlowFsImpl>();
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const s of live) s.emergencyCleanupSync();
  });
}

interface Settings {
  delay_ms: number;
  eio: number;
  serialize: number;
  trace: number;
}

class SlowFsImpl implements SlowFs {
  readonly backing: string;
  readonly mountpoint: string;
  readonly controlFile: string;
  dev = 0;
  connection = 0;
  mountMs = 0;
  hung = false;
  private readonly child: ChildProcess;
  private exited = false;
  private readonly exitPromise: Promise<void>;
  private stderrTail = '';
  private lineBuf = '';
  private traced: SlowFsRead[] = [];
  private unmounting: Promise<number> | undefined;
  private settings: Settings;
  /** false when the backing directory had no readable file at mount time (see primeNoFlush). */
  flushPrimed = false;

  constructor(backing: string, mountpoint: string, controlFile: string, settings: Settings, script: string) {
    this.backing = backing;
    this.mountpoint = mountpoint;
    this.controlFile = controlFile;
    this.settings = settings;
    this.writeControlSync();
    this.child = spawn(PYTHON, [script, backing, mountpoint, controlFile, '--parent-pid', String(process.pid)], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    this.exitPromise = new Promise((resolve) => {
      this.child.once('exit', () => {
        this.exited = true;
        live.delete(this);
        resolve();
      });
      this.child.once('error', (e) => {
        this.stderrTail += `\nspawn error: ${e.message}`;
        this.exited = true;
        live.delete(this);
        resolve();
      });
    });
    this.child.stderr?.setEncoding('utf8');
    this.child.stderr?.on('data', (chunk: string) => this.onStderr(chunk));
    live.add(this);
    installExitHook();
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  private onStderr(chunk: string): void {
    this.lineBuf += chunk;
    let nl: number;
    while ((nl = this.lineBuf.indexOf('\n')) >= 0) {
      const line = this.lineBuf.slice(0, nl);
      this.lineBuf = this.lineBuf.slice(nl + 1);
      const m = /^read (\d+) (\d+) ([\d.]+) (ok|eio)$/.exec(line);
      if (m) {
        if (this.traced.length < 100_000) {
          this.traced.push({ offset: Number(m[1]), size: Number(m[2]), elapsedMs: Number(m[3]), ok: m[4] === 'ok' });
        }
      } else {
        this.stderrTail = (this.stderrTail + '\n' + line).slice(-4000);
      }
    }
  }

  async waitMounted(): Promise<void> {
    const start = performance.now();
    const parentDev = fs.statSync(path.dirname(this.mountpoint)).dev;
    for (;;) {
      if (this.exited) {
        throw new Error(`slowfs daemon exited before mounting ${this.mountpoint}: ${this.stderrTail.trim() || '(no output)'}`);
      }
      const m = findMount(this.mountpoint);
      if (m !== undefined && m.fstype.startsWith('fuse')) {
        this.connection = m.minor;
        break;
      }
      if (performance.now() - start > MOUNT_TIMEOUT_MS) {
        throw new Error(`slowfs: ${this.mountpoint} not mounted after ${MOUNT_TIMEOUT_MS} ms: ${this.stderrTail.trim()}`);
      }
      await sleep(10);
    }
    this.mountMs = performance.now() - start;
    const st = await fs.promises.stat(this.mountpoint);
    if (st.dev === parentDev) {
      throw new Error(`slowfs: ${this.mountpoint} has the same device id as its parent (${st.dev})`);
    }
    this.dev = st.dev;
    ensureFusectlSync();
    await this.primeNoFlush();
  }

  /**
   * Open and close one file so that the kernel learns that slowfs has no
   * FLUSH (ENOSYS) and stops sending it: close(2) then never waits for the
   * daemon, so a hung slowfs cannot block close() or fork+exec elsewhere.
   */
  private async primeNoFlush(): Promise<void> {
    const dirs = [this.mountpoint];
    for (let i = 0; i < dirs.length && i < 50; i++) {
      const dir = dirs[i] as string;
      let entries: fs.Dirent[];
      try {
        entries = await fs.promises.readdir(dir, { withFileTypes: true });
      } catch {
        continue;
      }
      for (const e of entries) {
        const p = path.join(dir, e.name);
        if (e.isFile()) {
          try {
            const fh = await fs.promises.open(p, 'r');
            await fh.close();
            this.flushPrimed = true;
            return;
          } catch {
            // unreadable: try another
          }
        } else if (e.isDirectory()) {
          dirs.push(p);
        }
      }
    }
  }

  private writeControlSync(): void {
    const text = Object.entries(this.settings)
      .map(([k, v]) => `${k}=${String(v)}\n`)
      .join('');
    // Atomic replace: the daemon never sees a half-written file.
    const tmp = `${this.controlFile}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, text);
    fs.renameSync(tmp, this.controlFile);
  }

  private async update(patch: Partial<Settings>): Promise<void> {
    this.settings = { ...this.settings, ...patch };
    this.writeControlSync();
  }

  setDelay(ms: number): Promise<void> {
    if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`delay must be >= 0 ms, got ${ms}`);
    return this.update({ delay_ms: ms });
  }

  setEio(on: boolean): Promise<void> {
    return this.update({ eio: on ? 1 : 0 });
  }

  setSerialize(on: boolean): Promise<void> {
    return this.update({ serialize: on ? 1 : 0 });
  }

  setTrace(on: boolean): Promise<void> {
    return this.update({ trace: on ? 1 : 0 });
  }

  reads(): SlowFsRead[] {
    return [...this.traced];
  }

  clearReads(): void {
    this.traced = [];
  }

  hang(): void {
    if (this.exited || this.unmounting) throw new Error('slowfs: hang() after the daemon stopped');
    // The abort file must be reachable without spawning anything once hung.
    ensureFusectlSync();
    if (!signal(this.pid, 'SIGSTOP')) throw new Error('slowfs: SIGSTOP failed');
    // kill() returns before the stop takes effect: a request sent in that window could
    // still be answered. Return only once every thread of the daemon is stopped.
    if (!waitAllStopped(this.pid, 2000)) throw new Error('slowfs: the daemon did not stop');
    this.hung = true;
  }

  unhang(): void {
    if (this.exited) return;
    signal(this.pid, 'SIGCONT');
    this.hung = false;
  }

  unmount(): Promise<number> {
    if (this.unmounting === undefined) this.unmounting = this.doUnmount();
    return this.unmounting;
  }

  private async waitExit(ms: number): Promise<boolean> {
    if (this.exited) return true;
    await Promise.race([this.exitPromise, sleep(ms)]);
    return this.exited;
  }

  private async doUnmount(): Promise<number> {
    const start = performance.now();
    const umount = findUmount() ?? 'umount';
    const problems: string[] = [];
    if (this.connection === 0) {
      // Mount never seen by waitMounted (timeout): it may have appeared since.
      const m = findMount(this.mountpoint);
      if (m !== undefined && m.fstype.startsWith('fuse')) this.connection = m.minor;
    }
    if (this.connection !== 0 && isFuseMountedAt(this.mountpoint, this.connection)) {
      let detached = false;
      if (!this.hung && !this.exited) {
        // Healthy: a normal unmount; the daemon sees ENODEV and exits by itself.
        const r = await run(umount, [this.mountpoint], 5_000);
        detached = r.ok;
        if (!r.ok) problems.push(`umount: ${r.out}`);
      }
      if (!detached) {
        // Hung, busy or dead daemon: abort the connection (pending requests fail
        // with ENOTCONN), then unmount, lazily if files are still open.
        if (!abortConnectionSync(this.connection)) problems.push('fusectl abort failed');
        const r = await run(umount, [this.mountpoint], 5_000);
        if (!r.ok) {
          const lazy = await run(umount, ['-l', this.mountpoint], 5_000);
          if (!lazy.ok) problems.push(`umount -l: ${lazy.out}`);
        }
      }
    }
    if (!this.exited) {
      signal(this.pid, 'SIGCONT');
      this.hung = false;
      if (!(await this.waitExit(2_000))) {
        signal(this.pid, 'SIGTERM');
        if (!(await this.waitExit(2_000))) {
          signal(this.pid, 'SIGKILL');
          await this.waitExit(5_000);
        }
      }
    }
    this.hung = false;
    live.delete(this);
    try {
      fs.rmSync(this.controlFile, { force: true });
    } catch {
      // the control file's directory may already be gone
    }
    if (this.connection !== 0 && isFuseMountedAt(this.mountpoint, this.connection)) {
      throw new Error(`slowfs: ${this.mountpoint} is still mounted after unmount(): ${problems.join('; ')}`);
    }
    if (!this.exited) throw new Error(`slowfs: daemon ${this.pid} did not exit`);
    return performance.now() - start;
  }

  /** Called from process 'exit': synchronous, best effort. */
  emergencyCleanupSync(): void {
    if (this.connection !== 0 && isFuseMountedAt(this.mountpoint, this.connection)) {
      abortConnectionSync(this.connection);
      spawnSync(findUmount() ?? 'umount', ['-l', this.mountpoint], { timeout: 5_000 });
    }
    if (!this.exited) {
      signal(this.pid, 'SIGCONT');
      signal(this.pid, 'SIGKILL');
    }
    try {
      fs.rmSync(this.controlFile, { force: true });
    } catch {
      // ignore
    }
  }
}

/**
 * Mount `backing` read-only at `mountpoint` through slowfs and wait until the
 * mount is visible. The control file is created beside the mountpoint
 * (`<mountpoint>.slowfs-control`), outside the mount.
 */
export async function mountSlowFs(opts: SlowFsOptions): Promise<SlowFs> {
  const avail = slowFsAvailable();
  if (!avail.ok) throw new Error(`slowfs unavailable: ${avail.reason}`);
  const script = findScript();
  if (script === undefined) throw new Error('slowfs.py not found');
  const backing = await fs.promises.realpath(opts.backing);
  const mountpoint = await fs.promises.realpath(opts.mountpoint);
  if (!(await fs.promises.stat(backing)).isDirectory()) throw new Error(`slowfs: backing ${backing} is not a directory`);
  if (findMount(mountpoint) !== undefined) throw new Error(`slowfs: ${mountpoint} is already a mountpoint`);
  const controlFile = `${mountpoint}.slowfs-control`;
  const settings: Settings = {
    delay_ms: opts.delayMs ?? 0,
    eio: opts.eio ? 1 : 0,
    serialize: opts.serialize ? 1 : 0,
    trace: opts.trace ? 1 : 0,
  };
  const s = new SlowFsImpl(backing, mountpoint, controlFile, settings, script);
  try {
    await s.waitMounted();
  } catch (e) {
    await s.unmount().catch(() => undefined);
    throw e;
  }
  return s;
}
