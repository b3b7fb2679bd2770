/**
 * TLS is never zero-copied: one app, served in this process over https and
 * over plain http at once. The https download must be byte-exact and leave the
 * zero-copy counters alone (sendfile would put plaintext into the TLS stream);
 * the same request over http goes through sendfile, so the path was live.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import pino from 'pino';
import { loadConfig } from '../../app/config';
import { createEngine } from '../../app/engines';
import { chunkSizeAt } from '../../app/engines/chunk-size';
import type { Engine } from '../../app/engines/types';
import { createApp } from '../../app/http/app';
import { metricsRegistry } from '../../app/metrics';
import { configureZeroCopy, zeroCopyStatus } from '../../app/zero-copy';
import { makeFixtures, pattern, sha256, type Fixtures } from '../helpers/fixtures';
import { SUITE_TIMEOUT_MS } from '../helpers/timeouts';

const SIZE = 16 * 1024 * 1024;
let fx: Fixtures;
let certDir: string;
let data: Buffer;

async function zeroCopyBytes(): Promise<number> {
  const m = (await metricsRegistry.getMetricsAsJSON()).find((x) => x.name === 'rangeserve_zero_copy_bytes_total');
  return m?.values.reduce((sum, v) => sum + v.value, 0) ?? 0;
}

function download(get: typeof https.get, url: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    get(url, { agent: false, rejectUnauthorized: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (d: Buffer) => chunks.push(d));
      res.on('end', () => resolve(Buffer.concat(chunks)));
      res.on('error', reject);
    }).on('error', reject);
  });
}

before(() => {
  fx = makeFixtures();
  data = pattern(3, SIZE);
  fs.writeFileSync(path.join(fx.root, 'tls.bin'), data);
  certDir = fs.mkdtempSync(path.join(os.tmpdir(), 'rangeserve-tls-'));
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=localhost',
    '-keyout', path.join(certDir, 'key.pem'), '-out', path.join(certDir, 'cert.pem')], { stdio: 'ignore' });
});
after(() => {
  fx?.cleanup();
  fs.rmSync(certDir, { recursive: true, force: true });
});

for (const mode of ['stream', 'worker'] as const) {
  describe(`TLS never takes the zero-copy path (${mode} engine)`, { timeout: SUITE_TIMEOUT_MS }, () => {
    let engine: Engine;
    let tlsServer: https.Server;
    let plainServer: http.Server;
    before(async () => {
      const config = loadConfig({ FILES_ROOT: fx.root, MODE: mode, ZERO_COPY: 'auto' });
      engine = createEngine(config);
      configureZeroCopy(config);
      const app = createApp({ config, engine, rootReal: fs.realpathSync(fx.root), log: pino({ level: 'silent' }), version: 'test' });
      tlsServer = https.createServer({ key: fs.readFileSync(path.join(certDir, 'key.pem')), cert: fs.readFileSync(path.join(certDir, 'cert.pem')) }, app);
      plainServer = http.createServer(app);
      await new Promise<void>((r) => tlsServer.listen(0, '127.0.0.1', r));
      await new Promise<void>((r) => plainServer.listen(0, '127.0.0.1', r));
    });
    after(async () => {
      await new Promise((r) => tlsServer.close(r));
      await new Promise((r) => plainServer.close(r));
      await engine.close();
    });

    test('https is byte-exact through the JS path; http on the same app is zero-copied', async () => {
      assert.equal(zeroCopyStatus().active, true, zeroCopyStatus().reason);
      const port = (s: http.Server | https.Server): number => (s.address() as AddressInfo).port;

      const before = await zeroCopyBytes();
      const overTls = await download(https.get, `https://127.0.0.1:${port(tlsServer)}/files/tls.bin`);
      assert.equal(sha256(overTls), sha256(data));
      assert.equal(await zeroCopyBytes(), before, 'no byte of the TLS response went through sendfile');

      const plain = await download(http.get as typeof https.get, `http://127.0.0.1:${port(plainServer)}/files/tls.bin`);
      assert.equal(sha256(plain), sha256(data));
      // All but the first chunk (read before the status line and sent by Node).
      // The counter moves when the sender thread's completion reaches JS, which may be just after
      // the client has read the last byte.
      const want = before + SIZE - chunkSizeAt(0, 1024 * 1024);
      for (let i = 0; i < 100 && (await zeroCopyBytes()) < want; i++) await new Promise((r) => setTimeout(r, 20));
      assert.equal(await zeroCopyBytes(), want, 'the plain-TCP response did');
    });
  });
}
