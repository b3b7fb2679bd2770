/**
 * The HTTP server around the app: timeouts that close stalled connections,
 * and a graceful stop that lets in-flight downloads finish within a grace
 * period and then ends the rest with a short body.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { RequestListener } from 'node:http';

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

  const active = new Set<http.ServerResponse>();
  server.on('request', (_req: http.IncomingMessage, res: http.ServerResponse) => {
    active.add(res);
    res.on('close', () => active.delete(res));
  });

  let stopping: Promise<number> | undefined;
  function stop(graceMs: number): Promise<number> {
    stopping ??= new Promise<number>((resolve) => {
      server.close();
      server.closeIdleConnections();
      // Keep-alive sockets that finish their response must not take a new request.
      server.on('request', (_req: http.IncomingMessage, res: http.ServerResponse) => res.shouldKeepAlive = false);
      const deadline = Date.now() + graceMs;
      const tick = (): void => {
        server.closeIdleConnections();
        if (active.size === 0) return resolve(0);
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
