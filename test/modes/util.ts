/** Shared bits for the mode tests: slow clients, process checks, a big random file. */
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import { raw } from '../helpers/http';
import { MAIN } from '../helpers/server';

export interface Health {
  readonly mode: string;
  readonly engine: string;
  readonly pid: number;
  readonly workers?: number[];
  readonly threadExits?: number;
}

export async function health(url: string): Promise<Health> {
  return JSON.parse((await raw(url, { path: '/healthz' }, 5_000)).body.toString()) as Health;
}

/** The server processes of this build run MAIN (the primary, a cluster worker or a single server). */
function runsMain(pid: number): boolean {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'latin1').split('\0').includes(MAIN);
  } catch {
    return false;
  }
}

/**
 * True until `pid`, a server process of this build, is gone, i.e. reaped: a killed
 * worker stays a zombie until its primary has noticed the exit, and tests wait for that.
 * The identity check matters: pid_max is 32768 here, so a pid seen earlier can belong to
 * anything by now (another test run's server, a curl) and must not count as "still
 * running". A zombie's cmdline is empty, so a zombie counts by its name (node) alone.
 */
export function alive(pid: number): boolean {
  let stat: string;
  try {
    stat = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return false;
  }
  const m = /^\d+ \((.*)\) (\S)/.exec(stat);
  if (m?.[2] === 'Z') return m[1] === 'node';
  return runsMain(pid);
}

/** SIGKILLs those of `pids` that are running servers of this build, never a process that reused a pid. */
export function killAll(pids: Iterable<number>): void {
  for (const pid of pids) {
    if (!runsMain(pid)) continue;
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone meanwhile
    }
  }
}

/** Writes `bytes` of random data to `file` and returns its SHA-256. */
export function writeRandomFile(file: string, bytes: number): string {
  const hash = crypto.createHash('sha256');
  const fd = fs.openSync(file, 'w');
  try {
    const block = 4 * 1024 * 1024;
    for (let done = 0; done < bytes; done += block) {
      const b = crypto.randomBytes(Math.min(block, bytes - done));
      hash.update(b);
      fs.writeSync(fd, b);
    }
  } finally {
    fs.closeSync(fd);
  }
  return hash.digest('hex');
}

export function sha256File(file: string): string {
  return crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

export interface SlowDownload {
  /** Resolves once the first body bytes arrived. */
  readonly started: Promise<void>;
  /** Resolves when the response ended (complete or cut). */
  readonly done: Promise<SlowDownloadResult>;
  destroy(): void;
}

export interface SlowDownloadResult {
  readonly status: number;
  readonly length: number;
  readonly received: number;
  readonly complete: boolean;
  /** No byte for STALL_GIVE_UP_MS while the client wanted more: given up, like a client's read timeout. */
  readonly stalled: boolean;
}

/**
 * How long a slow download waits for its next byte before giving up. A server
 * that cuts a download with bytes still in its socket's send buffer leaves the
 * kernel to deliver them (an orphaned socket); if the kernel drops that socket
 * without a FIN or RST reaching the client (seen once in cluster mode with
 * SHUTDOWN_GRACE_MS=500: the client stayed ESTABLISHED with no peer for 10
 * minutes), a client without a read timeout waits forever. Real clients have
 * one; so does this one.
 */
export const STALL_GIVE_UP_MS = 15_000;

/** A GET whose client reads at about `bytesPerSec` (pausing the response between slices). */
export function slowDownload(url: string, bytesPerSec: number): SlowDownload {
  let markStarted!: () => void;
  let failStart!: (e: unknown) => void;
  const started = new Promise<void>((resolve, reject) => {
    markStarted = resolve;
    failStart = reject;
  });
  let req!: http.ClientRequest;
  const done = new Promise<SlowDownloadResult>((resolve) => {
    req = http.get(url, { agent: false }, (res) => {
      const length = Number(res.headers['content-length']);
      let received = 0;
      let budget = 0;
      const t0 = Date.now();
      let settled = false;
      let stalled = false;
      let resumeTimer: NodeJS.Timeout | undefined;
      let stallTimer: NodeJS.Timeout | undefined;
      const finish = (): void => {
        if (settled) return;
        settled = true;
        clearTimeout(resumeTimer);
        clearTimeout(stallTimer);
        resolve({ status: res.statusCode ?? 0, length, received, complete: !stalled && res.complete && received === length, stalled });
      };
      // Armed only while the client reads (not during its own pauses).
      const armStall = (): void => {
        clearTimeout(stallTimer);
        stallTimer = setTimeout(() => {
          stalled = true;
          finish();
          req.destroy();
        }, STALL_GIVE_UP_MS);
      };
      armStall();
      res.on('data', (d: Buffer) => {
        if (received === 0) markStarted();
        received += d.length;
        budget = ((Date.now() - t0) / 1000) * bytesPerSec;
        if (received > budget) {
          res.pause();
          clearTimeout(stallTimer);
          clearTimeout(resumeTimer);
          resumeTimer = setTimeout(() => {
            res.resume();
            armStall();
          }, Math.min(1_000, ((received - budget) / bytesPerSec) * 1000));
        } else {
          armStall();
        }
      });
      res.on('end', finish);
      res.on('close', finish);
      res.on('error', finish);
    });
    req.on('error', (e) => {
      failStart(e);
      resolve({ status: 0, length: NaN, received: 0, complete: false, stalled: false });
    });
  });
  started.catch(() => undefined);
  return { started, done, destroy: () => req.destroy() };
}

/** One plain GET with keep-alive off; resolves with the status, or 0 on a connection error. */
export function getStatus(url: string, timeoutMs = 10_000): Promise<number> {
  return new Promise((resolve) => {
    const req = http.get(url, { agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.complete ? (res.statusCode ?? 0) : -1));
      res.on('error', () => resolve(-1));
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error('timeout')));
    req.on('error', () => resolve(0));
  });
}
