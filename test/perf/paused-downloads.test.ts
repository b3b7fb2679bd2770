/**
 * Downloads paused by their clients (issue 7, "10,000 paused downloads"), on
 * both send paths: what one costs the server once its client stops reading,
 * and that it resumes byte-exact.
 *
 * - Reads: the kernel's unsent queue is capped for young bodies
 *   (SEND_QUEUE_BYTES, app/engines/send-queue.ts), so a paused client is sent
 *   its own receive window plus the cap, a handful of reads, where the kernel's
 *   4 MiB send buffer took ~70 reads of 64 KiB each.
 * - Node's memory: the JS path reads no more than fits under the cap, so no
 *   chunk waits in Node's write queue for a client that never reads.
 * - Descriptors: a zero-copy job whose client has taken nothing for a while
 *   parks, closing its two dup()ed descriptors (a paused download then holds
 *   its socket and its file, not four descriptors).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { addon } from '../../app/native/addon';
import { makeFixtures, pattern, sha256, type Fixtures } from '../helpers/fixtures';
import { samples } from '../helpers/prometheus';
import { openFds, servingPids, sleep } from '../helpers/proc';
import { startTestServer, type TestServer } from '../helpers/server';
import { SUITE_TIMEOUT_MS } from '../helpers/timeouts';

const MiB = 1024 * 1024;

/** Zero-copy sender threads of the processes (named rs-zero-copy, native/src/zero-copy.cc). */
function senderThreads(pids: readonly number[]): number {
  let n = 0;
  for (const pid of pids) {
    let tasks: string[] = [];
    try {
      tasks = fs.readdirSync(`/proc/${pid}/task`);
    } catch {
      continue;
    }
    for (const t of tasks) {
      try {
        if (fs.readFileSync(`/proc/${pid}/task/${t}/comm`, 'utf8').trim() === 'rs-zero-copy') n++;
      } catch {
        // gone
      }
    }
  }
  return n;
}
/** Past RAMP_BYTES (8 MiB), so a resumed download also lifts its socket's cap. */
const SIZE = 24 * MiB;
const PAUSED = 20;

interface Paused {
  readonly socket: net.Socket;
  readonly received: Buffer[];
  /** Resolves with everything the socket received once the server closed it or the body is complete. */
  rest(): Promise<Buffer>;
}

/** Sends a GET on a raw socket, waits for the first bytes, then stops reading. */
function pausedDownload(port: number, file: string): Promise<Paused> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    const received: Buffer[] = [];
    let total = 0;
    let expected = Infinity;
    let finish: ((b: Buffer) => void) | undefined;
    const done = (): void => finish?.(Buffer.concat(received));
    socket.on('data', (d: Buffer) => {
      received.push(d);
      total += d.length;
      if (expected === Infinity) {
        const all = Buffer.concat(received);
        const end = all.indexOf('\r\n\r\n');
        const m = /\r\ncontent-length: *(\d+)/i.exec(all.subarray(0, Math.max(0, end)).toString('latin1'));
        if (end >= 0 && m) expected = end + 4 + Number(m[1]);
      }
      if (total >= expected) done();
    });
    socket.on('close', done);
    socket.once('error', reject);
    socket.write(`GET /files/${file} HTTP/1.1\r\nHost: x\r\n\r\n`);
    socket.once('data', () => {
      socket.pause();
      resolve({
        socket,
        received,
        rest: () =>
          new Promise<Buffer>((r) => {
            finish = r;
            if (total >= expected) done();
            socket.resume();
          }),
      });
    });
  });
}

function bodyOf(response: Buffer): Buffer {
  return response.subarray(response.indexOf('\r\n\r\n') + 4);
}

async function metric(url: string, name: string, labels: Record<string, string> = {}): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  let sum = 0;
  for (const [series, value] of samples(text)) {
    if (!series.startsWith(`${name}{`) && series !== name) continue;
    if (Object.entries(labels).every(([k, v]) => series.includes(`${k}="${v}"`))) sum += value;
  }
  return sum;
}

