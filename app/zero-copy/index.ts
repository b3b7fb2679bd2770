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
import { chunkSizeAt, RAMP_BYTES } from '../engines/chunk-size';
import { reportSent } from '../engines/gated-file';
import { planHints, type HintOptions, type HintSettings } from '../native/hint-policy';
import type { SendOutcome } from '../engines/types';
import { currentVolumes, type Volume } from '../volumes';
import { singleSpan, verdict } from './eligibility';
import { zeroCopyBytes, zeroCopyResponses } from './metrics';
import { loadZeroCopyNative } from './native';
import { ZeroCopySender, type Ended } from './sender';
import { sendQueueOf } from '../engines/send-queue';
import type { Socket } from 'node:net';
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

/**
 * A job whose client has taken nothing for this long lets go of its two dup()ed descriptors
 * (a paused download would otherwise hold three: 10,000 of them exceed a 20,000 fd limit).
 * Short enough to free them while a crowd of paused clients arrives; a client that merely
 * reads slowly drains its socket far more often than this.
 */
const PARK_MS = 250;

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
  }, PARK_MS);
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

/**
 * A recently slow volume (an operation took a quarter of READ_TIMEOUT_MS or longer in the last
 * 30 s, Volume.recentlySlow) sends through the JS path. sendfile reads through the page cache,
 * so the kernel adds readahead requests of its own that the volume's gate never sees. On a
 * slow device they queue in front of the gated operations, and a volume that was only slow
 * went degraded (test/isolation/slow-volume.test.ts, docs/zero-copy.md). The JS path's reads
 * are the gate's, one bounded read at a time.
 */
function slowVolume(volume: Volume | undefined): boolean {
  return volume !== undefined && volume.recentlySlow();
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
  // 'parked' counts jobs that let go of a paused client (the response goes on), the rest count responses.
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
  // A young body's cap on the kernel's unsent queue (SEND_QUEUE_BYTES), lifted once the client reads.
  const queue = sendQueueOf(res);
  const volume = volumeOfFd(fd);
  const key = volume?.id ?? 'root';
  // A sender stuck on a hung disk: the JS path's gate and deadline answer instead.
  if (sender.isStuck(key)) return undefined;
  if (slowVolume(volume)) return undefined;
  if (!verdict(body, state.minBytes, socketFacts(res, socket)).ok) return undefined;

  // In a helper, so the chunk is not kept alive by this function's frame for the whole download.
  const first = await sendThroughNode(res, socket, reader, fd, span.start, headLength, false);
  if (!first.ok) return first;
  const sentByNode = first.bytes;
  const start = span.start + sentByNode;
  const end = span.start + span.length - 1;
  // The first chunk's own read may have just shown the volume slow (a crowd arriving at once).
  if (slowVolume(volume)) return sendRestInJs(start, end, reader, fd, chunkBytes, res, sentByNode);
  // The file's page-cache hints follow the bytes sent (DONTNEED behind them, WILLNEED ahead), as they
  // follow the reads of the JS path (docs/hints.md); the engine's reader takes the reports.
  let reported = start;
  const progressed = (upTo: number): void => {
    if (upTo > reported) reportSent(reader, reported, upTo - reported);
    reported = Math.max(reported, upTo);
  };
  let position = start;
  for (;;) {
    const restInJs = (): Promise<SendOutcome> => sendRestInJs(position, end, reader, fd, chunkBytes, res, position - span.start);
    const v = verdict(body, state.minBytes, socketFacts(res, socket));
    // Cannot fail with Node's http server (the socket is ours once we wrote to it); finish in JS if it ever does.
    if (!v.ok) return restInJs();
    const job = await sendfileJob(sender, key, v.sockFd, fd, position, end - position + 1, chunkBytes, res, socket, (bytes) => {
      progressed(position + bytes);
      if (position + bytes - span.start >= RAMP_BYTES) queue?.stream();
    });
    if (job === 'refused') return restInJs();
    const sent = position - span.start + job.bytes;
    progressed(position + job.bytes);
    if (job.ended === 'complete') {
      // Every byte is in the kernel; ending the response lets Node reuse or close the connection.
      res.end();
      record('complete', job.bytes);
      return { ok: true, bytes: sent };
    }
    if (job.ended === 'parked') {
      // The client stopped reading: the job let go of its descriptors. Wait for the client to
      // read again holding nothing: until bytes leave the socket's queue (send-queue.ts polls
      // it; not "until there is room": a kernel short of TCP memory refuses sendfile below the
      // cap, and resubmitting then would only park again), or, with nothing queued to watch,
      // through one small write that libuv completes once the client reads.
      record('parked', job.bytes);
      position += job.bytes;
      const queued = queue?.unsent();
      if (queue && queued !== undefined && queued > 0) {
        await queue.whenSent(queued, res);
        if (res.destroyed) return { ok: false, bytes: position - span.start, reason: 'aborted' };
      } else {
        const probe = await sendThroughNode(res, socket, reader, fd, position, Math.min(PROBE_BYTES, end - position + 1), true);
        if (!probe.ok) return { ...probe, bytes: position - span.start + probe.bytes };
        position += probe.bytes;
      }
      rearmStallTimer(socket);
      if (position > end) {
        res.end();
        return { ok: true, bytes: position - span.start };
      }
      if (end - position + 1 < state.minBytes) return sendRestInJs(position, end, reader, fd, chunkBytes, res, position - span.start);
      continue;
    }
    if (job.ended === 'unsupported' && job.bytes === 0 && position === start) {
      // This file system cannot splice (some FUSE mounts): the JS path sends the rest.
      record('fallback', 0);
      return restInJs();
    }
    if (job.ended === 'io-error') volume?.noteError('read', 'EIO');
    if (!res.destroyed) res.destroy();
    const reason = job.ended === 'unsupported' ? 'io-error' : job.ended;
    record(reason, job.bytes);
    return { ok: false, bytes: sent, reason };
  }
}

