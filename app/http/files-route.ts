/**
 * GET|HEAD /files/<path> and /files?path=<path>: resolve the path under the
 * root, plan the response with the pure core, and let the engine execute the
 * plan. The route never branches on the mode: every difference between modes
 * lives behind the Engine port.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';
import mime from 'mime-types';
import type { Logger } from 'pino';
import { planResponse } from '../core/plan';
import type { FileMeta, PlanRequest, ResponsePlan } from '../core/types';
import type { EarlyRead, Engine, OpenedFile, PathStat } from '../engines/types';
import { errorCode, isUnavailable, prefetchBody, requestBudget, type RequestBudget } from '../volumes';
import { parseQueryPath, parseUrlPath, type PathParse } from '../fs/request-path';
import { dispositionHeader } from './disposition';
import { sendListing } from './listing';
import { sendShort, statusForFsError } from './short-response';

export interface FilesRouteOptions {
  /** The root folder, already passed through realpath. */
  readonly rootReal: string;
  readonly engine: Engine;
  readonly maxRanges: number;
  readonly showDotfiles: boolean;
  readonly log: Logger;
  /** Retry-After (seconds) on a 503 for a slow, busy, degraded or failing volume. */
  readonly retryAfterSeconds?: () => number;
  /** Every file operation before the status line must end within this (READ_TIMEOUT_MS); default: no budget. */
  readonly headerBudgetMs?: number;
}

/** Facts about a finished request, for the access log and metrics. */
export interface RequestOutcome {
  partial: boolean;
  bytes: number;
  ended: 'complete' | 'aborted' | 'short-read' | 'io-error' | 'timeout' | 'none';
}

const SINGLETON_HEADERS = ['range', 'if-range'] as const;

/** One request's planning: its method, and its plan for a given file. */
interface Planner {
  readonly method: 'GET' | 'HEAD';
  plan(real: string, meta: FileMeta): ResponsePlan;
}

/** Singleton headers sent on more than one line (Node joins them with ", "). */
function duplicatedHeaders(req: IncomingMessage): Set<string> {
  const seen = new Set<string>();
  const dup = new Set<string>();
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) {
    const name = (raw[i] ?? '').toLowerCase();
    if (!(SINGLETON_HEADERS as readonly string[]).includes(name)) continue;
    if (seen.has(name)) dup.add(name);
    seen.add(name);
  }
  return dup;
}

function headerValue(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v.join(', ') : v;
}

function contentTypeOf(name: string): string {
  return mime.contentType(path.extname(name)) || 'application/octet-stream';
}

function isInside(rootReal: string, real: string): boolean {
  return real === rootReal || real.startsWith(rootReal + path.sep);
}

/** Splits the request target into its path and query, also for absolute-form targets. */
function splitTarget(url: string): { pathname: string; query: string } {
  let target = url;
  if (!target.startsWith('/')) {
    try {
      const u = new URL(target);
      target = u.pathname + u.search;
    } catch {
      return { pathname: '', query: '' };
    }
  }
  const q = target.indexOf('?');
  return q < 0 ? { pathname: target, query: '' } : { pathname: target.slice(0, q), query: target.slice(q + 1) };
}

function pathOf(req: IncomingMessage): string {
  return splitTarget(req.url ?? '').pathname;
}

