/**
 * One cluster worker process: serve() with the engine CLUSTER_IO names, on the
 * port the primary chose. It tells the primary when it listens, shows the
 * primary's latest pid list on /healthz, stops gracefully when the primary
 * says so, and never outlives the primary: when the IPC channel closes (the
 * primary exited, even by SIGKILL) it cuts what it serves and exits at once.
 */
import type { Logger } from 'pino';
import type { Config } from '../config';
import { serve } from '../serve';
import type { RunningServer } from '../server';
import { isPrimaryMessage, type WorkerMessage } from './messages';
import { currentVolumes } from '../volumes';
import { metricsRegistry } from '../metrics';
import type { ObservabilitySource } from '../http/health-routes';
import { PrimaryAsker } from './collect';

/** How long an orphaned worker may take to exit, whatever it is doing. */
const ORPHAN_EXIT_MS = 1_000;
/** Longest wait for the primary's rs:released after stopping. */
const RELEASE_TIMEOUT_MS = 5_000;

function send(msg: WorkerMessage): boolean {
  if (!process.connected || !process.send) return false;
  process.send(msg, undefined, {}, () => undefined);
  return true;
}

/** /readyz and /metrics of a worker show the whole cluster: the primary gathers them from every worker. */
function clusterObservability(asker: PrimaryAsker): ObservabilitySource {
  return {
    readiness: async () => {
      const c = await asker.ask('readyz');
      return c.what === 'readyz' ? { ready: c.readiness.status === 'ready', body: c.readiness } : undefined;
    },
    metrics: async () => {
      const c = await asker.ask('metrics');
      return c.what === 'metrics' ? c.metrics : undefined;
    },
  };
}

/** This worker's own part of a collection the primary runs. */
function sendSnapshot(id: number, what: 'metrics' | 'readyz'): void {
  if (what === 'readyz') {
    send({ type: 'rs:snapshot', id, snapshot: { what, volumes: currentVolumes()?.describe() ?? [] } });
    return;
  }
  metricsRegistry.getMetricsAsJSON().then(
    (metrics) => send({ type: 'rs:snapshot', id, snapshot: { what, metrics } }),
    () => undefined, // left out of this answer; the primary stops waiting at its deadline
  );
}

export async function runWorker(config: Config, log: Logger): Promise<void> {
  let pids: readonly number[] = [process.pid];
  let running: RunningServer | undefined;
  let stopping = false;
  const asker = new PrimaryAsker(send);

  let stopBeforeReady: number | undefined;
  let releaseWaiter: (() => void) | undefined;
  const stop = (graceMs: number, why: string): void => {
    if (!running) {
      stopBeforeReady ??= graceMs;
      return;
    }
    if (stopping) return;
    stopping = true;
    log.info({ why, inFlight: running.inFlight(), graceMs }, 'worker stopping');
    const done = running.stop(graceMs);
    send({ type: 'rs:draining' });
    // Exit once the downloads are done AND the primary released us (no connection
    // still in transit to this process); without a primary, as soon as they are done.
    const released = new Promise<void>((resolve) => {
      releaseWaiter = resolve;
      if (!process.connected) resolve();
      setTimeout(resolve, RELEASE_TIMEOUT_MS).unref();
    });
    void Promise.all([done, released]).then(([cut]) => {
      log.info({ cut }, 'worker stopped');
      process.exit(0);
    });
  };

  const orphaned = (): void => {
    releaseWaiter?.();
    // The primary is gone: nobody will restart or stop us, so do not linger.
    setTimeout(() => process.exit(0), ORPHAN_EXIT_MS).unref();
    if (running) {
      stopping = false;
      stop(0, 'primary gone');
    } else process.exit(0);
  };
  process.on('disconnect', orphaned);

  process.on('message', (m: unknown) => {
    if (!isPrimaryMessage(m)) return;
    if (m.type === 'rs:workers') pids = m.pids;
    else if (m.type === 'rs:volume') currentVolumes()?.applyPeerEvent(m.event);
    else if (m.type === 'rs:stop') stop(m.graceMs, 'primary asked');
    else if (m.type === 'rs:snapshot-request') sendSnapshot(m.id, m.what);
    else if (m.type === 'rs:collected') asker.onCollected(m.id, m.result);
    else releaseWaiter?.();
  });
  // Signals sent to the whole process group (Ctrl-C) reach workers directly: stop as the primary would ask.
  process.on('SIGTERM', () => stop(config.shutdownGraceMs, 'SIGTERM'));
  process.on('SIGINT', () => stop(config.shutdownGraceMs, 'SIGINT'));
  // SIGHUP is the primary's (rolling restart); a worker ignores it.
  process.on('SIGHUP', () => undefined);

  running = await serve(config, log, {
    listeningMessage: 'worker listening',
    health: () => ({ workers: [...pids], primary: process.ppid }),
    observability: clusterObservability(asker),
  });
  // Volumes are disks, shared by every worker: one worker's errors and state changes are everybody's.
  const volumes = currentVolumes();
  if (volumes) volumes.onLocalEvent = (event) => send({ type: 'rs:volume', event });
  if (!process.connected) return orphaned();
  if (stopBeforeReady !== undefined) return stop(stopBeforeReady, 'asked before ready');
  send({ type: 'rs:listening', port: running.port });
}