/** Bytes a paused client is sent through Node, when its socket has no cap to poll, to learn when it reads again. */
const PROBE_BYTES = 2048;

/**
 * Reads `length` bytes at `position` with the engine's reader and writes them through Node,
 * waiting until they reached the kernel: the first chunk (before sendfile), and the probe
 * that waits for a paused client (writeAndFlush resolves once the client has read enough
 * for the kernel to take it). Resolves with the bytes sent, or how it failed (the response
 * is then destroyed).
 */
async function sendThroughNode(
  res: ServerResponse,
  socket: Socket,
  reader: ChunkReader,
  fd: number,
  position: number,
  length: number,
  later: boolean,
): Promise<{ ok: true; bytes: number } | { ok: false; bytes: number; reason: 'aborted' | 'short-read' | 'io-error' | 'timeout' }> {
  const gone = new AbortController();
  const onGone = (): void => gone.abort();
  res.once('close', onGone);
  let chunk: Buffer;
  try {
    chunk = await reader.read(fd, position, length, gone.signal, undefined, later);
  } catch (err) {
    if (!res.destroyed) res.destroy();
    return { ok: false, bytes: 0, reason: readFailure(err, res) };
  } finally {
    res.off('close', onGone);
  }
  if (chunk.length === 0) {
    // The file shrank under us: it ends before the planned span does.
    res.destroy();
    return { ok: false, bytes: 0, reason: 'short-read' };
  }
  if (!(await writeAndFlush(res, socket, chunk))) {
    if (!res.destroyed) res.destroy();
    return { ok: false, bytes: chunk.length, reason: 'aborted' };
  }
  return { ok: true, bytes: chunk.length };
}

/**
 * One sendfile job on the sender thread, from `position` for `length` bytes. Resolves with how
 * it ended, 'aborted' if the response closed meanwhile (the job is then cancelled), or
 * 'refused' if the addon could not take it (no descriptor left for a dup).
 */
function sendfileJob(
  sender: ZeroCopySender,
  key: string,
  sockFd: number,
  fd: number,
  position: number,
  length: number,
  chunkBytes: number,
  res: ServerResponse,
  socket: Socket,
  onProgress: (bytes: number) => void,
): Promise<{ bytes: number; ended: Ended } | 'refused'> {
  return new Promise((resolve) => {
    let settled = false;
    let id = 0;
    const settle = (r: { bytes: number; ended: Ended } | 'refused'): void => {
      if (settled) return;
      settled = true;
      res.off('close', onClose);
      resolve(r);
    };
    const onClose = (): void => settle({ bytes: sender.cancel(id), ended: 'aborted' });
    try {
      id = sender.send(key, sockFd, fd, position, length, chunkBytes, {
        onProgress: (bytes) => {
          rearmStallTimer(socket);
          onProgress(bytes);
        },
        onDone: (bytes, ended) => settle({ bytes, ended }),
      });
    } catch {
      settle('refused');
      return;
    }
    res.once('close', onClose);
  });
}
