/** The zero-copy rules, table-driven: which bodies and sockets may take sendfile, and how a job's errno ends it. */
import assert from 'node:assert/strict';
import os from 'node:os';
import { describe, test } from 'node:test';
import type { BodyPiece } from '../../app/core/types';
import { verdict, type SocketFacts } from '../../app/zero-copy/eligibility';
import { endedOf } from '../../app/zero-copy/sender';

const plain: SocketFacts = { encrypted: false, fd: 21, ownedByResponse: true };
const span = (start: number, end: number): BodyPiece => ({ kind: 'file', start, end });
const MIN = 65536;

describe('zero-copy eligibility', () => {
  const rows: { name: string; body: BodyPiece[]; socket: SocketFacts; want: string }[] = [
    { name: 'a whole large file on plain TCP', body: [span(0, 1_048_575)], socket: plain, want: 'ok 0+1048576 fd 21' },
    { name: 'a range deep in the file', body: [span(4_000_000, 4_999_999)], socket: plain, want: 'ok 4000000+1000000 fd 21' },
    { name: 'exactly the threshold', body: [span(10, 10 + MIN - 1)], socket: plain, want: `ok 10+${MIN} fd 21` },
    { name: 'one byte under the threshold', body: [span(0, MIN - 2)], socket: plain, want: 'too-small' },
    { name: 'multipart framing around spans', body: [{ kind: 'bytes', data: '--b\r\n' }, span(0, 999_999)], socket: plain, want: 'multipart' },
    { name: 'two spans', body: [span(0, 999_999), span(2_000_000, 2_999_999)], socket: plain, want: 'multipart' },
    { name: 'literal bytes only', body: [{ kind: 'bytes', data: 'x' }], socket: plain, want: 'multipart' },
    { name: 'TLS, even though its handle has a TCP fd', body: [span(0, 999_999)], socket: { ...plain, encrypted: true }, want: 'tls' },
    { name: 'no kernel fd (a JS stream socket)', body: [span(0, 999_999)], socket: { ...plain, fd: -1 }, want: 'no-fd' },
    { name: 'a pipelined response whose socket is still busy', body: [span(0, 999_999)], socket: { ...plain, ownedByResponse: false }, want: 'not-owner' },
  ];
  for (const row of rows) {
    test(row.name, () => {
      const v = verdict(row.body, MIN, row.socket);
      assert.equal(v.ok ? `ok ${v.start}+${v.length} fd ${v.sockFd}` : v.reason, row.want);
    });
  }
});

describe('how a zero-copy job ended, from its errno', () => {
  const E = os.constants.errno;
  const rows: [string, number, string][] = [
    ['every byte sent', 0, 'complete'],
    ['the file ended early (truncated)', E.ENODATA, 'short-read'],
    ['the client went away', E.EPIPE, 'aborted'],
    ['the client reset', E.ECONNRESET, 'aborted'],
    ['cancelled by the server', E.ECANCELED, 'aborted'],
    ['the disk failed', E.EIO, 'io-error'],
    ['the file system cannot splice', E.EINVAL, 'unsupported'],
  ];
  for (const [name, errno, want] of rows) test(name, () => assert.equal(endedOf(errno), want));
});
