/**
 * Benchmark peer: Express 5's own express.static (serve-static + send),
 * defaults untouched, serving ROOT at /files on 127.0.0.1:PORT (0 = ephemeral).
 * Prints "listening <port>" when ready.
 */
import express from 'express';

const root = process.env['ROOT'];
if (!root) {
  process.stderr.write('express-static: set ROOT to the folder to serve\n');
  process.exit(2);
}
const app = express();
app.use('/files', express.static(root));
app.get('/healthz', (_req, res) => {
  res.status(200).send('ok');
});
const server = app.listen(Number(process.env['PORT'] ?? '0'), '127.0.0.1', () => {
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