/** Waits until `read()` stops changing (three equal samples 200 ms apart), at most `ms`. */
async function settled(read: () => Promise<number>, ms: number): Promise<number> {
  let last = await read();
  let same = 0;
  for (const end = Date.now() + ms; Date.now() < end && same < 3; ) {
    await sleep(200);
    const now = await read();
    same = now === last ? same + 1 : 0;
    last = now;
  }
  return last;
}

const PATHS = [
  { name: 'JS path', env: { ZERO_COPY: 'off' } },
  { name: 'zero-copy (auto)', env: { ZERO_COPY: 'auto' } },
] as const;

for (const { name, env } of PATHS) {
  describe(`paused downloads, ${name} (${process.env['RS_TEST_MODE'] ?? 'stream'})`, { timeout: SUITE_TIMEOUT_MS }, () => {
    let fx: Fixtures;
    let srv: TestServer;
    const data = pattern(0, SIZE);
    before(async () => {
      fx = makeFixtures();
      fs.writeFileSync(path.join(fx.root, 'paused.bin'), data);
      srv = await startTestServer({ FILES_ROOT: fx.root, STALL_TIMEOUT_MS: '120000', ...env });
    });
    after(async () => {
      await srv?.stop();
      fx?.cleanup();
    });

    test(`${PAUSED} paused downloads cost a few reads and no descriptor each, and resume byte-exact`, { skip: addon ? false : 'needs the native addon (TCP_NOTSENT_LOWAT)' }, async (t) => {
      const pids = await servingPids(srv.url);
      const health = (await (await fetch(`${srv.url}/healthz`)).json()) as { zeroCopy?: { active?: boolean } };
      const zeroCopy = health.zeroCopy?.active === true;
      // Warm: the file's descriptor is cached, code paths compiled.
      const warm = await pausedDownload(srv.port, 'paused.bin');
      assert.equal(sha256(bodyOf(await warm.rest())), sha256(data));
      warm.socket.destroy();
      await sleep(300);
      const reads0 = await metric(srv.url, 'rangeserve_volume_op_seconds_count', { op: 'read' });
      const fds0 = openFds(pids) - 2 * senderThreads(pids);

      const paused = await Promise.all(Array.from({ length: PAUSED }, () => pausedDownload(srv.port, 'paused.bin')));
      try {
        const reads = (await settled(() => metric(srv.url, 'rangeserve_volume_op_seconds_count', { op: 'read' }), 8000)) - reads0;
        await sleep(800); // a zero-copy job parks after 250 ms without progress
        // Sender threads (started on demand, up to VOLUME_MAX_INFLIGHT per volume) hold an epoll and an eventfd each.
        const fds = openFds(pids) - 2 * senderThreads(pids) - fds0;
        t.diagnostic(`${name}: ${(reads / PAUSED).toFixed(1)} reads and ${(fds / PAUSED).toFixed(2)} descriptors per paused download`);
        // Uncapped, the kernel's 4 MiB send buffer took ~70 reads of 64 KiB per paused download.
        assert.ok(reads / PAUSED <= 16, `${reads} reads for ${PAUSED} paused downloads`);
        // Each paused download holds its socket and (hints on: no open-file cache) its file; a parked
        // zero-copy job holds no dup of either (else 4 each).
        assert.ok(fds <= 2 * PAUSED + 6, `${fds} more descriptors for ${PAUSED} paused downloads`);
        if (zeroCopy) {
          const parked = await metric(srv.url, 'rangeserve_zero_copy_responses_total', { ended: 'parked' });
          assert.ok(parked >= PAUSED, `${parked} parked zero-copy jobs`);
        }
      } finally {
        const bodies = await Promise.all(paused.map((p) => p.rest()));
        for (const p of paused) p.socket.destroy();
        for (const b of bodies) assert.equal(sha256(bodyOf(b)), sha256(data), 'a resumed download is byte-exact');
      }
    });
  });
}
