/**
 * Cluster-wide /metrics and /readyz, both halves:
 * - Collector (primary): asks every live worker for its snapshot, waits until
 *   all answered or COLLECT_WAIT_MS passed (a worker that does not answer, or
 *   dies meanwhile, is left out), then merges (./merge.ts).
 * - PrimaryAsker (worker): the worker that got the HTTP request asks the
 *   primary and waits at most ASK_TIMEOUT_MS; no answer ⇒ 'none' (the route
 *   answers 503). The asker's timeout is longer than the collect wait, so a
 *   slow peer costs a partial answer, not a failed one.
 */
import type { Collectable, Collected, PrimaryMessage, Snapshot } from './messages';
import { mergeMetrics, mergeReadiness, type MetricsJson, type WorkerReadiness } from './merge';

export const COLLECT_WAIT_MS = 2_000;
export const ASK_TIMEOUT_MS = 3_000;

/** A worker as the collector sees it. */
export interface Peer {
  readonly pid: number;
  send(msg: PrimaryMessage): void;
}

interface Pending {
  readonly what: Collectable;
  readonly waiting: Set<number>;
  readonly got: Map<number, Snapshot>;
  readonly done: () => void;
}

export class Collector {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();

  constructor(
    /** The live workers that serve (asked at the start of each collection, counted at its end). */
    private readonly peers: () => readonly Peer[],
    private readonly waitMs: number = COLLECT_WAIT_MS,
  ) {}

  collect(what: Collectable): Promise<Collected> {
    const id = this.nextId++;
    const asked = this.peers();
    return new Promise<Collected>((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const p: Pending = {
        what,
        waiting: new Set(asked.map((w) => w.pid)),
        got: new Map(),
        done: () => {
          if (!this.pending.delete(id)) return;
          if (timer) clearTimeout(timer);
          resolve(this.merge(p));
        },
      };
      this.pending.set(id, p);
      timer = setTimeout(p.done, this.waitMs);
      for (const w of asked) w.send({ type: 'rs:snapshot-request', id, what });
      if (p.waiting.size === 0) p.done();
    });
  }

  /** A worker's rs:snapshot. Late or mismatched answers are dropped. */
  onSnapshot(pid: number, id: number, snapshot: Snapshot): void {
    const p = this.pending.get(id);
    if (!p || !p.waiting.has(pid) || snapshot.what !== p.what) return;
    p.waiting.delete(pid);
    p.got.set(pid, snapshot);
    if (p.waiting.size === 0) p.done();
  }

  /** A worker exited: stop waiting for it. */
  onPeerGone(pid: number): void {
    for (const p of this.pending.values()) {
      if (p.waiting.delete(pid) && p.waiting.size === 0) p.done();
    }
  }

  private async merge(p: Pending): Promise<Collected> {
    const workers = this.peers().length;
    if (p.what === 'metrics') {
      const reports: MetricsJson[] = [];
      for (const s of p.got.values()) if (s.what === 'metrics') reports.push(s.metrics);
      if (reports.length === 0) return { what: 'none' };
      return { what: 'metrics', metrics: await mergeMetrics(reports, workers) };
    }
    const reports: WorkerReadiness[] = [];
    for (const [pid, s] of p.got) if (s.what === 'readyz') reports.push({ pid, volumes: s.volumes });
    if (reports.length === 0) return { what: 'none' };
    return { what: 'readyz', readiness: mergeReadiness(reports, workers) };
  }
}

export class PrimaryAsker {
  private nextId = 1;
  private readonly pending = new Map<number, (c: Collected) => void>();

  constructor(
    /** Sends to the primary; false when the channel is closed. */
    private readonly send: (msg: { type: 'rs:collect'; id: number; what: Collectable }) => boolean,
    private readonly timeoutMs: number = ASK_TIMEOUT_MS,
  ) {}

  ask(what: Collectable): Promise<Collected> {
    const id = this.nextId++;
    return new Promise<Collected>((resolve) => {
      const timer = setTimeout(() => finish({ what: 'none' }), this.timeoutMs);
      const finish = (c: Collected): void => {
        clearTimeout(timer);
        this.pending.delete(id);
        resolve(c);
      };
      this.pending.set(id, finish);
      if (!this.send({ type: 'rs:collect', id, what })) finish({ what: 'none' });
    });
  }

  onCollected(id: number, result: Collected): void {
    this.pending.get(id)?.(result);
  }
}
