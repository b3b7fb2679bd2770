/** A raw HTTP client for tests: sends the path byte-for-byte (no normalising) and buffers the answer. */
import http from 'node:http';

export interface RawResponse {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly rawHeaders: readonly string[];
  readonly body: Buffer;
  /** False when the connection ended before Content-Length bytes arrived. */
  readonly complete: boolean;
}

export interface RawRequest {
  readonly method?: string;
  readonly path: string;
  readonly headers?: Record<string, string | string[]>;
}

export function raw(baseUrl: string, req: RawRequest, timeoutMs = 30_000): Promise<RawResponse> {
  const u = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const r = http.request(
      {
        host: u.hostname,
        port: u.port,
        method: req.method ?? 'GET',
        path: req.path,
        headers: req.headers ?? {},
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (d: Buffer) => chunks.push(d));
        const finish = (complete: boolean): void =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            rawHeaders: res.rawHeaders,
            body: Buffer.concat(chunks),
            complete,
          });
        res.on('end', () => finish(res.complete));
        res.on('aborted', () => finish(false));
        res.on('error', () => finish(false));
      },
    );
    r.setTimeout(timeoutMs, () => r.destroy(new Error(`timeout after ${timeoutMs} ms`)));
    r.on('error', reject);
    r.end();
  });
}

/** Parses a multipart/byteranges body into its parts (an independent parser for tests). */
export function parseMultipart(body: Buffer, contentType: string): { contentRange: string; contentType: string; data: Buffer }[] {
  const m = /boundary=("?)([^";]+)\1/.exec(contentType);
  if (!m || m[2] === undefined) throw new Error(`no boundary in ${contentType}`);
  const boundary = m[2];
  const parts: { contentRange: string; contentType: string; data: Buffer }[] = [];
  const text = body.toString('latin1');
  let pos = 0;
  for (;;) {
    const start = text.indexOf(`--${boundary}`, pos);
    if (start < 0) throw new Error('missing boundary');
    const after = start + 2 + boundary.length;
    if (text.startsWith('--\r\n', after)) {
      if (after + 4 !== text.length) throw new Error('bytes after closing boundary');
      return parts;
    }
    if (!text.startsWith('\r\n', after)) throw new Error('boundary not followed by CRLF');
    const headEnd = text.indexOf('\r\n\r\n', after);
    const head = text.slice(after + 2, headEnd).split('\r\n');
    const fields = new Map(head.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
    const cr = fields.get('content-range') ?? '';
    const rm = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(cr);
    if (!rm) throw new Error(`bad part Content-Range ${cr}`);
    const len = Number(rm[2]) - Number(rm[1]) + 1;
    const dataStart = headEnd + 4;
    const data = body.subarray(dataStart, dataStart + len);
    if (text.slice(dataStart + len, dataStart + len + 2) !== '\r\n') throw new Error('part data not followed by CRLF');
    parts.push({ contentRange: cr, contentType: fields.get('content-type') ?? '', data });
    pos = dataStart + len + 2;
  }
}