export function createFilesRoute(opts: FilesRouteOptions) {
  const { engine, rootReal, log } = opts;

  /** Plans this request's response for a file (pure core); the request facts are read once. */
  function plannerFor(req: IncomingMessage, query: URLSearchParams): Planner {
    const method = req.method === 'HEAD' ? 'HEAD' : 'GET';
    const dupes = duplicatedHeaders(req);
    const h = req.headers;
    const planRequest: PlanRequest = {
      method,
      range: dupes.has('range') ? undefined : headerValue(h.range),
      ifRange: headerValue(h['if-range']),
      ifMatch: headerValue(h['if-match']),
      ifNoneMatch: headerValue(h['if-none-match']),
      ifModifiedSince: headerValue(h['if-modified-since']),
      ifUnmodifiedSince: headerValue(h['if-unmodified-since']),
      duplicated: dupes,
      now: new Date(),
    };
    const disposition = query.get('disposition') === 'inline' ? 'inline' : 'attachment';
    return {
      method,
      plan(real: string, meta: FileMeta): ResponsePlan {
        const name = path.basename(real);
        return planResponse(planRequest, meta, {
          contentType: contentTypeOf(name),
          maxRanges: opts.maxRanges,
          baseHeaders: {
            'Cache-Control': 'public, max-age=0',
            'Content-Disposition': dispositionHeader(name, disposition),
            'X-Content-Type-Options': 'nosniff',
          },
        });
      },
    };
  }

  async function serveFile(
    res: ServerResponse,
    real: string,
    stat: FileMeta,
    planner: Planner,
    outcome: RequestOutcome,
    budget: RequestBudget,
    early?: { readonly plan: ResponsePlan; readonly read: EarlyRead },
  ): Promise<void> {
    const { method } = planner;
    let plan: ResponsePlan = early?.plan ?? planner.plan(real, stat);
    let file: OpenedFile | undefined;
    try {
      if (method === 'GET' && plan.body.some((p) => p.kind === 'file')) {
        file = await engine.open(real, { body: plan.body, budget, ...(early ? { early: early.read } : {}) });
        // The path may have been replaced between stat and open. The fd is what we
        // will read, so its fstat decides the validators and lengths.
        if (file.meta.size !== stat.size || file.meta.mtimeNs !== stat.mtimeNs) {
          plan = planner.plan(real, file.meta);
        }
        // The first read happens before the status line: a disk that fails or
        // hangs right away still gets a clean 503 + Retry-After.
        await prefetchBody(file, plan.body, budget);
      }
      outcome.partial = plan.partial;
      if (res.destroyed) {
        outcome.ended = 'aborted';
        return;
      }
      budget.until = Infinity; // from here on each body read has its own deadline
      res.writeHead(plan.status, plan.headers);
      if (method === 'HEAD' || plan.body.length === 0) {
        res.end();
        outcome.ended = 'complete';
        return;
      }
      if (!file) {
        // Only literal pieces (412/416 bodies): no file needed.
        res.end(plan.body.map((p) => (p.kind === 'bytes' ? p.data : '')).join(''), 'latin1');
        outcome.bytes = plan.bodyLength;
        outcome.ended = 'complete';
        return;
      }
      const sent = await engine.sendBody(file, plan.body, res);
      outcome.bytes = sent.bytes;
      outcome.ended = sent.ok ? 'complete' : sent.reason;
      if (!sent.ok && sent.reason !== 'aborted') {
        log.warn({ file: path.relative(rootReal, real), reason: sent.reason, bytes: sent.bytes }, 'download ended short');
      }
    } finally {
      await file?.close();
    }
  }

  async function handle(req: IncomingMessage, res: ServerResponse, outcome: RequestOutcome, budget: RequestBudget): Promise<void> {
    const headOnly = req.method === 'HEAD';
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      sendShort(res, 405, { Allow: 'GET, HEAD' });
      return;
    }
    const { pathname, query: rawQuery } = splitTarget(req.url ?? '');
    const query = new URLSearchParams(rawQuery);
    let parsed: PathParse;
    let urlBase: string;
    if (pathname === '/files') {
      const p = query.get('path');
      if (p === null) {
        sendShort(res, 301, { Location: '/files/' }, 'Moved Permanently', headOnly);
        return;
      }
      parsed = parseQueryPath(p, opts.showDotfiles);
      urlBase = '/files/' + (parsed.ok ? parsed.segments.map(encodeURIComponent).join('/') : '');
    } else if (pathname.startsWith('/files/')) {
      parsed = parseUrlPath(pathname.slice('/files/'.length), opts.showDotfiles);
      urlBase = pathname;
    } else {
      sendShort(res, 404, {}, undefined, headOnly);
      return;
    }
    if (!parsed.ok) {
      sendShort(res, parsed.status, {}, undefined, headOnly);
      return;
    }
    const candidate = path.join(rootReal, ...parsed.segments);
    const planner = plannerFor(req, query);
    // A file the engine still holds open: plan from what it knew, so the resolve can read the
    // body's first chunk in the same operation (kept only if the file is still the same).
    const guessed = planner.method === 'GET' && !parsed.directory ? engine.guess?.(candidate) : undefined;
    const guessedPlan = guessed ? planner.plan(guessed.real, guessed.stat) : undefined;
    let real: string;
    let st: PathStat;
    let early: EarlyRead | undefined;
    try {
      ({ real, stat: st, early } = await engine.resolve(candidate, { budget, ...(guessedPlan ? { body: guessedPlan.body } : {}) }));
    } catch (err) {
      if (isUnavailable(err)) throw err; // 503, not 404: the volume failed, the file may well be there
      if ((err as { syscall?: unknown } | null)?.syscall !== 'realpath') throw err; // stat of the real path: mapped below
      sendShort(res, statusForFsError(err) === 403 ? 403 : 404, {}, undefined, headOnly);
      return;
    }
    // A symlink may lead out of the root, or onto a dotfile inside it.
    if (!isInside(rootReal, real)) {
      sendShort(res, 404, {}, undefined, headOnly);
      return;
    }
    if (!opts.showDotfiles && path.relative(rootReal, real).split(path.sep).some((s) => s.startsWith('.'))) {
      sendShort(res, 404, {}, undefined, headOnly);
      return;
    }
    if (st.kind === 'directory') {
      if (!parsed.directory) {
        const location = (urlBase.endsWith('/') ? urlBase : urlBase + '/');
        sendShort(res, 301, { Location: location }, 'Moved Permanently', headOnly);
        return;
      }
      await sendListing(req, res, {
        engine,
        rootReal,
        dirReal: real,
        urlPath: urlBase.endsWith('/') ? urlBase : urlBase + '/',
        showDotfiles: opts.showDotfiles,
        budget,
      });
      outcome.ended = 'complete';
      return;
    }
    if (st.kind !== 'file' || parsed.directory) {
      // FIFOs, sockets and devices are never opened; a file asked for as a folder is not there.
      sendShort(res, 404, {}, undefined, headOnly);
      return;
    }
    // An early read is the engine's word that `st` is the file it guessed: the guessed plan stands.
    await serveFile(res, real, st, planner, outcome, budget, early && guessedPlan ? { plan: guessedPlan, read: early } : undefined);
  }

  return function filesRoute(req: IncomingMessage, res: ServerResponse, outcome: RequestOutcome): Promise<void> {
    const budget = opts.headerBudgetMs === undefined ? { until: Infinity } : requestBudget(opts.headerBudgetMs);
    return handle(req, res, outcome, budget).catch((err: unknown) => {
      if (isUnavailable(err)) {
        // A slow, busy, degraded or failing volume: before the headers a 503 the
        // client may retry; after them the response just ends short.
        outcome.ended = errorCode(err) === 'RS_ERR_READ_TIMEOUT' ? 'timeout' : 'io-error';
        log.warn({ file: pathOf(req), code: errorCode(err) }, 'volume unavailable');
        if (res.headersSent) res.destroy();
        else sendShort(res, 503, { 'Retry-After': String(opts.retryAfterSeconds?.() ?? 5) }, undefined, req.method === 'HEAD');
        return;
      }
      const status = statusForFsError(err);
      if (status === 500) log.error({ err }, 'request failed');
      if (res.headersSent) res.destroy();
      else sendShort(res, status, {}, undefined, req.method === 'HEAD');
    });
  };
}
