/**
 * The Express application: CORS, health, the files route, and short answers
 * for everything else. Express stays the app; the download route itself works
 * on the raw request and response so the hot path does the least work.
 */
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import express, { type NextFunction, type Request, type Response } from 'express';
import type { Logger } from 'pino';
import type { Config } from '../config';
import type { Engine } from '../engines/types';
import { corsMiddleware } from './cors';
import { activeDownloads, bytesSent, responses } from '../metrics';
import type { VolumeRegistry } from '../volumes';
import { createFilesRoute, type RequestOutcome } from './files-route';
import { healthRoutes, type ObservabilitySource } from './health-routes';
import { sendShort } from './short-response';
import { zeroCopyStatus } from '../zero-copy';

export interface AppContext {
  readonly config: Config;
  readonly engine: Engine;
  readonly rootReal: string;
  readonly log: Logger;
  readonly version: string;
  /** Per-volume gates (/readyz, Retry-After); absent in apps built without them. */
  readonly volumes?: VolumeRegistry;
  /** Extra facts for /healthz (cluster worker pids, hint status, ...). */
  readonly health?: () => Record<string, unknown>;
  /** Where /readyz and /metrics read from (a cluster worker: the primary's merge); default this process. */
  readonly observability?: ObservabilitySource;
}

export function createApp(ctx: AppContext): express.Express {
  return buildApp(ctx).app;
}

/**
 * The server's request listener: the Express app, with the download route
 * taken before Express's router when `config.fastFilesRoute` is on. Express 5
 * costs a measurable share of a 4 KiB range's CPU (docs/performance.md); the
 * bypass runs exactly what the router would run for these paths — CORS, then
 * the files endpoint — so every status and header stays the same. Anything
 * the bypass does not recognise (absolute-form targets, other case) goes
 * through Express as before.
 */
export function createRequestListener(ctx: AppContext): RequestListener {
  const { app, files, cors } = buildApp(ctx);
  if (!ctx.config.fastFilesRoute) return app;
  return (req: IncomingMessage, res: ServerResponse): void => {
    const url = req.url ?? '';
    if (!isFilesTarget(url)) {
      app(req, res);
      return;
    }
    if (cors) cors(req, res, () => files(req, res, url));
    else files(req, res, url);
  };
}

/** Paths Express's app.use('/files') would hand to the files endpoint, in their exact case. */
function isFilesTarget(url: string): boolean {
  if (!url.startsWith('/files')) return false;
  const next = url.charCodeAt(6);
  return Number.isNaN(next) || next === 0x2f /* / */ || next === 0x3f /* ? */;
}

function buildApp(ctx: AppContext) {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);

  const files = createFilesRoute({
    rootReal: ctx.rootReal,
    engine: ctx.engine,
    maxRanges: ctx.config.maxRanges,
    showDotfiles: ctx.config.showDotfiles,
    log: ctx.log,
    retryAfterSeconds: () => ctx.volumes?.retryAfterSeconds() ?? 5,
    headerBudgetMs: ctx.config.readTimeoutMs,
  });

  const cors = ctx.config.corsOrigins === '*' || ctx.config.corsOrigins.length > 0 ? corsMiddleware(ctx.config.corsOrigins) : undefined;
  if (cors) app.use(cors);

  app.get('/healthz', (_req: Request, res: Response) => {
    const body = JSON.stringify({
      status: 'ok',
      mode: ctx.config.mode,
      version: ctx.version,
      pid: process.pid,
      ...ctx.engine.describe(),
      zeroCopy: zeroCopyStatus(),
      ...(ctx.health ? ctx.health() : {}),
    });
    res.writeHead(200, {
      'Content-Type': 'application/json; charset=utf-8',
      'Content-Length': String(Buffer.byteLength(body)),
      'Cache-Control': 'no-store',
    });
    res.end(body);
  });

  app.use(healthRoutes(ctx.volumes, ctx.observability));

  // `url`: the request target as the client sent it (Express's originalUrl).
  const filesEndpoint = (req: IncomingMessage, res: ServerResponse, url: string): void => {
    const started = process.hrtime.bigint();
    const outcome: RequestOutcome = { partial: false, bytes: 0, ended: 'none' };
    activeDownloads.inc();
    // Log once the response has closed AND the route has finished, so the byte
    // count set after the body was sent is in the line.
    const closed = new Promise<void>((resolve) => res.once('close', () => resolve()));
    // Express mounting trims req.url: the route works on the target as sent.
    req.url = url;
    void Promise.all([files(req, res, outcome), closed]).then(() => {
      activeDownloads.dec();
      bytesSent.inc(outcome.bytes);
      responses.inc({ status: String(res.statusCode) });
      ctx.log.info(
        {
          method: req.method,
          url,
          status: res.statusCode,
          bytes: outcome.bytes,
          resume: outcome.partial,
          ended: outcome.ended === 'none' ? 'complete' : outcome.ended,
          ms: Number(process.hrtime.bigint() - started) / 1e6,
        },
        'response',
      );
    });
  };
  app.use('/files', (req: Request, res: Response) => filesEndpoint(req, res, req.originalUrl));

  app.use((req: Request, res: Response) => sendShort(res, 404, {}, undefined, req.method === 'HEAD'));

  // Express's default handler prints stack traces; ours never shows one.
  app.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
    const status = (err as { status?: unknown } | null)?.status;
    const code = typeof status === 'number' && status >= 400 && status < 500 ? status : 500;
    if (code === 500) ctx.log.error({ err }, 'unhandled error');
    sendShort(res, code, {}, undefined, req.method === 'HEAD');
  });

  return { app, files: filesEndpoint, cors };
}
