/**
 * Zero-copy bodies (ZERO_COPY=auto, docs/zero-copy.md): a response whose body
 * is one span of a file, on a plain-TCP socket, is sent by the addon with
 * sendfile(2) from the page cache, on a sender thread of the file's volume.
 * Anything it cannot do (no addon, TLS, multipart, small body, socket gone
 * odd) returns undefined and the caller takes the JS path, silently.
 *
 * The edges (shared/notes/io-findings.md): Node writes the headers and must
 * have flushed them before the first sendfile byte; Node writes nothing while
 * the addon sends (the response is ended only after the last byte); the
 * server's stall timer is re-armed on progress, so a slow but moving client
 * is never cut and a stalled one still is; a client that goes away or a timer
 * that destroys the socket cancels the job, which shuts the connection down.
 */
import fs from 'node:fs';
import type { ServerResponse } from 'node:http';
import type { BodyPiece } from '../core/types';
import type { SendOutcome } from '../engines/types';
import { currentVolumes, type Volume } from '../volumes';
import { singleSpan, verdict } from './eligibility';
import { zeroCopyBytes, zeroCopyResponses } from './metrics';
import { loadZeroCopyNative } from './native';
import { ZeroCopySender, type Ended } from './sender';
import { flushHeaders, rearmStallTimer, socketFacts, socketOf } from './socket';

export interface ZeroCopySettings {
  readonly zeroCopy: 'auto' | 'off';
  readonly zeroCopyMinBytes: number;
  /** A sender thread inside one sendfile call for longer than this fails its volume's transfers. */
  readonly readTimeoutMs: number;
}

interface State {
  readonly sender: ZeroCopySender | undefined;
  readonly minBytes: number;
  readonly reason: string;
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
  started ??= new ZeroCopySender(load.native, settings.readTimeoutMs, (key) => {
    // Counted like a read that overran its deadline: enough of them degrade the volume.
    volumeById(key)?.noteError('read', 'timeout');
  });
  state = { sender: started, minBytes: settings.zeroCopyMinBytes, reason: load.reason };
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

/**
 * Sends the body with sendfile when it can, else resolves undefined without
 * having written anything but (possibly) the headers. The caller has set the
 * status and headers; the file fd stays the caller's (the addon sends from a dup).
 */
export async function tryZeroCopy(body: readonly BodyPiece[], fd: number, res: ServerResponse): Promise<SendOutcome | undefined> {
  const sender = state.sender;
  if (!sender || !singleSpan(body, state.minBytes).ok) return undefined;
  // A pipelined response gets its socket once the responses ahead of it are done.
  const socket = await socketOf(res);
  if (!socket) return undefined;
  const volume = volumeOfFd(fd);
  const key = volume?.id ?? 'root';
  // A sender stuck on a hung disk: the JS path's gate and deadline answer instead.
  if (sender.isStuck(key)) return undefined;
  if (!verdict(body, state.minBytes, socketFacts(res, socket)).ok) return undefined;
  if (!(await flushHeaders(res, socket))) return { ok: false, bytes: 0, reason: 'aborted' };
  const v = verdict(body, state.minBytes, socketFacts(res, socket));
  if (!v.ok) return undefined;

  return new Promise<SendOutcome | undefined>((resolve) => {
    let settled = false;
    const finish = (outcome: SendOutcome): void => {
      if (settled) return;
      settled = true;
      res.off('close', onClose);
      record(outcome.ok ? 'complete' : outcome.reason, outcome.bytes);
      resolve(outcome);
    };
    let id = 0;
    const onClose = (): void => finish({ ok: false, bytes: sender.cancel(id), reason: 'aborted' });
    try {
      id = sender.send(key, v.sockFd, fd, v.start, v.length, {
        onProgress: () => rearmStallTimer(socket),
        onDone: (bytes, ended) => {
          if (ended === 'complete') {
            // Every byte is in the kernel; ending the response lets Node reuse or close the connection.
            res.end();
            finish({ ok: true, bytes });
            return;
          }
          if (ended === 'unsupported' && bytes === 0) {
            // This file system cannot splice (some FUSE mounts): nothing was sent, the JS path takes over.
            settled = true;
            res.off('close', onClose);
            record('fallback', 0);
            resolve(undefined);
            return;
          }
          if (ended === 'io-error') volume?.noteError('read', 'EIO');
          res.destroy();
          finish({ ok: false, bytes, reason: ended === 'unsupported' ? 'io-error' : ended });
        },
      });
    } catch {
      // The addon could not take it (no descriptor left for a dup): nothing was sent yet.
      resolve(undefined);
      return;
    }
    res.once('close', onClose);
  });
}
