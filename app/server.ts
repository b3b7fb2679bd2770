/**
 * The HTTP server around the app: timeouts that close stalled connections,
 * and a graceful stop that lets in-flight downloads finish within a grace
 * period and then ends the rest with a short body.
 */
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import type { RequestListener } from 'node:http';

/** How long a stopping server still serves connections it accepted just before it stopped accepting. */
const ACCEPT_LINGER_MS = 250;

export interface ServerOptions {
  readonly host: string;
  readonly port: number;
  /** A connection that makes no progress (no bytes read or written) for this long is closed. */
  readonly stallTimeoutMs: number;
}

export interface RunningServer {
  readonly server: http.Server;
  readonly port: number;
  /** Responses still being written. */
  inFlight(): number;
  /**
   * Stops accepting, waits up to graceMs for in-flight responses, then
   * destroys what remains (clients see a short body). Resolves with the number
   * of responses that had to be cut.
   */
  stop(graceMs: number): Promise<number>;
}

export function startServer(listener: RequestListener, opts: ServerOptions): Promise<RunningServer> {
  const server = http.createServer(listener);
  // Socket inactivity, not total time: a slow but moving download is never cut
  // (expressjs/express#3392), a paused or dead one is.
  server.timeout = opts.stallTimeoutMs;
  server.keepAliveTimeout = 5_000;
  server.headersTimeout = 20_000;
  server.requestTimeout = 30_000;

  // A request the parser rejects (headers over the limit, malformed) gets its
  // status like Node's default handler, but the socket is half-closed and what
  // the client is still sending is drained before closing: destroying a socket
  // with unread input makes the kernel send RST, and the client may then see
  // ECONNRESET instead of the 431 (checklist row 27b).
  const rejected = new WeakSet<Duplex>();
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    if (rejected.has(socket)) return;
    rejected.add(socket);
    const s = socket as Duplex & { bytesWritten?: number };
    if (err.code === 'ECONNRESET' || !s.writable || (s.bytesWritten ?? 0) > 0) {
      s.destroy();
      return;
    }
    const status =
      err.code === 'HPE_HEADER_OVERFLOW'
        ? '431 Request Header Fields Too Large'
        : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
          ? '408 Request Timeout'
          : '400 Bad Request';
    s.on('error', () => undefined);
    s.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    s.resume();
    setTimeout(() => s.destroy(), 2_000).unref();
  });

  const active = new Set<http.ServerResponse>();
  server.on('request', (_req: http.IncomingMessage, res: http.ServerResponse) => {
    active.add(res);
    res.on('close', () => active.delete(res));
  });

  let stopping: Promise<number> | undefined;
  function stop(graceMs: number): Promise<number> {
    stopping ??= new Promise<number>((resolve) => {
      // Stop accepting, but not with http's close(), which also closes idle
      // connections at once: a connection accepted a moment ago whose request
      // has not been parsed yet counts as idle, and closing it resets a client
      // that did nothing wrong (seen during cluster rolling restarts). Idle
      // connections are closed after a short linger instead.
      net.Server.prototype.close.call(server);
      const lingerUntil = Date.now() + Math.min(ACCEPT_LINGER_MS, graceMs);
      // Keep-alive sockets that finish their response must not take a new request.
      server.on('request', (_req: http.IncomingMessage, res: http.ServerResponse) => res.shouldKeepAlive = false);
      const deadline = Date.now() + graceMs;
      const tick = (): void => {
        const lingering = Date.now() < lingerUntil;
        if (!lingering) server.closeIdleConnections();
        if (active.size === 0 && !lingering) return resolve(0);
        if (Date.now() >= deadline) {
          const cut = active.size;
          for (const res of active) res.destroy();
          server.closeAllConnections();
          return resolve(cut);
        }
        setTimeout(tick, Math.min(100, Math.max(1, deadline - Date.now()))).unref();
      };
      tick();
    });
    return stopping;
  }

  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      const port = (server.address() as AddressInfo).port;
      resolve({ server, port, inFlight: () => active.size, stop });
    });
  });
}
