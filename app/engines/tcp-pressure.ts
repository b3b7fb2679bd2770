/**
 * Whether the kernel is short of TCP memory: the TCP stack's pages in use
 * (/proc/net/sockstat, "TCP: ... mem N") at or above tcp_mem's pressure
 * threshold (/proc/sys/net/ipv4/tcp_mem, first value). Then the kernel refuses
 * writes to sockets whatever their own limits (SEND_QUEUE_BYTES included), and
 * what it refuses waits in Node's memory for as long as the client does not
 * read: thousands of paused downloads (whose clients' receive buffers count
 * too when they run on the same host) reach it. chunk-size.ts then keeps a
 * young body's chunks small.
 *
 * Read from procfs (memory only, never a disk), at most every SAMPLE_MS, on the
 * event loop. Anything unreadable (not Linux, another namespace layout) means
 * "no pressure".
 */
import fs from 'node:fs';

const SAMPLE_MS = 100;

let checkedAt = -Infinity;
let pressure = false;
/** tcp_mem's pressure threshold in pages; null once it proved unreadable. */
let threshold: number | null | undefined;

function readThreshold(): number | null {
  try {
    const first = Number(fs.readFileSync('/proc/sys/net/ipv4/tcp_mem', 'latin1').trim().split(/\s+/)[0]);
    return Number.isFinite(first) && first > 0 ? first : null;
  } catch {
    return null;
  }
}

export function tcpMemoryPressure(now: number = Date.now()): boolean {
  if (now - checkedAt < SAMPLE_MS) return pressure;
  checkedAt = now;
  threshold ??= readThreshold();
  if (threshold === null) return (pressure = false);
  try {
    const m = /^TCP:.*\smem (\d+)/m.exec(fs.readFileSync('/proc/net/sockstat', 'latin1'));
    pressure = m !== null && Number(m[1]) >= threshold;
  } catch {
    pressure = false;
  }
  return pressure;
}
