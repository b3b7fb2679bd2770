/**
 * GET /readyz: 200 when every volume is healthy, 503 otherwise, with one JSON
 * object per volume (id, mount relative to the root, state, in-flight, queued,
 * p50/p99 of its recent operations).
 * GET /metrics: Prometheus text format.
 *
 * What they report comes from an ObservabilitySource: by default this
 * process's own registry and volumes; a cluster worker passes one that asks
 * the primary for the merged view of every worker (app/cluster/worker.ts), so
 * the routes never look at the mode. A source that cannot answer (undefined)
 * gives 503 with a short body.
 */
import type { Request, Response, Router } from 'express';
import express from 'express';
import { metricsRegistry } from '../metrics';
import type { VolumeRegistry } from '../volumes';

export interface Readiness {
  readonly ready: boolean;
  /** The JSON body (its `status` is 'ready' or 'degraded'). */
  readonly body: unknown;
}

export interface MetricsText {
  readonly contentType: string;
  readonly text: string;
}

export interface ObservabilitySource {
  readiness(): Promise<Readiness | undefined>;
  metrics(): Promise<MetricsText | undefined>;
}

/** This process alone. */
export function localObservability(volumes: VolumeRegistry | undefined): ObservabilitySource {
  return {
    readiness: () => {
      const ready = volumes ? volumes.allHealthy() : true;
      return Promise.resolve({ ready, body: { status: ready ? 'ready' : 'degraded', volumes: volumes?.describe() ?? [] } });
    },
    metrics: async () => ({ contentType: metricsRegistry.contentType, text: await metricsRegistry.metrics() }),
  };
}

function unavailable(res: Response, what: string): void {
  const body = `${what} unavailable: no answer in time\n`;
  res.writeHead(503, {
    'Content-Type': 'text/plain; charset=utf-8',
    'Content-Length': String(Buffer.byteLength(body)),
    'Cache-Control': 'no-store',
    'Retry-After': '1',
  });
  res.end(body);
}

export function healthRoutes(volumes: VolumeRegistry | undefined, source: ObservabilitySource = localObservability(volumes)): Router {
  const router = express.Router();

  router.get('/readyz', (_req: Request, res: Response) => {
    source.readiness().then(
      (r) => {
        if (r === undefined) return unavailable(res, 'readiness');
        const body = JSON.stringify(r.body);
        res.writeHead(r.ready ? 200 : 503, {
          'Content-Type': 'application/json; charset=utf-8',
          'Content-Length': String(Buffer.byteLength(body)),
          'Cache-Control': 'no-store',
          ...(r.ready || !volumes ? {} : { 'Retry-After': String(volumes.retryAfterSeconds()) }),
        });
        res.end(body);
      },
      () => unavailable(res, 'readiness'),
    );
  });

  router.get('/metrics', (_req: Request, res: Response) => {
    source.metrics().then(
      (m) => {
        if (m === undefined) return unavailable(res, 'metrics');
        res.writeHead(200, {
          'Content-Type': m.contentType,
          'Content-Length': String(Buffer.byteLength(m.text)),
          'Cache-Control': 'no-store',
        });
        res.end(m.text);
      },
      () => {
        res.writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8' });
        res.end('metrics failed\n');
      },
    );
  });

  return router;
}
