/**
 * Zero-copy bodies (ZERO_COPY=auto, docs/zero-copy.md): a response whose body
 * is one span of a file, on a plain-TCP socket, is sent by the addon with
 * sendfile(2) from the page cache, on a sender thread of the file's volume.
 * Anything it cannot do (no addon, TLS, multipart, small body, socket gone
 * odd) returns undefined and the caller takes the JS path, silently.
 *
 * The edges (shared/notes/io-findings.md): Node writes the headers and the
 * first chunk and must have flushed them before the first sendfile byte; Node writes nothing while
 * the addon sends (the response is ended only after the last byte); the
 * server's stall timer is re-armed on progress, so a slow but moving client
 * is never cut and a stalled one still is; a client that goes away or a timer
 * that destroys the socket cancels the job, which shuts the connection down.
 */
import fs from 'node:fs';
import type { ServerResponse } from 'node:http';
import type { BodyPiece } from '../core/types';
import type { ChunkReader } from '../engines/chunk-reader';
import { chunkSizeAt } from '../engines/chunk-size';
import { reportSent } from '../engines/gated-file';
import { planHints, type HintOptions, type HintSettings } from '../native/hint-policy';
import type { SendOutcome } from '../engines/types';
import { currentVolumes, type Volume } from '../volumes';
import { singleSpan, verdict } from './eligibility';
import { zeroCopyBytes, zeroCopyResponses } from './metrics';
import { loadZeroCopyNative } from './native';
import { ZeroCopySender, type Ended } from './sender';
import { sendRestInJs } from './js-rest';
import { headerBlock, rearmStallTimer, socketFacts, socketOf, writeAndFlush } from './socket';

export interface ZeroCopySettings {
  readonly zeroCopy: 'auto' | 'off';
  readonly zeroCopyMinBytes: number;
  /** A sender thread inside one sendfile call for longer than this fails its volume's transfers. */
  readonly readTimeoutMs: number;
  /** Sender threads a volume may get (its gate's cap on operations in the kernel). */
  readonly volumeMaxInflight: number;
  /** Page-cache hints (docs/hints.md): a body they would drop behind takes the JS path. */
  readonly hints: HintSettings;
}

interface State {
  readonly sender: ZeroCopySender | undefined;
  readonly minBytes: number;
  readonly reason: string;
  /** The hint options when hints are on (drop-behind decides who yields), else undefined. */
  readonly hints?: HintOptions | undefined;
}

let state: State = { sender: undefined, minBytes: Infinity, reason: 'not configured' };
let started: ZeroCopySender | undefined;

/** Called once per serving process, from serve(). */
export function configureZeroCopy(settings: ZeroCopySettings): void {
  if (settings.zeroCopy === 'off') {
    state = { sender: undefined, minBytes: Infinity, reason: 'disabled by ZERO_COPY=off' };
    return;
  }
  const load = loadZeroCopyNative();
  if (!load.native) {
    state = { sender: undefined, minBytes: Infinity, reason: load.reason };
    return;
  }
  started ??= new ZeroCopySender(load.native, settings.volumeMaxInflight, settings.readTimeoutMs, (key) => {
    // Counted like a read that overran its deadline: enough of them degrade the volume.
    volumeById(key)?.noteError('read', 'timeout');
  });
  state = {
    sender: started,
    minBytes: settings.zeroCopyMinBytes,
    reason: load.reason,
    hints: settings.hints.enabled ? settings.hints.options : undefined,
  };
}

/** For /healthz. */
export function zeroCopyStatus(): { active: boolean; reason: string } {
  return { active: state.sender !== undefined, reason: state.reason };
}

function volumeById(id: string): Volume | undefined {
  return currentVolumes()?.volumes().find((v) => v.id === id);
}

/** The volume an open file lives on: its path from procfs (memory only, never the file's own disk). */
function volumeOfFd(fd: number): Volume | undefined {
  const registry = currentVolumes();
  if (!registry) return undefined;
  try {
    return registry.of(fs.readlinkSync(`/proc/self/fd/${fd}`));
  } catch {
    return undefined;
  }
}

function record(ended: Ended | 'fallback', bytes: number): void {
  zeroCopyResponses.inc({ ended });
  zeroCopyBytes.inc(bytes);
}

/** The file's size, from the headers the route wrote: Content-Range's "/SIZE", or a 200's Content-Length. */
function fileSizeOf(res: ServerResponse): number | undefined {
  const block = headerBlock(res);
  if (block === undefined) return undefined;
  const range = /\r\ncontent-range: *bytes [^/\r]*\/(\d+)\r\n/i.exec(block);
  if (range) return Number(range[1]);
  const length = /\r\ncontent-length: *(\d+)\r\n/i.exec(block);
  return res.statusCode === 200 && length ? Number(length[1]) : undefined;
}

/**
 * Whether the page-cache hints would drop this body behind its reader (a file over
 * HINT_DONTNEED_THRESHOLD). sendfile cannot honour that: the pages it hands to the
 * socket stay referenced until the client has read them, so DONTNEED skips them
 * (measured: 24-28 MiB of a 256 MiB download stayed cached, against at most 4 MiB on
 * the JS path). Such a body takes the JS path; raise the threshold to zero-copy it.
 */
function hintsDropBehind(res: ServerResponse, start: number, length: number): boolean {
  if (!state.hints) return false;
  const size = fileSizeOf(res);
  if (size === undefined || size < start + length) return true; // unknown: keep the hints' promise
  const end = start + length - 1;
  return planHints({ size, start, end, wholeOrOpenEnded: end === size - 1 }, state.hints).dropBehind;
}

