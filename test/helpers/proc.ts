/** Process facts for tests: open descriptors and memory of the server's processes. */
import fs from 'node:fs';
import { raw } from './http';

/** The pids that serve requests: the cluster workers, or the single server process. */
export async function servingPids(baseUrl: string): Promise<number[]> {
  const h = JSON.parse((await raw(baseUrl, { path: '/healthz' })).body.toString()) as { pid: number; workers?: unknown };
  const workers = Array.isArray(h.workers) ? h.workers.filter((p): p is number => typeof p === 'number') : [];
  return workers.length > 0 ? workers : [h.pid];
}

export function openFds(pids: readonly number[]): number {
  let n = 0;
  for (const pid of pids) {
    try {
      n += fs.readdirSync(`/proc/${pid}/fd`).length;
    } catch {
      // the process is gone: it holds nothing
    }
  }
  return n;
}

/** Open descriptors that point at regular files under `dir`. */
export function openFilesUnder(pids: readonly number[], dir: string): number {
  let n = 0;
  for (const pid of pids) {
    let fds: string[] = [];
    try {
      fds = fs.readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        if (fs.readlinkSync(`/proc/${pid}/fd/${fd}`).startsWith(dir)) n++;
      } catch {
        // closed meanwhile
      }
    }
  }
  return n;
}

export function rssKiB(pids: readonly number[]): number {
  let total = 0;
  for (const pid of pids) {
    try {
      const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
      total += Number(m?.[1] ?? 0);
    } catch {
      // gone
    }
  }
  return total;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function waitFor(pred: () => boolean, timeoutMs: number, stepMs = 50): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (pred()) return true;
    await sleep(stepMs);
  }
  return pred();
}
