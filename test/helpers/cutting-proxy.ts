/**
 * A TCP relay in front of the server that can end one response mid-body, the
 * way a server that abandons a download does (FIN, then nothing), and that
 * records the request heads clients send, so a test can see what a browser
 * asked for when it resumed. Bytes pass through untouched.
 */
import net from 'node:net';

export interface SeenRequest {
  /** The request line, e.g. `GET /files/a.bin HTTP/1.1`. */
  readonly line: string;
  /** Header fields by lower-case name. */
  readonly headers: Readonly<Record<string, string>>;
}

export interface CuttingProxy {
  readonly url: string;
  /** Every request head relayed, in arrival order (the clients here send GETs without bodies). */
  readonly requests: SeenRequest[];
  /**
   * Ends the connection that carries the next `afterBytes` response bytes
   * (counted from now) with a FIN to the client, after calling `beforeCut`.
   */
  cutOnce(afterBytes: number, beforeCut?: () => void): void;
  close(): Promise<void>;
}

function parseHead(head: string): SeenRequest {
  const [line = '', ...fields] = head.split('\r\n');
  const headers: Record<string, string> = {};
  for (const f of fields) {
    const colon = f.indexOf(':');
    if (colon > 0) headers[f.slice(0, colon).trim().toLowerCase()] = f.slice(colon + 1).trim();
  }
  return { line, headers };
}

export function startCuttingProxy(targetPort: number, targetHost = '127.0.0.1'): Promise<CuttingProxy> {
  const requests: SeenRequest[] = [];
  const sockets = new Set<net.Socket>();
  let cut: { remaining: number; beforeCut: (() => void) | undefined } | undefined;

  const server = net.createServer((client) => {
    const upstream = net.connect(targetPort, targetHost);
    sockets.add(client).add(upstream);
    let pending = '';
    client.on('data', (d: Buffer) => {
      pending += d.toString('latin1');
      let end: number;
      while ((end = pending.indexOf('\r\n\r\n')) >= 0) {
        requests.push(parseHead(pending.slice(0, end)));
        pending = pending.slice(end + 4);
      }
      upstream.write(d);
    });
    upstream.on('data', (d: Buffer) => {
      if (cut !== undefined) {
        cut.remaining -= d.length;
        if (cut.remaining < 0) {
          const { beforeCut } = cut;
          cut = undefined;
          beforeCut?.();
          upstream.destroy();
          client.end();
          return;
        }
      }
      client.write(d);
    });
    upstream.on('end', () => client.end());
    client.on('end', () => upstream.end());
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
    client.on('close', () => sockets.delete(client));
    upstream.on('close', () => sockets.delete(upstream));
  });

  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      resolve({
        url: `http://127.0.0.1:${port}`,
        requests,
        cutOnce(afterBytes, beforeCut) {
          cut = { remaining: afterBytes, beforeCut };
        },
        close: () =>
          new Promise<void>((done) => {
            for (const s of sockets) s.destroy();
            server.close(() => done());
          }),
      });
    });
  });
}