/** How a read before the sendfile part failed, in SendOutcome's words. */
function readFailure(err: unknown, res: ServerResponse): 'aborted' | 'io-error' | 'timeout' {
  const code = (err as { code?: unknown } | null)?.code;
  if (code === 'RS_ERR_READ_TIMEOUT') return 'timeout';
  if (res.destroyed || code === 'RS_ERR_CANCELLED') return 'aborted';
  return 'io-error';
}

/**
 * Sends the body with sendfile when it can, else resolves undefined having
 * written nothing (the caller then takes the JS path). The caller has set the
 * status and headers; the file fd stays the caller's (the addon sends from a dup).
 *
 * The first chunk goes through Node, read with the engine's `reader`: the
 * files route reads it before the status line (a disk that fails at once gets
 * a clean 503), so it is in memory already, and sending it keeps "a disk that
 * fails after the headers still delivers what was read" true on this path.
 * sendfile takes the rest.
 */
export async function tryZeroCopy(
  body: readonly BodyPiece[],
  fd: number,
  res: ServerResponse,
  reader: ChunkReader,
  chunkBytes: number,
): Promise<SendOutcome | undefined> {
  const sender = state.sender;
  if (!sender) return undefined;
  const span = singleSpan(body, state.minBytes);
  if (!span.ok) return undefined;
  // Exactly the chunk the route prefetched before the status line (chunk-size.ts), so it is not read twice.
  const headLength = Math.min(chunkSizeAt(0, chunkBytes), span.length);
  if (span.length - headLength < state.minBytes) return undefined;
  if (hintsDropBehind(res, span.start, span.length)) return undefined;
  // A pipelined response gets its socket once the responses ahead of it are done.
  const socket = await socketOf(res);
  if (!socket) return undefined;
  const volume = volumeOfFd(fd);
  const key = volume?.id ?? 'root';
  // A sender stuck on a hung disk: the JS path's gate and deadline answer instead.
  if (sender.isStuck(key)) return undefined;
  if (!verdict(body, state.minBytes, socketFacts(res, socket)).ok) return undefined;

  const gone = new AbortController();
  const onGone = (): void => gone.abort();
  res.once('close', onGone);
  let head: Buffer;
  try {
    head = await reader.read(fd, span.start, headLength, gone.signal);
  } catch (err) {
    if (!res.destroyed) res.destroy();
    return { ok: false, bytes: 0, reason: readFailure(err, res) };
  } finally {
    res.off('close', onGone);
  }
  if (head.length === 0) {
    // The file shrank under us: it ends before the planned span starts.
    res.destroy();
    return { ok: false, bytes: 0, reason: 'short-read' };
  }
  const sentByNode = head.length;
  if (!(await writeAndFlush(res, socket, head))) return { ok: false, bytes: sentByNode, reason: 'aborted' };
  const start = span.start + sentByNode;
  const length = span.length - sentByNode;
  const end = start + length - 1;
  const restInJs = (): Promise<SendOutcome> => sendRestInJs(start, end, reader, fd, chunkBytes, res, sentByNode);
  const v = verdict(body, state.minBytes, socketFacts(res, socket));
  // Cannot fail with Node's http server (the socket is ours once we wrote to it); finish in JS if it ever does.
  if (!v.ok) return restInJs();

  return new Promise<SendOutcome>((resolve) => {
    let settled = false;
    const finish = (outcome: SendOutcome, sent: number): void => {
      if (settled) return;
      settled = true;
      res.off('close', onClose);
      record(outcome.ok ? 'complete' : outcome.reason, sent);
      resolve(outcome);
    };
    let id = 0;
    // The file's page-cache hints follow the bytes sent (DONTNEED behind them, WILLNEED ahead), as they
    // follow the reads of the JS path (docs/hints.md); the engine's reader takes the reports.
    let reported = 0;
    const progressed = (bytes: number): void => {
      if (bytes > reported) reportSent(reader, start + reported, bytes - reported);
      reported = Math.max(reported, bytes);
    };
    const onClose = (): void => {
      const sent = sender.cancel(id);
      progressed(sent);
      finish({ ok: false, bytes: sentByNode + sent, reason: 'aborted' }, sent);
    };
    try {
      id = sender.send(key, v.sockFd, fd, start, length, chunkBytes, {
        onProgress: (bytes) => {
          rearmStallTimer(socket);
          progressed(bytes);
        },
        onDone: (bytes, ended) => {
          progressed(bytes);
          if (ended === 'complete') {
            // Every byte is in the kernel; ending the response lets Node reuse or close the connection.
            res.end();
            finish({ ok: true, bytes: sentByNode + bytes }, bytes);
            return;
          }
          if (ended === 'unsupported' && bytes === 0) {
            // This file system cannot splice (some FUSE mounts): the JS path sends the rest.
            settled = true;
            res.off('close', onClose);
            record('fallback', 0);
            resolve(restInJs());
            return;
          }
          if (ended === 'io-error') volume?.noteError('read', 'EIO');
          res.destroy();
          finish({ ok: false, bytes: sentByNode + bytes, reason: ended === 'unsupported' ? 'io-error' : ended }, bytes);
        },
      });
    } catch {
      // The addon could not take it (no descriptor left for a dup): the JS path sends the rest.
      resolve(restInJs());
      return;
    }
    res.once('close', onClose);
  });
}
