/**
 * The volumes under the served root: dev -> Volume, found by longest-prefix
 * match of a path against the mount points under the root (read from
 * /proc/self/mountinfo, which never touches a disk), so a path's gate is known
 * before the first fs call on it. Mounts are rescanned periodically; a mount
 * point that appears later gets its own volume up to `maxVolumes`, after that
 * it shares the gate of the volume it sits in.
 *
 * A background probe re-tests degraded volumes: it reads a small block of a
 * file recently opened there (or stats the mount point), under the same
 * deadline, and restores the volume when that is fast again.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import { isUnder, mountsForRoot, type MountPoint } from './mounts';
import { Volume, type GateLimits, type RunOptions, type VolumeObserver, type VolumeOp, type VolumeReport, type VolumeState } from './volume';

export interface VolumeSettings extends GateLimits {
  readonly probeIntervalMs: number;
  readonly rescanMs: number;
  readonly maxVolumes: number;
}

const PROBE_BYTES = 4096;

/** A health event of one volume, shared between cluster processes (they serve the same disks). */
export type VolumeEvent =
  | { readonly kind: 'error'; readonly dev: number; readonly op: VolumeOp; readonly what: string }
  | { readonly kind: 'state'; readonly dev: number; readonly state: VolumeState };

const noopObserver: VolumeObserver = {
  opDone: () => undefined,
  timedOut: () => undefined,
  rejected: () => undefined,
  stateChanged: () => undefined,
};

export class VolumeRegistry {
  private readonly byDev = new Map<number, Volume>();
  /** Mount points inside the root, longest first, each with its volume. */
  private inside: { path: string; volume: Volume }[] = [];
  private rootVolume!: Volume;
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly observer: VolumeObserver;
  /**
   * Where this process's own volume events go (a cluster worker sends them to its peers,
   * app/cluster/worker.ts); events applied from peers are not sent on again.
   */
  onLocalEvent: ((e: VolumeEvent) => void) | undefined;
  private applyingPeerEvent = false;
  /** The settings' cap, or the number of mounts found at start if more (the threadpool was sized for those). */
  private maxVolumes: number | undefined;

  constructor(
    readonly rootReal: string,
    readonly settings: VolumeSettings,
    private readonly log: Logger | undefined,
    observer: VolumeObserver = noopObserver,
    private readonly readMounts: (root: string) => { root: MountPoint; inside: MountPoint[] } = (r) => mountsForRoot(r),
  ) {
    this.observer = {
      ...observer,
      stateChanged: (v, state, why) => {
        observer.stateChanged(v, state, why);
        this.logState(v, state, why);
        if (!this.applyingPeerEvent) this.onLocalEvent?.({ kind: 'state', dev: v.dev, state });
      },
      errorNoted: (v, op, what) => {
        observer.errorNoted?.(v, op, what);
        if (!this.applyingPeerEvent) this.onLocalEvent?.({ kind: 'error', dev: v.dev, op, what });
      },
    };
    this.rescan();
  }

  /** Starts the probe and rescan timers (unref'd: they never keep the process alive). */
  start(): this {
    const probe = setInterval(() => this.probeDegraded(), this.settings.probeIntervalMs);
    probe.unref();
    this.timers.push(probe);
    if (this.settings.rescanMs > 0) {
      const rescan = setInterval(() => this.rescan(), this.settings.rescanMs);
      rescan.unref();
      this.timers.push(rescan);
    }
    return this;
  }

  stop(): void {
    for (const t of this.timers) clearInterval(t);
    this.timers.length = 0;
  }

  private volumeFor(m: MountPoint, rel: string, mountPath: string): Volume {
    let v = this.byDev.get(m.dev);
    if (!v) {
      v = new Volume(`${m.major}:${m.minor}`, m.dev, rel, mountPath, this.settings, this.observer);
      this.byDev.set(m.dev, v);
    }
    return v;
  }

