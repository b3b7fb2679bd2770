/**
 * Linux /proc readers: the process tree under a pid, its CPU ticks and its
 * resident memory. Everything here is synchronous and cheap (a few hundred
 * small file reads), so it can be sampled right before and after a run.
 */
import fs from 'node:fs';
import os from 'node:os';
import { execFileSync, spawnSync } from 'node:child_process';

export interface ProcStat {
  readonly pid: number;
  readonly ppid: number;
  /** utime + stime in clock ticks. */
  readonly ticks: number;
}

/** Parses /proc/<pid>/stat; the command name may contain spaces and parentheses. */
function readStat(pid: number): ProcStat | undefined {
  let text: string;
  try {
    text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  const close = text.lastIndexOf(')');
  if (close < 0) return undefined;
  // Fields after "comm)": state(3) ppid(4) ... utime(14) stime(15)
  const rest = text.slice(close + 2).split(' ');
  const ppid = Number(rest[1]);
  const utime = Number(rest[11]);
  const stime = Number(rest[12]);
  if (!Number.isFinite(ppid) || !Number.isFinite(utime) || !Number.isFinite(stime)) return undefined;
  return { pid, ppid, ticks: utime + stime };
}

function readChildren(pid: number): number[] {
  const out: number[] = [];
  let tasks: string[];
  try {
    tasks = fs.readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const tid of tasks) {
    try {
      const text = fs.readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').trim();
      if (text !== '') for (const c of text.split(/\s+/)) out.push(Number(c));
    } catch {
      // thread exited, or the kernel lacks CONFIG_PROC_CHILDREN: the root alone is measured
    }
  }
  return out;
}

/**
 * The pid and all its descendants, found through /proc/<pid>/task/<tid>/children.
 * Only the server's own processes are read: walking every /proc/<n>/stat can block
 * for minutes on an unrelated process stuck in the kernel (e.g. on a hung FUSE
 * mount), which is exactly what other tests on this machine create.
 */
export function pidTree(root: number): ProcStat[] {
  const out: ProcStat[] = [];
  const seen = new Set<number>();
  const queue: number[] = [root];
  while (queue.length > 0 && out.length < 4096) {
    const pid = queue.shift() as number;
    if (seen.has(pid)) continue;
    seen.add(pid);
    const s = readStat(pid);
    if (!s) continue;
    out.push(s);
    queue.push(...readChildren(pid));
  }
  return out;
}

let clkTck: number | undefined;
/** Clock ticks per second (`getconf CLK_TCK`, 100 on nearly every Linux). */
export function clockTicks(): number {
  if (clkTck === undefined) {
    try {
      const n = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
      clkTck = Number.isFinite(n) && n > 0 ? n : 100;
    } catch {
      clkTck = 100;
    }
  }
  return clkTck;
}

/** CPU time (user + system, seconds) used so far by a pid and its descendants. */
export function treeCpuSeconds(root: number): number {
  const ticks = pidTree(root).reduce((sum, s) => sum + s.ticks, 0);
  return ticks / clockTicks();
}

/** Resident set size (bytes) summed over a pid and its descendants. Shared pages count once per process. */
export function treeRssBytes(root: number): number {
  let total = 0;
  for (const s of pidTree(root)) {
    try {
      const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(fs.readFileSync(`/proc/${s.pid}/status`, 'utf8'));
      if (m) total += Number(m[1]) * 1024;
    } catch {
      // the process exited between the walk and this read
    }
  }
  return total;
}

/** Soft limit on open files for this process (children inherit it). */
export function openFilesLimit(): number {
  try {
    const m = /^Max open files\s+(\d+|unlimited)/m.exec(fs.readFileSync('/proc/self/limits', 'utf8'));
    if (m) return m[1] === 'unlimited' ? 1_048_576 : Number(m[1]);
  } catch {
    // not Linux
  }
  return 1024;
}

/** Whole-machine busy and total jiffies from /proc/stat, to show how saturated the box was. */
export function machineJiffies(): { busy: number; total: number } {
  try {
    const line = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
    const v = line.trim().split(/\s+/).slice(1).map(Number);
    const total = v.reduce((a, b) => a + b, 0);
    const idle = (v[3] ?? 0) + (v[4] ?? 0);
    return { busy: total - idle, total };
  } catch {
    return { busy: 0, total: 0 };
  }
}

export interface MachineInfo {
  readonly cpuModel: string;
  readonly cores: number;
  readonly kernel: string;
  readonly node: string;
  readonly nginx: string | null;
  readonly curl: string | null;
  readonly memGiB: number;
}

function commandOutput(cmd: string, args: string[]): string | null {
  // nginx -v prints to stderr: take whichever stream has text.
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 5000, stdio: ['ignore', 'pipe', 'pipe'] });
  if (r.error) return null;
  const text = `${r.stdout ?? ''}${r.stderr ?? ''}`.trim();
  return text === '' ? null : text;
}

export function findNginx(): string | null {
  for (const p of ['/usr/sbin/nginx', '/usr/local/sbin/nginx', '/usr/local/nginx/sbin/nginx', '/usr/bin/nginx']) {
    if (fs.existsSync(p)) return p;
  }
  for (const dir of (process.env['PATH'] ?? '').split(':')) {
    if (dir !== '' && fs.existsSync(`${dir}/nginx`)) return `${dir}/nginx`;
  }
  return null;
}

export function findCurl(): string | null {
  for (const dir of (process.env['PATH'] ?? '/usr/bin').split(':')) {
    if (dir !== '' && fs.existsSync(`${dir}/curl`)) return `${dir}/curl`;
  }
  return null;
}

export function machineInfo(): MachineInfo {
  let cpuModel = os.cpus()[0]?.model ?? 'unknown';
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'));
    if (m && m[1]) cpuModel = m[1].trim();
  } catch {
    // keep os.cpus()
  }
  const nginxBin = findNginx();
  const nginxV = nginxBin ? commandOutput(nginxBin, ['-v']) : null;
  const curlBin = findCurl();
  const curlV = curlBin ? (commandOutput(curlBin, ['--version']) ?? '').split('\n')[0] ?? null : null;
  return {
    cpuModel,
    cores: os.availableParallelism(),
    kernel: `${os.type()} ${os.release()}`,
    node: process.version,
    nginx: nginxV ? nginxV.replace(/^nginx version:\s*/, '') : null,
    curl: curlV,
    memGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
  };
}
