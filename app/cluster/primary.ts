/**
 * The cluster primary: forks WORKERS processes that share one port (each runs
 * the engine CLUSTER_IO names), and keeps them alive. It serves nothing itself.
 *
 * These are the worker pool's lifecycle rules (style-anchors P13/P14) carried
 * over to processes:
 * - Start: the port is chosen once (PORT=0 picks a free one) and every worker
 *   listens on it; ONE "listening" line with the port once all of them listen.
 *   A worker that dies before that is a start-up failure: the primary stops.
 * - Crash: a worker that exits unexpectedly is replaced after a backoff
 *   (100 ms doubling to 10 s; back to 100 ms once a worker had stayed up 30 s);
 *   5 crashes within 60 s log an error line (restarts go on with the backoff).
 * - SIGTERM / SIGINT: every worker stops accepting, in-flight downloads get up
 *   to SHUTDOWN_GRACE_MS, the rest end short; the primary exits 0 once all
 *   workers have exited (it SIGKILLs any that overrun the grace by 5 s).
 * - SIGHUP: rolling restart, one worker at a time: fork the replacement, wait
 *   until it listens, then stop the old one gracefully. The port stays open
 *   throughout, so no connection is refused.
 * - Workers never outlive the primary: each exits when its IPC channel closes.
 * Every worker is told the current pid list whenever it changes (/healthz).
 */
import cluster, { type Worker } from 'node:cluster';
import net from 'node:net';
import type { Logger } from 'pino';
import type { Config } from '../config';
import { isWorkerMessage, type PrimaryMessage } from './messages';
import { Collector } from './collect';

export const BACKOFF_MIN_MS = 100;
export const BACKOFF_MAX_MS = 10_000;
/** A worker that stayed up this long resets the backoff. */
export const STABLE_AFTER_MS = 30_000;
export const CRASH_LOOP_COUNT = 5;
export const CRASH_LOOP_WINDOW_MS = 60_000;
/** How long a new worker may take to listen during a rolling restart. */
const START_TIMEOUT_MS = 30_000;
/** Extra time after the grace before a stopping worker is killed. */
const KILL_MARGIN_MS = 5_000;

/** The next delay after a crash: pure, so the policy is testable on its own. */
export function nextBackoff(previousMs: number, upMs: number): number {
  if (upMs >= STABLE_AFTER_MS || previousMs <= 0) return BACKOFF_MIN_MS;
  return Math.min(previousMs * 2, BACKOFF_MAX_MS);
}

interface Tracked {
  readonly worker: Worker;
  readonly pid: number;
  readonly startedAt: number;
  listening: boolean;
  /** Told to stop (shutdown or rolling restart): its exit is expected. */
  retiring: boolean;
  readonly listeningWaiters: Array<(ok: boolean) => void>;
  readonly drainingWaiters: Array<() => void>;
}

/** Binds port 0 briefly to pick a free port, so every worker (and every replacement) uses the same one. */
function pickPort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, host, () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

