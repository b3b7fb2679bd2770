/**
 * CORS for browser fetch(): files are public to whoever can reach the server,
 * so any origin is allowed by default, without credentials. Page scripts can
 * read only the safelisted response headers unless we expose the range ones
 * (mozilla/pdf.js#8566).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

export const EXPOSED_HEADERS = 'Content-Range, Accept-Ranges, ETag, Content-Disposition, Content-Length, Last-Modified';
const ALLOWED_METHODS = 'GET, HEAD';
const ALLOWED_HEADERS = 'Range, If-Range, If-Match, If-None-Match, If-Modified-Since, If-Unmodified-Since';

export function corsMiddleware(origins: '*' | readonly string[]) {
  const allowAny = origins === '*';
  const allowed = new Set(allowAny ? [] : origins);
  // Plain node:http types: Express mounts it, and the fast files route (app.ts) calls it directly.
  return function cors(req: IncomingMessage, res: ServerResponse, next: () => void): void {
    const origin = req.headers.origin;
    let allowOrigin: string | undefined;
    if (allowAny) {
      allowOrigin = '*';
    } else {
      // The answer depends on Origin, so caches must key on it.
      res.setHeader('Vary', 'Origin');
      if (origin !== undefined && allowed.has(origin)) allowOrigin = origin;
    }
    if (allowOrigin !== undefined && origin !== undefined) {
      res.setHeader('Access-Control-Allow-Origin', allowOrigin);
      res.setHeader('Access-Control-Expose-Headers', EXPOSED_HEADERS);
    }
    const preflight = req.method === 'OPTIONS' && req.headers['access-control-request-method'] !== undefined;
    if (!preflight) return next();
    if (allowOrigin !== undefined) {
      res.setHeader('Access-Control-Allow-Methods', ALLOWED_METHODS);
      res.setHeader('Access-Control-Allow-Headers', ALLOWED_HEADERS);
      res.setHeader('Access-Control-Max-Age', '600');
    }
    res.setHeader('Content-Length', '0');
    res.statusCode = 204;
    res.end();
  };
}
