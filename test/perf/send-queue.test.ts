/**
 * The read sizes of the body pump (body-pump.ts nextRead, chunk-size.ts) and
 * the socket queue they follow (send-queue.ts): rules as tables, and the queue
 * against a real paused client.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { nextRead } from '../../app/engines/body-pump';
import { chunkSizeAt, PRESSURE_CHUNK_BYTES, RAMP_BYTES, SMALL_CHUNK_BYTES } from '../../app/engines/chunk-size';
import { configureSendQueue, DEFAULT_SEND_QUEUE_BYTES, sendQueueOf, STREAMING_SEND_QUEUE_BYTES, type SendQueue } from '../../app/engines/send-queue';
import { tcpMemoryPressure } from '../../app/engines/tcp-pressure';
import { addon } from '../../app/native/addon';

const KiB = 1024;
const MiB = 1024 * KiB;

describe('read sizes', () => {
  const rows: { name: string; produced: number; rest: number; room: number | undefined; want: number }[] = [
    { name: 'the first chunk is the ramp\'s (the prefetched one), whatever the room', produced: 0, rest: 100 * MiB, room: 5, want: SMALL_CHUNK_BYTES },
    { name: 'unknown room: the ramp', produced: 64 * KiB, rest: 100 * MiB, room: undefined, want: SMALL_CHUNK_BYTES },
    { name: 'young body: the ramp caps a roomy socket', produced: 64 * KiB, rest: 100 * MiB, room: 256 * KiB, want: SMALL_CHUNK_BYTES },
    { name: 'young body: no more than the room', produced: 64 * KiB, rest: 100 * MiB, room: 20 * KiB, want: 20 * KiB },
    { name: 'streaming: a full chunk when it fits', produced: RAMP_BYTES, rest: 100 * MiB, room: 4 * MiB, want: MiB },
    { name: 'streaming: the room when less', produced: RAMP_BYTES, rest: 100 * MiB, room: 300 * KiB, want: 300 * KiB },
    { name: 'the end of the span', produced: RAMP_BYTES, rest: 10, room: 4 * MiB, want: 10 },
  ];
  for (const r of rows) {
    test(r.name, () => assert.equal(nextRead(r.produced, r.rest, MiB, r.room, () => false), r.want));
  }

  test('a young body reads PRESSURE_CHUNK_BYTES while the kernel is short of TCP memory; a streaming one is unaffected', () => {
    assert.equal(chunkSizeAt(0, MiB, () => true), PRESSURE_CHUNK_BYTES);
    assert.equal(chunkSizeAt(0, MiB, () => false), SMALL_CHUNK_BYTES);
    assert.equal(chunkSizeAt(RAMP_BYTES, MiB, () => true), MiB);
    assert.equal(chunkSizeAt(0, 2048, () => false), 2048, 'never more than READ_CHUNK_BYTES');
  });
});

describe('a socket\'s send queue', { skip: addon ? false : 'needs the native addon' }, () => {
  const LIMIT = 64 * KiB;
  let server: http.Server;
  let port = 0;
  let onRequest: (res: http.ServerResponse) => void = () => undefined;
  before(async () => {
    configureSendQueue(LIMIT);
    server = http.createServer((_req, res) => onRequest(res));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as net.AddressInfo).port;
  });
  after(async () => {
    configureSendQueue(DEFAULT_SEND_QUEUE_BYTES);
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  /** A client that sends a GET, reads the first bytes, then pauses; resume() reads everything that comes. */
  function pausedClient(): Promise<{ socket: net.Socket; received: () => number; resume: () => void }> {
    return new Promise((resolve) => {
      const socket = net.connect(port, '127.0.0.1');
      let received = 0;
      socket.on('data', (d: Buffer) => (received += d.length));
      socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
      socket.once('data', () => {
        socket.pause();
        resolve({ socket, received: () => received, resume: () => socket.resume() });
      });
    });
  }

  test('writes that follow the room fill the queue to its cap and no further; whenSent waits for the client, holding nothing', async (t) => {
    if (tcpMemoryPressure()) {
      // The kernel then refuses writes below every socket limit: the cap cannot be observed.
      t.skip('the kernel is short of TCP memory (another test or bench holds thousands of sockets)');
      return;
    }
    let queue: SendQueue | undefined;
    let response: http.ServerResponse | undefined;
    const filled = new Promise<void>((resolve) => {
      onRequest = (res) => {
        response = res;
        res.writeHead(200, { 'content-length': String(64 * MiB) });
        res.write(Buffer.alloc(1024));
        queue = sendQueueOf(res);
        // Until the client's receive window is full too: no room for 5 looks in a row.
        let full = 0;
        const pump = (): void => {
          const room = queue?.room();
          if (room === undefined) return resolve();
          if (room < 4 * KiB) {
            if (++full >= 5) return resolve();
          } else {
            full = 0;
            res.write(Buffer.alloc(room));
          }
          setTimeout(pump, 10);
        };
        setTimeout(pump, 5);
      };
    });
    const client = await pausedClient();
    await filled;
    assert.ok(queue && response, 'the socket was capped');
    assert.equal(queue.limit, LIMIT);
    // The client's receive window may still take a little: wait until the queue stands still.
    let unsent = queue.unsent();
    for (let i = 0; i < 20; i++) {
      await new Promise((r) => setTimeout(r, 50));
      const now = queue.unsent();
      if (now === unsent) break;
      unsent = now;
    }
    assert.ok(unsent !== undefined && unsent >= LIMIT - 4 * KiB && unsent <= LIMIT + 64 * KiB, `unsent ${unsent}`);
    assert.equal(response.socket?.writableLength, 0, 'nothing waits in Node: the kernel took every write');
    let resolved = false;
    const waited = queue.whenSent(unsent, response).then((ok) => {
      resolved = true;
      return ok;
    });
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(resolved, false, 'a paused client: still waiting');
    client.resume();
    assert.equal(await waited, true, 'the client read: bytes left the queue');
    assert.ok(client.received() > LIMIT);
    queue.stream();
    assert.equal(queue.limit, STREAMING_SEND_QUEUE_BYTES, 'a streaming client lifts the cap');
    // A response that closes ends the wait with false.
    const pending = queue.whenSent(0, response);
    client.socket.destroy();
    response.destroy();
    assert.equal(await pending, false);
  });
});