export async function runPrimary(config: Config, log: Logger): Promise<void> {
  const port = config.port === 0 ? await pickPort(config.host) : config.port;
  const tracked = new Map<number, Tracked>(); // by worker id
  let ready = false;
  let shuttingDown = false;
  let rolling = false;
  let rollAgain = false;
  let backoffMs = 0;
  let exitCode = 0;
  const crashTimes: number[] = [];
  const restartTimers = new Set<NodeJS.Timeout>();

  const livePids = (): number[] => [...tracked.values()].map((t) => t.pid);
  // A worker may be exiting while we talk to it: a failed send is reported to
  // the callback (never as an 'error' event that would crash the primary), and
  // its exit is handled by onExit.
  const tell = (t: Tracked, msg: PrimaryMessage): void => {
    if (t.worker.isConnected()) t.worker.send(msg, undefined, () => undefined);
  };
  // /metrics and /readyz: whichever worker is asked has the primary gather every serving worker's part.
  const collector = new Collector(() =>
    [...tracked.values()]
      .filter((t) => t.listening && t.worker.isConnected())
      .map((t) => ({ pid: t.pid, send: (msg: PrimaryMessage) => tell(t, msg) })),
  );
  const broadcast = (): void => {
    const msg: PrimaryMessage = { type: 'rs:workers', pids: livePids() };
    for (const t of tracked.values()) tell(t, msg);
  };

  function fork(): Tracked {
    const worker = cluster.fork({ PORT: String(port) });
    const t: Tracked = {
      worker,
      pid: worker.process.pid ?? -1,
      startedAt: Date.now(),
      listening: false,
      retiring: false,
      listeningWaiters: [],
      drainingWaiters: [],
    };
    tracked.set(worker.id, t);
    worker.on('message', (m: unknown) => {
      if (!isWorkerMessage(m)) return;
      if (m.type === 'rs:volume') {
        // Pass a worker's volume health event on to every other worker.
        for (const other of tracked.values()) if (other !== t) tell(other, m);
      } else if (m.type === 'rs:collect') {
        collector.collect(m.what).then(
          (result) => tell(t, { type: 'rs:collected', id: m.id, result }),
          (err: unknown) => {
            log.warn({ err, what: m.what }, 'cluster collect failed');
            tell(t, { type: 'rs:collected', id: m.id, result: { what: 'none' } });
          },
        );
      } else if (m.type === 'rs:snapshot') {
        collector.onSnapshot(t.pid, m.id, m.snapshot);
      } else if (m.type === 'rs:listening') {
        t.listening = true;
        for (const w of t.listeningWaiters.splice(0)) w(true);
        onListening();
      } else {
        // Its listener is closed (cluster processed that before this message): let it go.
        tell(t, { type: 'rs:released' });
        for (const w of t.drainingWaiters.splice(0)) w();
      }
    });
    worker.on('exit', (code, signal) => onExit(t, code, signal));
    worker.on('error', (err: Error) => log.warn({ workerPid: t.pid, err }, 'worker channel error'));
    broadcast();
    return t;
  }

  function onListening(): void {
    broadcast();
    if (ready) return;
    const all = [...tracked.values()];
    if (all.length >= config.workers && all.every((t) => t.listening)) {
      ready = true;
      log.info({ port, host: config.host, mode: config.mode, engine: config.engine, workers: livePids() }, 'listening');
    }
  }

  function onExit(t: Tracked, code: number | null, signal: string | null): void {
    tracked.delete(t.worker.id);
    collector.onPeerGone(t.pid);
    for (const w of t.listeningWaiters.splice(0)) w(false);
    for (const w of t.drainingWaiters.splice(0)) w();
    broadcast();
    if (shuttingDown) {
      if (tracked.size === 0) finish();
      return;
    }
    if (t.retiring) return;
    if (!ready) {
      // A worker that cannot even start (bad port, unreadable root...) will not get better by retrying.
      log.fatal({ workerPid: t.pid, code, signal }, 'worker failed to start');
      shuttingDown = true;
      exitCode = code !== null && code !== 0 ? code : 1;
      for (const o of tracked.values()) o.worker.process.kill('SIGKILL');
      if (tracked.size === 0) finish();
      return;
    }
    const now = Date.now();
    const upMs = now - t.startedAt;
    backoffMs = nextBackoff(backoffMs, upMs);
    crashTimes.push(now);
    while (crashTimes.length > 0 && crashTimes[0]! < now - CRASH_LOOP_WINDOW_MS) crashTimes.shift();
    log.warn({ workerPid: t.pid, code, signal, upMs, restartInMs: backoffMs }, 'worker exited unexpectedly; restarting');
    if (crashTimes.length >= CRASH_LOOP_COUNT) {
      log.error(
        { crashes: crashTimes.length, windowMs: CRASH_LOOP_WINDOW_MS, restartInMs: backoffMs },
        'workers keep crashing; check the logs above (restarts continue with backoff)',
      );
    }
    const timer = setTimeout(() => {
      restartTimers.delete(timer);
      if (!shuttingDown) fork();
    }, backoffMs);
    restartTimers.add(timer);
  }

  function waitListening(t: Tracked): Promise<boolean> {
    if (t.listening) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), START_TIMEOUT_MS);
      t.listeningWaiters.push((ok) => {
        clearTimeout(timer);
        resolve(ok);
      });
    });
  }

  /** Tells a worker to stop and resolves once it no longer accepts (or has exited). */
  function retire(t: Tracked, graceMs: number): Promise<void> {
    t.retiring = true;
    const drained = new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 5_000);
      t.drainingWaiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
    tell(t, { type: 'rs:stop', graceMs });
    // Whatever happens, it is gone by the grace plus a margin.
    setTimeout(() => {
      if (tracked.has(t.worker.id)) t.worker.process.kill('SIGKILL');
    }, graceMs + KILL_MARGIN_MS).unref();
    return drained;
  }

  async function rollingRestart(): Promise<void> {
    if (rolling) {
      rollAgain = true;
      return;
    }
    rolling = true;
    try {
      do {
        rollAgain = false;
        const old = [...tracked.values()].filter((t) => !t.retiring);
        log.info({ workers: old.map((t) => t.pid) }, 'rolling restart');
        for (const t of old) {
          if (shuttingDown) return;
          if (!tracked.has(t.worker.id)) continue; // crashed meanwhile: already being replaced
          const fresh = fork();
          if (!(await waitListening(fresh))) {
            log.error({ workerPid: fresh.pid }, 'rolling restart stopped: the new worker did not start listening');
            return;
          }
          await retire(t, config.shutdownGraceMs);
        }
        log.info({ workers: livePids() }, 'rolling restart done');
      } while (rollAgain && !shuttingDown);
    } finally {
      rolling = false;
    }
  }

  let finished = false;
  function finish(): void {
    if (finished) return;
    finished = true;
    log.info({ code: exitCode }, 'stopped');
    process.exit(exitCode);
  }

  function shutdown(signal: string): void {
    if (shuttingDown) return;
    shuttingDown = true;
    for (const timer of restartTimers) clearTimeout(timer);
    restartTimers.clear();
    log.info({ signal, workers: livePids(), graceMs: config.shutdownGraceMs }, 'stopping');
    if (tracked.size === 0) return finish();
    for (const t of tracked.values()) void retire(t, config.shutdownGraceMs);
  }

  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGHUP', () => {
    if (!shuttingDown && ready) void rollingRestart();
  });

  cluster.setupPrimary({ silent: false });
  log.info({ workers: config.workers, engine: config.engine, port }, 'primary starting workers');
  for (let i = 0; i < config.workers; i++) fork();
}
