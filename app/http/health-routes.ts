/**
 * GET /readyz: 200 when every volume is healthy, 503 otherwise, with one JSON
 * object per volume (id, mount relative to the root, state, in-flight, queued,
 * p50/p99 of its recent operations).
 * GET /metrics: Prometheus text format from this process's registry.
 */
import type { Request, Response, Router } from 'express';
import express from 'express';
import { metricsRegistry } from '../metrics';
import type { VolumeRegistry } from '../volumes';

export function healthRoutes(volumes: VolumeRegistry | undefined): Router {
  const router = express.Router();

  router.get('/readyz', (_req: Request, res: Response) => {
    const list = volumes?.describe() ?? [];
    const ready = volumes ? volumes.allHealthy() : true;
    const body = JSON.stringify({ status: ready ? 'ready' : 'degraded', volumes: list });
    res.writeHead(ready ? 200 : 503, {
      'Content-Type': 'application/json; charset=utf-8',
      'Content-Length': String(Buffer.byteLength(body)),
      'Cache-Control': 'no-store',
      ...(ready || !volumes ? {} : { 'Retry-After': String(volumes.retryAfterSeconds()) }),
    });
    res.end(body);
  });

  router.get('/metrics', (_req: Request, res: Response) => {
    metricsRegistry.metrics().then(
      (text) => {
        res.writeHead(200, {
          'Content-Type': metricsRegistry.contentType,
          'Content-Length': String(Buffer.byteLength(text)),
          'Cache-Control': 'no-store',
        });
        res.end(text);
      },
      () => {
        res.writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8' });
        res.end('metrics failed\n');
      },
    );
  });

  return router;
}
