/**
 * Benchmark peer: the "plain Node" way — http.createServer, fs.stat, and
 * fs.createReadStream piped to the response: default 64 KiB chunks, or
 * HWM=<bytes> for the read stream's highWaterMark (the bench's "1 MiB" peer:
 * Node's cheapest plain stream per byte, issue 7's table).
 * GET /files/<name> from ROOT; a single "bytes=a-b" / "bytes=a-" range gets
 * a 206 so the range scenario can run; nothing else (no validators, no
 * multipart). Used only when bench/naive-server.ts is absent.
 * Prints "listening <port>" when ready.
 */
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { pipeline } from 'node:stream';

const root = process.env['ROOT'];
if (!root) {
  process.stderr.write('plain-stream: set ROOT to the folder to serve\n');
  process.exit(2);
}
const rootDir = path.resolve(root);
const hwm = Number(process.env['HWM'] ?? 64 * 1024);
if (!Number.isInteger(hwm) || hwm < 1) {
  process.stderr.write('plain-stream: HWM must be a positive integer (bytes)\n');
  process.exit(2);
}

const server = http.createServer((req, res) => {
  const url = req.url ?? '/';
  if (url === '/healthz') {
    res.end('ok');
    return;
  }
  if (!url.startsWith('/files/') || (req.method !== 'GET' && req.method !== 'HEAD')) {
    res.statusCode = 404;
    res.end();
    return;
  }
  const name = decodeURIComponent(url.slice('/files/'.length).split('?')[0] ?? '');
  const file = path.resolve(rootDir, name);
  if (!file.startsWith(rootDir + path.sep)) {
    res.statusCode = 404;
    res.end();
    return;
  }
  fs.stat(file, (err, st) => {
    if (err || !st.isFile()) {
      res.statusCode = 404;
      res.end();
      return;
    }
    let start = 0;
    let end = st.size - 1;
    const m = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
    if (m) {
      start = Number(m[1]);
      end = m[2] ? Math.min(Number(m[2]), st.size - 1) : st.size - 1;
      if (start > end) {
        res.writeHead(416, { 'content-range': `bytes */${st.size}` });
        res.end();
        return;
      }
      res.writeHead(206, {
        'content-type': 'application/octet-stream',
        'content-length': end - start + 1,
        'content-range': `bytes ${start}-${end}/${st.size}`,
        'accept-ranges': 'bytes',
      });
    } else {
      res.writeHead(200, {
        'content-type': 'application/octet-stream',
        'content-length': st.size,
        'accept-ranges': 'bytes',
      });
    }
    if (req.method === 'HEAD' || st.size === 0) {
      res.end();
      return;
    }
    pipeline(fs.createReadStream(file, { start, end, highWaterMark: hwm }), res, () => {
      // client went away or read failed: pipeline already destroyed both sides
    });
  });
});
server.listen(Number(process.env['PORT'] ?? '0'), '127.0.0.1', () => {
  const addr = server.address();
  const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
  process.stdout.write(`listening ${port}\n`);
});
const stop = (): void => {
  server.close();
  server.closeAllConnections();
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