  /** Re-reads the mount table (procfs: memory only, synchronous on purpose). */
  rescan(): void {
    const { root, inside } = this.readMounts(this.rootReal);
    this.maxVolumes ??= Math.max(this.settings.maxVolumes, inside.length + 1);
    this.rootVolume = this.volumeFor(root, '.', this.rootReal);
    const next: { path: string; volume: Volume }[] = [];
    for (const m of inside) {
      const known = this.byDev.has(m.dev);
      if (!known && this.byDev.size >= this.maxVolumes) {
        // Over the cap: this mount shares the gate of the volume it sits in (resolved below, longest prefix).
        continue;
      }
      next.push({ path: m.path, volume: this.volumeFor(m, path.relative(this.rootReal, m.path), m.path) });
    }
    this.inside = next;
  }

  /** The volume a path (inside the root) lives on, by longest mount-point prefix. No fs call. */
  of(p: string): Volume {
    for (const m of this.inside) if (isUnder(m.path, p)) return m.volume;
    return this.rootVolume;
  }

  /** Runs one operation on `p` under its volume's gate and deadline. */
  run<T>(p: string, op: VolumeOp, fn: () => Promise<T>, opts?: RunOptions<T>): Promise<T> {
    return this.of(p).run(op, fn, opts);
  }

  volumes(): Volume[] {
    return [...new Set([this.rootVolume, ...this.inside.map((m) => m.volume)])];
  }

  allHealthy(): boolean {
    return this.volumes().every((v) => v.state === 'healthy');
  }

  /** Seconds a client should wait before retrying a volume that refused. */
  retryAfterSeconds(): number {
    return Math.max(1, Math.ceil(this.settings.probeIntervalMs / 1000));
  }

  describe(): VolumeReport[] {
    return this.volumes().map((v) => v.describe());
  }

  /**
   * Applies a volume event from another process of the cluster: its errors count toward
   * this process's limit, and a state change (degraded, or restored by its probe) is
   * taken over, so every process refuses and recovers together.
   */
  applyPeerEvent(e: VolumeEvent): void {
    const v = this.byDev.get(e.dev);
    if (!v) return;
    this.applyingPeerEvent = true;
    try {
      if (e.kind === 'error') v.noteError(e.op, e.what);
      else v.setState(e.state, { from: 'peer' });
    } finally {
      this.applyingPeerEvent = false;
    }
  }

  /** One probe per degraded volume at a time; the flag clears only when the kernel returns. */
  probeDegraded(): void {
    for (const v of this.volumes()) {
      if (v.state !== 'degraded' || v.probing) continue;
      v.probing = true;
      const started = performance.now();
      const target = v.lastFile;
      let raw: Promise<void> | undefined;
      const attempt = v.run(
        'probe',
        () => {
          raw = target ? readBlock(target) : fs.promises.stat(v.mountPath).then(() => undefined);
          return raw;
        },
        { mustRun: true },
      );
      attempt.then(
        () => v.setState('healthy', { probe: target ? 'read' : 'stat', probeMs: Math.round(performance.now() - started) }),
        (err: unknown) => {
          this.log?.debug({ volume: v.id, mount: v.mount, err: String(err) }, 'volume probe failed');
        },
      );
      const done = (): void => {
        v.probing = false;
      };
      attempt.then(
        () => (raw ?? Promise.resolve()).then(done, done),
        () => (raw ?? Promise.resolve()).then(done, done),
      );
    }
  }

  private logState(v: Volume, state: VolumeState, why: Record<string, unknown>): void {
    if (!this.log) return;
    const fields = { volume: v.id, mount: v.mount, state, ...why };
    if (state === 'degraded') this.log.warn(fields, 'volume degraded');
    else this.log.info(fields, 'volume restored');
  }
}

async function readBlock(file: string): Promise<void> {
  const fh = await fs.promises.open(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  try {
    await fh.read(Buffer.allocUnsafe(PROBE_BYTES), 0, PROBE_BYTES, 0);
  } finally {
    await fh.close();
  }
}

// The registry of this process. serve() installs it; engines find it here, so
// createEngine(config) keeps its signature.
let current: VolumeRegistry | undefined;

export function installVolumes(registry: VolumeRegistry | undefined): void {
  current?.stop();
  current = registry;
}

export function currentVolumes(): VolumeRegistry | undefined {
  return current;
}
