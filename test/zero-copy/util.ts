/** Small HTTP/1.1 tools for the zero-copy tests: metrics, raw pipelined exchanges, timed downloads. */
import http from 'node:http';
import net from 'node:net';
import { raw } from '../helpers/http';

/** Sum of every sample of one metric (all label sets) on /metrics. */
export async function metric(baseUrl: string, name: string): Promise<number> {
  const text = (await raw(baseUrl, { path: '/metrics' })).body.toString();
  let sum = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith(name + ' ') || line.startsWith(name + '{')) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

export interface ParsedResponse {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: Buffer;
}

/** Parses consecutive HTTP/1.1 responses (Content-Length framed) from one byte stream; stops at the first incomplete one. */
export function parseResponses(data: Buffer): ParsedResponse[] {
  const out: ParsedResponse[] = [];
  let pos = 0;
  for (;;) {
    const end = data.indexOf('\r\n\r\n', pos, 'latin1');
    if (end < 0) return out;
    const [statusLine = '', ...fields] = data.subarray(pos, end).toString('latin1').split('\r\n');
    const headers: Record<string, string> = {};
    for (const f of fields) {
      const c = f.indexOf(':');
      headers[f.slice(0, c).trim().toLowerCase()] = f.slice(c + 1).trim();
    }
    const length = Number(headers['content-length'] ?? 0);
    if (data.length < end + 4 + length) return out;
    out.push({ status: Number(statusLine.split(' ')[1]), headers, body: data.subarray(end + 4, end + 4 + length) });
    pos = end + 4 + length;
  }
}

/** Writes all requests at once on one connection and collects `count` responses (or whatever came before close). */
export function pipelined(port: number, requests: string[], count: number, timeoutMs = 30_000): Promise<ParsedResponse[]> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = net.connect(port, '127.0.0.1', () => socket.write(requests.join('')));
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error('pipelined exchange timed out'));
    }, timeoutMs);
    const check = (final: boolean): void => {
      const parsed = parseResponses(Buffer.concat(chunks));
      if (parsed.length >= count || final) {
        clearTimeout(timer);
        socket.destroy();
        resolve(parsed);
      }
    };
    socket.on('data', (d: Buffer) => {
      chunks.push(d);
      check(false);
    });
    socket.on('close', () => check(true));
    socket.on('error', () => undefined);
  });
}

export function get(path: string, range?: string): string {
  return `GET ${path} HTTP/1.1\r\nHost: t\r\n${range ? `Range: ${range}\r\n` : ''}\r\n`;
}

/** A GET whose socket is left unread: the server's sends fill the buffers and then block. */
export function unreadDownload(port: number, path: string): Promise<net.Socket> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1', () => {
      s.write(get(path));
      s.once('data', () => {
        s.pause();
        resolve(s);
      });
    });
    s.on('error', () => undefined);
  });
}

/** Downloads with http.get, returning the body and the time taken. */
export function timedGet(url: string, headers: Record<string, string> = {}, agent?: http.Agent): Promise<{ status: number; body: Buffer; ms: number; reused: boolean }> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers, agent: agent ?? false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (d: Buffer) => chunks.push(d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks), ms: performance.now() - t0, reused: req.reusedSocket }));
      res.on('error', reject);
    });
    req.on('error', reject);
  });
}
