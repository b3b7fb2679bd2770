/**
 * The "before" of the slow-disk demo: a file server written the way most
 * people write one. fs.stat, then fs.createReadStream(path).pipe(res), on the
 * default libuv threadpool (4 threads), with no per-volume isolation, no
 * timeouts and no ranges. A slow volume under ROOT starves every other
 * download of pool threads.
 *
 *   ROOT=/srv/files PORT=8080 node dist/bench/naive-server.js
 *   GET /files/<name>   ->  200 with the file, 404 if missing
 *
 * Prints `listening <port>` once ready (PORT=0 picks a free port).
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';

const root = path.resolve(process.env.ROOT ?? process.cwd());
const port = Number(process.env.PORT ?? 8080);

const server = http.createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://localhost');
  if (req.method === 'GET' && url.pathname === '/ping') {
    res.end('pong\n');
    return;
  }
  if ((req.method !== 'GET' && req.method !== 'HEAD') || !url.pathname.startsWith('/files/')) {
    res.statusCode = 404;
    res.end('not found\n');
    return;
  }
  let name: string;
  try {
    name = decodeURIComponent(url.pathname.slice('/files/'.length));
  } catch {
    res.statusCode = 400;
    res.end('bad path\n');
    return;
  }
  const file = path.join(root, name);
  if (file !== root && !file.startsWith(root + path.sep)) {
    res.statusCode = 403;
    res.end('forbidden\n');
    return;
  }
  fs.stat(file, (err, st) => {
    if (err || !st.isFile()) {
      res.statusCode = 404;
      res.end('not found\n');
      return;
    }
    res.setHeader('Content-Type', 'application/octet-stream');
    res.setHeader('Content-Length', st.size);
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    const stream = fs.createReadStream(file);
    stream.on('error', () => res.destroy());
    res.on('close', () => stream.destroy());
    stream.pipe(res);
  });
});

server.listen(port, '127.0.0.1', () => {
  const addr = server.address();
  const actual = typeof addr === 'object' && addr !== null ? addr.port : port;
  console.log(`listening ${actual}`);
});

for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    server.close();
    server.closeAllConnections();
    process.exit(0);
  });
}
