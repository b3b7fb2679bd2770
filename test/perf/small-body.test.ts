/**
 * The lean small-body path (app/engines/small-body.ts) ends like the stream
 * path: a complete body in one write, or — when the file turns out shorter
 * than planned — the bytes that were read, then a closed connection, never
 * padding; a client gone before the send counts as aborted.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { BodyPiece } from '../../app/core/types';
import type { ChunkReader } from '../../app/engines/chunk-reader';
import { sendBody } from '../../app/engines/send-body';
import { bodyBytes, isSmallBody } from '../../app/engines/small-body';
import type { SendOutcome } from '../../app/engines/types';
import { raw } from '../helpers/http';

const FILE = Buffer.from('0123456789abcdefghijklmnopqrstuvwxyz');

/** Reads FILE, but as if it had been truncated to `size` bytes. */
const readerOf = (size: number): ChunkReader => ({
  read: async (_fd, position, length) => FILE.subarray(Math.min(position, size), Math.min(position + length, size)),
});

describe('small-body path', () => {
  test('isSmallBody counts file spans and multipart framing; 0 turns it off', () => {
    const body: BodyPiece[] = [
      { kind: 'bytes', data: '--b\r\n\r\n' },
      { kind: 'file', start: 0, end: 9 },
    ];
    assert.equal(bodyBytes(body), 17);
    assert.equal(isSmallBody(body, 17), true);
    assert.equal(isSmallBody(body, 16), false);
    assert.equal(isSmallBody(body, 0), false);
  });

  let server: http.Server;
  let url: string;
  let plan: { body: BodyPiece[]; size: number; length: number };
  let outcome: Promise<SendOutcome>;
  before(async () => {
    server = http.createServer((_req, res) => {
      res.writeHead(206, { 'Content-Length': String(plan.length), 'Content-Type': 'application/octet-stream' });
      outcome = sendBody(plan.body, readerOf(plan.size), 3, 1 << 20, res, { smallBodyBytes: 65536 });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((r) => server.close(() => r())));

  const rows: { name: string; body: BodyPiece[]; size: number; want: string; complete: boolean; result: Partial<SendOutcome> }[] = [
    {
      name: 'two spans and framing, whole file there: one complete body',
      body: [{ kind: 'bytes', data: '[' }, { kind: 'file', start: 2, end: 5 }, { kind: 'bytes', data: '|' }, { kind: 'file', start: 30, end: 35 }, { kind: 'bytes', data: ']' }],
      size: FILE.length,
      want: '[2345|uvwxyz]',
      complete: true,
      result: { ok: true, bytes: 13 },
    },
    {
      name: 'the second span is past the end (file truncated): the bytes read so far, then a cut',
      body: [{ kind: 'file', start: 0, end: 3 }, { kind: 'bytes', data: '|' }, { kind: 'file', start: 20, end: 29 }],
      size: 24,
      want: '0123|klmn',
      complete: false,
      result: { ok: false, reason: 'short-read', bytes: 9 },
    },
  ];
  for (const row of rows) {
    test(row.name, async () => {
      plan = { body: row.body, size: row.size, length: bodyBytes(row.body) };
      const r = await raw(url, { path: '/' });
      assert.equal(r.status, 206);
      assert.equal(r.body.toString('latin1'), row.want);
      assert.equal(r.complete, row.complete);
      const o = await outcome;
      for (const [k, v] of Object.entries(row.result)) assert.equal((o as Record<string, unknown>)[k], v, k);
    });
  }

  test('nothing readable at all: the connection closes before any byte, never padding', async () => {
    plan = { body: [{ kind: 'file', start: 0, end: 9 }], size: 0, length: 10 };
    await assert.rejects(raw(url, { path: '/' }), /socket hang up|ECONNRESET/);
    const o = await outcome;
    assert.equal(o.ok, false);
    assert.equal(o.bytes, 0);
  });
});
