/**
 * npm run measure:hints — a measurement, not a test (issue 5 part 6): one
 * cold-cache download of a 1 GiB file per row, hints on vs HINTS=off, stream
 * and worker engines, in one run: MiB/s, and the file's page-cache footprint
 * (peak while the body streams, sampled with fincore every 100 ms, and after).
 *
 * Cold cache: by default only the measured file is evicted before each row
 * (fsync + POSIX_FADV_DONTNEED), so the machine's other page cache (other
 * people's benchmarks) is left alone; `--drop-caches` drops every cache
 * instead (echo 3 > /proc/sys/vm/drop_caches, root). Default hint settings
 * (HINT_DONTNEED_THRESHOLD 64 MiB). Prints a markdown table.
 *
 *   npm run measure:hints [-- --drop-caches] [-- --size-mib 1024]
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { download, evict, pageCacheSkipReason, residentBytes, writeDataFile } from '../test/helpers/page-cache';
import { startTestServer } from '../test/helpers/server';

const MiB = 1024 * 1024;
const args = process.argv.slice(2);
const dropCaches = args.includes('--drop-caches');
const sizeArg = args.indexOf('--size-mib');
const SIZE = (sizeArg >= 0 ? Number(args[sizeArg + 1]) : 1024) * MiB;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function makeCold(file: string): void {
  if (dropCaches) {
    execFileSync('sync');
    fs.writeFileSync('/proc/sys/vm/drop_caches', '3\n');
  } else {
    evict(file);
  }
  const left = residentBytes(file);
  if (left > 0) throw new Error(`${file} still has ${left} bytes cached after eviction`);
}

function deviceOf(dir: string): string {
  try {
    const src = execFileSync('findmnt', ['-n', '-o', 'SOURCE', '--target', dir], { encoding: 'utf8' }).trim();
    const name = path.basename(src);
    const ra = fs.readFileSync(`/sys/block/${name}/queue/read_ahead_kb`, 'utf8').trim();
    return `${src} (read_ahead_kb ${ra})`;
  } catch {
    return 'unknown device';
  }
}

interface Row {
  readonly engine: string;
  readonly hints: string;
  readonly mibs: number;
  readonly peakMiB: number;
  readonly afterMiB: number;
}

async function main(): Promise<void> {
  if (dropCaches && process.getuid?.() !== 0) throw new Error('--drop-caches needs root');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rangeserve-measure-hints-'));
  const file = path.join(dir, 'big.bin');
  try {
    const skip = pageCacheSkipReason(dir);
    if (skip) throw new Error(`cannot measure: ${skip}`);
    process.stderr.write(`writing ${SIZE / MiB} MiB to ${file}\n`);
    const sha = writeDataFile(file, SIZE);
    const rows: Row[] = [];
    for (const engine of ['stream', 'worker']) {
      for (const hints of ['on', 'off']) {
        makeCold(file);
        const srv = await startTestServer({ FILES_ROOT: dir, MODE: engine, HINTS: hints, LOG_LEVEL: 'info' });
        try {
          const got = await download(srv.url, '/files/big.bin', { sampleFile: file, sampleEveryMs: 100 });
          if (got.status !== 200 || got.sha256 !== sha) throw new Error(`${engine}/${hints}: bad download (${got.status}, ${got.bytes} bytes)`);
          await sleep(500); // the final DONTNEED runs just after the last byte left
          const row = {
            engine,
            hints,
            mibs: got.bytes / MiB / got.seconds,
            peakMiB: got.peakResident / MiB,
            afterMiB: residentBytes(file) / MiB,
          };
          rows.push(row);
          process.stderr.write(`${JSON.stringify(row)}\n`);
        } finally {
          await srv.stop();
        }
      }
    }
    const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
    const load = os.loadavg().map((l) => l.toFixed(1)).join(' ');
    const lines = [
      `${new Date().toISOString().slice(0, 16)}Z, ${os.cpus().length} × ${cpu}, Linux ${os.release()}, ${deviceOf(dir)}; ` +
        `${SIZE / MiB} MiB file, one cold-cache download per row (${dropCaches ? 'drop_caches' : 'file evicted with DONTNEED'}), default HINT_* settings; ` +
        `load average at the end ${load}.`,
      '',
      '| engine | hints | MiB/s | peak cached (MiB) | cached after (MiB) |',
      '|---|---|---:|---:|---:|',
      ...rows.map((r) => `| ${r.engine} | ${r.hints} | ${r.mibs.toFixed(0)} | ${r.peakMiB.toFixed(0)} | ${r.afterMiB.toFixed(0)} |`),
    ];
    process.stdout.write(lines.join('\n') + '\n');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`measure:hints: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
