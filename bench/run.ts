/**
 * `npm run bench` — rangeserve against nginx, express.static and a plain
 * createReadStream server, on the same fixture files over 127.0.0.1, in
 * interleaved rounds (A B C … A B C …) so slow drift of the machine cancels.
 *
 *   node dist/bench/run.js [--quick] [--rounds N] [--only id,id] [--scenarios a1,a16,b,c,d]
 *                          [--workers N] [--rs-env KEY=VALUE,KEY=VALUE] [--variant KEY=VALUE,KEY=VALUE]
 *
 * --variant adds, after each rangeserve target, the same server with these settings on top
 * (id suffixed with "+"), so a switch is measured on and off in the same interleaved run.
 *
 * Writes bench/results/latest.md, bench/results/latest.svg and
 * bench/results/<date>.json; prints the markdown table to stdout and progress
 * to stderr. Every server started is killed at the end, on error and on SIGINT.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ensureFixtures, fixtureSpecs, MiB, warmCache } from './lib/fixtures';
import { machineInfo, openFilesLimit } from './lib/proc';
import { metricDefs, markdown, summarize, svg, type TargetInfo, type TargetRound } from './lib/report';
import { autocannonBodiesDropped, killClientsSync, pausedDownloads, probe, randomRanges, rangesIn, smallDownloads, throughput } from './lib/scenarios';
import { killAllSync, plainServerSource, TARGETS, type RunningServer, type StartContext, type Target } from './lib/servers';

interface Settings {
  readonly quick: boolean;
  readonly rounds: number;
  readonly a1PerClient: number;
  readonly a1MaxSeconds: number;
  readonly a16PerClient: number;
  readonly a16MaxSeconds: number;
  readonly loadSeconds: number;
  readonly warmupRequests: number;
  readonly pausedSockets: number;
  readonly smallRequests: number;
}

const SHORT: Record<string, string> = {
  nginx: 'nginx',
  express: 'express.static',
  plain: 'plain stream',
  'plain-1m': 'plain stream 1 MiB',
  'rs-stream': 'rs stream',
  'rs-worker': 'rs worker',
  'rs-stream-js': 'rs stream (JS path)',
  'rs-cluster-stream': 'rs cluster·stream',
  'rs-cluster-worker': 'rs cluster·worker',
};

const SCENARIOS = ['a1', 'a16', 'b', 'c', 'd', 'e'] as const;
/** (e): a sparse file (no disk space, no generation time) and the two 1 MiB windows ranges are drawn from. */
const SPARSE = { name: 'sparse-5g.bin', size: 5 * 1024 * MiB, far: Math.round(4.9 * 1024 * MiB), window: MiB };
type Scenario = (typeof SCENARIOS)[number];

interface Args {
  quick: boolean;
  rounds?: number;
  only?: string[];
  scenarios: ReadonlySet<Scenario>;
  rsEnv: Record<string, string>;
  variantEnv?: Record<string, string>;
  paused?: number;
}

function parseArgs(argv: readonly string[]): Args {
  // `npm run bench --quick` (without `--`) reaches us as npm's config variable, not as an argument.
  let quick = process.env['npm_config_quick'] === 'true';
  let rounds: number | undefined;
  let only: string[] | undefined;
  let scenarios = new Set<Scenario>(SCENARIOS);
  const rsEnv: Record<string, string> = {};
  let variantEnv: Record<string, string> | undefined;
  let paused: number | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--quick') quick = true;
    else if (a === '--rounds') rounds = Math.max(1, Math.min(5, Number(argv[++i]) || 1));
    else if (a === '--only') only = (argv[++i] ?? '').split(',').filter((s) => s !== '');
    else if (a === '--scenarios') {
      const list = (argv[++i] ?? '').split(',').filter((s) => s !== '');
      const bad = list.filter((s) => !(SCENARIOS as readonly string[]).includes(s));
      if (bad.length > 0) {
        process.stderr.write(`unknown scenario ${bad.join(',')} (known: ${SCENARIOS.join(',')})\n`);
        process.exit(2);
      }
      scenarios = new Set(list as Scenario[]);
    } else if (a === '--paused') paused = Math.max(1, Number(argv[++i]) || 1);
    else if (a === '--workers') rsEnv['WORKERS'] = String(Math.max(1, Number(argv[++i]) || 1));
    else if (a === '--rs-env') {
      for (const kv of (argv[++i] ?? '').split(',').filter((s) => s.includes('='))) {
        rsEnv[kv.slice(0, kv.indexOf('='))] = kv.slice(kv.indexOf('=') + 1);
      }
    } else if (a === '--variant') {
      variantEnv = {};
      for (const kv of (argv[++i] ?? '').split(',').filter((s) => s.includes('='))) {
        variantEnv[kv.slice(0, kv.indexOf('='))] = kv.slice(kv.indexOf('=') + 1);
      }
    } else if (a === '--help' || a === '-h') {
      process.stdout.write(
        'usage: node dist/bench/run.js [--quick] [--rounds N (1-5)] [--only nginx,express,plain,rs-stream,rs-stream-js,...]\n' +
          '       [--scenarios a1,a16,b,c,d,e] [--workers N (rangeserve cluster)] [--rs-env KEY=VALUE,... (rangeserve targets)]\n' +
          '       [--paused N (paused downloads in (d); default 1000, capped by the open-file limit)]\n' +
          '       [--variant KEY=VALUE,... (each rangeserve target again with these settings, id + "+")]\n',
      );
      process.exit(0);
    } else {
      process.stderr.write(`unknown argument ${a}\n`);
      process.exit(2);
    }
  }
  return { quick, scenarios, rsEnv, ...(variantEnv ? { variantEnv } : {}), ...(paused !== undefined ? { paused } : {}), ...(rounds !== undefined ? { rounds } : {}), ...(only !== undefined ? { only } : {}) };
}

/** Each rangeserve target followed by the same server with `env` on top (id + "+"). */
function withVariants(targets: readonly Target[], env: Readonly<Record<string, string>>): Target[] {
  const label = Object.entries(env).map(([k, v]) => `${k}=${v}`).join(' ');
  return targets.flatMap((t) =>
    t.group !== 'rangeserve'
      ? [t]
      : [t, { ...t, id: `${t.id}+`, label: `${t.label} + ${label}`, start: (ctx: StartContext) => t.start({ ...ctx, rsEnv: { ...ctx.rsEnv, ...env } }) }],
  );
}

const log = (msg: string): void => {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
};

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const t0 = Date.now();
  const projectRoot = path.resolve(__dirname, '..', '..');
  const nofile = openFilesLimit();
  // The server holds a socket and (stream engines) a file per paused download; keep clear of the fd limit.
  // A server with the open-file cache holds one descriptor per file, not per download: --paused may go near the limit.
  const pausedSockets =
    args.paused !== undefined
      ? Math.max(1, Math.min(args.paused, nofile - 512))
      : Math.max(50, Math.min(1000, Math.floor((nofile - 256) / 2)));
  const s: Settings = args.quick
    ? { quick: true, rounds: args.rounds ?? 1, a1PerClient: 1, a1MaxSeconds: 3, a16PerClient: 1, a16MaxSeconds: 4, loadSeconds: 2, warmupRequests: 100, pausedSockets, smallRequests: 100 }
    : { quick: false, rounds: args.rounds ?? 2, a1PerClient: 2, a1MaxSeconds: 8, a16PerClient: 1, a16MaxSeconds: 10, loadSeconds: 5, warmupRequests: 500, pausedSockets, smallRequests: 200 };

  const notes: string[] = [];
  if (!autocannonBodiesDropped) {
    notes.push('autocannon internals changed: response bodies are buffered as strings by the client, so (b) measures autocannon more than the servers.');
  }
  if (args.paused !== undefined && pausedSockets < args.paused) {
    notes.push(`open-file limit is ${nofile}: (d) capped at ${pausedSockets} paused downloads instead of ${args.paused}.`);
  } else if (args.paused === undefined && pausedSockets < 1000) {
    notes.push(`open-file limit is ${nofile}: (d) capped at ${pausedSockets} paused downloads (run \`ulimit -n 65536\` first for 1000).`);
  }

  const fixtures = fixtureSpecs(path.join(projectRoot, 'bench', '.fixtures'), s.quick);
  log(`fixtures in ${fixtures.dir} (big file ${fixtures.big.name})`);
  const gen = ensureFixtures(fixtures);
  if (gen.generatedSeconds > 0) log(`generated fixtures in ${gen.generatedSeconds.toFixed(1)} s`);
  const warm = warmCache(fixtures);
  log(`page cache warmed in ${warm.seconds.toFixed(2)} s${warm.cachedFraction !== null ? `, ${(warm.cachedFraction * 100).toFixed(0)}% of the big file cached` : ''}`);
  if (warm.cachedFraction !== null && warm.cachedFraction < 0.99) {
    notes.push(`only ${(warm.cachedFraction * 100).toFixed(0)}% of ${fixtures.big.name} stayed in the page cache: results include disk reads.`);
  }

  if (args.scenarios.has('e')) {
    // Sparse: holes read as zeros from the page cache, so the file costs neither disk space nor time to make.
    const sparse = path.join(fixtures.dir, SPARSE.name);
    if (!fs.existsSync(sparse) || fs.statSync(sparse).size !== SPARSE.size) {
      const fd = fs.openSync(sparse, 'w');
      fs.ftruncateSync(fd, SPARSE.size);
      fs.closeSync(fd);
    }
  }

  const tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'rangeserve-bench-'));
  const cleanup = (): void => {
    killClientsSync();
    killAllSync();
    fs.rmSync(tmpDir, { recursive: true, force: true });
  };
  process.on('exit', cleanup);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(sig, () => {
      log(`${sig}: stopping every server`);
      cleanup();
      process.exit(130);
    });
  }

  const ctx: StartContext = { projectRoot, fixtureDir: fixtures.dir, tmpDir, probeFile: fixtures.small.name, rsEnv: args.rsEnv };
  const on = (sc: Scenario): boolean => args.scenarios.has(sc);
  if (args.scenarios.size < SCENARIOS.length) notes.push(`scenarios run: ${[...args.scenarios].join(', ')}.`);
  if (Object.keys(args.rsEnv).length > 0) {
    notes.push(`rangeserve targets ran with ${Object.entries(args.rsEnv).map(([k, v]) => `${k}=${v}`).join(' ')}.`);
  }
  const allTargets = args.variantEnv ? withVariants(TARGETS, args.variantEnv) : TARGETS;
  if (args.variantEnv) {
    notes.push(`targets marked + ran with ${Object.entries(args.variantEnv).map(([k, v]) => `${k}=${v}`).join(' ')} on top.`);
  }
  const targets: TargetInfo[] = allTargets.filter((t) => !args.only || args.only.includes(t.id.replace(/\+$/, ''))).map((t) => {
    const why = t.unavailable(ctx);
    const short = SHORT[t.id.replace(/\+$/, '')];
    return { id: t.id, label: t.label, short: short ? short + (t.id.endsWith('+') ? ' +' : '') : t.id, ...(why ? { skipped: why } : {}) };
  });
  for (const t of targets) if (t.skipped) log(`skip ${t.label}: ${t.skipped}`);
  if (targets.some((t) => t.id === 'plain' && !t.skipped)) notes.push(`plain stream peer = ${plainServerSource(ctx)}.`);
  const runnable = allTargets.filter((t) => targets.some((i) => i.id === t.id && !i.skipped));

  const results: TargetRound[] = [];
  for (let round = 1; round <= s.rounds; round++) {
    for (const target of runnable) {
      const r: TargetRound = { round, target: target.id, errors: [] };
      results.push(r);
      const tag = `round ${round}/${s.rounds} ${target.label}`;
      let server: RunningServer | undefined;
      try {
        server = await target.start(ctx);
      } catch (err) {
        r.errors.push(`start: ${err instanceof Error ? err.message : String(err)}`);
        log(`${tag}: failed to start: ${r.errors[0]}`);
        continue;
      }
      const step = async (name: string, fn: (srv: RunningServer) => Promise<void>): Promise<void> => {
        try {
          await fn(server as RunningServer);
        } catch (err) {
          const msg = `${name}: ${err instanceof Error ? err.message : String(err)}`;
          r.errors.push(msg);
          log(`${tag}: ${msg}`);
        }
      };
      try {
        log(`${tag}: pid ${server.pid}, port ${server.port}`);
        await step('range probe', async (srv) => {
          const p = await probe(`${srv.base}/files/${fixtures.big.name}`, { range: 'bytes=100-4195' }, 10_000, 1 << 20);
          r.rangeSupport = p.status === 206 && p.bytes === 4096;
          if (!r.rangeSupport) {
            r.errors.push(`range probe: status ${p.status}${p.bytes > 4096 ? ', whole file' : `, ${p.bytes} bytes`} (expected 206 with 4096 bytes): no Range support, (c) skipped`);
          }
        });
        if (on('a1')) await step('(a) 1 client', async (srv) => {
          r.a1 = await throughput(srv, fixtures.big.name, fixtures.big.size, 1, s.a1PerClient, s.a1MaxSeconds);
          log(`${tag}: (a)x1  ${r.a1.gibPerSec.toFixed(2)} GiB/s, ${r.a1.serverCpuPerGiB.toFixed(3)} CPU s/GiB`);
        });
        if (on('a16')) await step('(a) 16 clients', async (srv) => {
          r.a16 = await throughput(srv, fixtures.big.name, fixtures.big.size, 16, s.a16PerClient, s.a16MaxSeconds);
          log(`${tag}: (a)x16 ${r.a16.gibPerSec.toFixed(2)} GiB/s, ${r.a16.serverCpuPerGiB.toFixed(3)} CPU s/GiB, ${r.a16.downloadsCompleted}/${r.a16.downloadsStarted} complete, peak RSS ${r.a16.peakRssMiB.toFixed(0)} MiB`);
        });
        if (on('b')) await step('(b) 1 MiB', async (srv) => {
          r.b = await smallDownloads(srv, fixtures.oneMiB.name, 64, s.loadSeconds, s.warmupRequests);
          log(`${tag}: (b) ${r.b.reqPerSec.toFixed(0)} req/s p50 ${r.b.p50ms} ms p99 ${r.b.p99ms} ms`);
        });
        if (r.rangeSupport && on('c')) {
          await step('(c) ranges', async (srv) => {
            r.c = await randomRanges(srv, fixtures.big.name, fixtures.big.size, 64, s.loadSeconds, s.warmupRequests);
            log(`${tag}: (c) ${r.c.reqPerSec.toFixed(0)} req/s p99 ${r.c.p99ms} ms`);
          });
        }
        if (r.rangeSupport && on('e')) {
          await step('(e) offsets', async (srv) => {
            r.e0 = await rangesIn(srv, SPARSE.name, 0, SPARSE.window, 64, s.loadSeconds, s.warmupRequests);
            r.e49 = await rangesIn(srv, SPARSE.name, SPARSE.far, SPARSE.far + SPARSE.window, 64, s.loadSeconds, s.warmupRequests);
            log(`${tag}: (e) offset 0 ${r.e0.reqPerSec.toFixed(0)} req/s ${r.e0.serverCpuUsPerReq.toFixed(0)} µs/req, 4.9 GiB ${r.e49.reqPerSec.toFixed(0)} req/s ${r.e49.serverCpuUsPerReq.toFixed(0)} µs/req`);
          });
        }
        if (on('d')) await step('(d) paused', async (srv) => {
          r.d = await pausedDownloads(srv, fixtures.big.name, fixtures.small.name, s.pausedSockets, s.smallRequests);
          log(`${tag}: (d) ${r.d.responding}/${r.d.requestedSockets} paused, RSS ${r.d.rssIdleMiB.toFixed(0)} -> ${r.d.rssPausedMiB.toFixed(0)} MiB, TTFB p99 ${r.d.ttfbP99ms.toFixed(2)} ms`);
        });
        for (const [name, lr] of [['(b)', r.b], ['(c)', r.c], ['(e) 0', r.e0], ['(e) 4.9 GiB', r.e49]] as const) {
          if (lr && (lr.errors > 0 || lr.non2xx > 0 || lr.wrongStatus > 0)) {
            r.errors.push(`${name}: ${lr.errors} errors (${lr.timeouts} timeouts), ${lr.non2xx} non-2xx, ${lr.wrongStatus} with an unexpected 2xx status (statuses ${JSON.stringify(lr.statuses)})`);
          }
        }
        if (r.a1 && r.a1.failures > 0) r.errors.push(`(a) 1 client: ${r.a1.failures} failed downloads`);
        if (r.a16 && r.a16.failures > 0) r.errors.push(`(a) 16 clients: ${r.a16.failures} failed downloads`);
        if (r.d && (r.d.smallFailures > 0 || r.d.responding < r.d.requestedSockets)) {
          r.errors.push(`(d): ${r.d.responding}/${r.d.requestedSockets} paused downloads started, ${r.d.smallFailures} small requests failed`);
        }
      } finally {
        await server.stop();
      }
    }
  }

  // ------------------------------------------------------------------ report
  const bigLabel = fixtures.big.size >= 1024 * MiB ? `${fixtures.big.size / (1024 * MiB)} GiB` : `${fixtures.big.size / MiB} MiB`;
  const metrics = metricDefs(bigLabel, s.pausedSockets);
  const summary = summarize(results, metrics);
  const m = machineInfo();
  const date = new Date();
  const elapsed = (Date.now() - t0) / 1000;
  const a16Incomplete = results.filter((r) => r.a16 && r.a16.downloadsCompleted < r.a16.downloadsStarted).map((r) => r.target);
  const a1Client = results.find((r) => r.a1)?.a1?.client ?? 'curl';
  notes.push(
    `Client and servers share the same ${m.cores} cores: (a) uses ${a1Client === 'curl' ? '`curl -s -o /dev/null` processes' : 'Node http clients (curl not found)'}, ` +
      '(b)/(c) autocannon in the benchmark process, so throughput is partly the client\'s limit; server CPU per GiB / per request is the server\'s own cost.',
  );
  if (a16Incomplete.length > 0) {
    notes.push(`(a) 16 clients stops at ${s.a16MaxSeconds} s: unfinished downloads still count their bytes (${[...new Set(a16Incomplete)].join(', ')}).`);
  }
  notes.push('Server RSS sums VmRSS over the server\'s process tree (cluster workers and nginx workers count separately; shared pages count more than once).');
  const errorNotes = results.flatMap((r) => r.errors.map((e) => `round ${r.round} ${r.target}: ${e}`));
  notes.push(...errorNotes);

  const header = {
    title: `rangeserve benchmark — ${date.toISOString().slice(0, 16).replace('T', ' ')} UTC${s.quick ? ' (quick)' : ''}`,
    lines: [
      `Machine: ${m.cpuModel}, ${m.cores} cores, ${m.memGiB} GiB RAM, ${m.kernel}; Node ${m.node}; nginx ${m.nginx ?? 'not installed'}; ${m.curl ?? 'curl not installed'}.`,
      `Run: ${s.rounds} interleaved round(s) × ${runnable.length} targets, ${elapsed.toFixed(0)} s in all; loopback 127.0.0.1, warm page cache; rangeserve WORKERS=2 LOG_LEVEL=warn.`,
      `(a) ${s.a1PerClient} sequential ${bigLabel} downloads (cap ${s.a1MaxSeconds} s), then 16 parallel ones (${s.a16PerClient} each, cap ${s.a16MaxSeconds} s); server CPU = utime+stime of the server's process tree from /proc.`,
      `(b) autocannon, 64 connections, ${s.loadSeconds} s after ${s.warmupRequests} warm-up requests; (c) same, one random 4 KiB \`Range\` per request in the ${bigLabel} file.`,
      `(d) ${s.pausedSockets} raw sockets each request the ${bigLabel} file and stop reading; meanwhile ${s.smallRequests} new 16 KiB requests, 4 at a time, each on a new connection.`,
      ...(args.scenarios.has('e')
        ? [`(e) as (c), with the ranges drawn from a 1 MiB window at offset 0, then at offset 4.9 GiB, of a sparse 5 GiB file (${SPARSE.name}).`]
        : []),
    ],
  };
  const rsStream = targets.find((t) => t.id === 'rs-stream' && !t.skipped);
  const plain = targets.find((t) => t.id === 'plain' && !t.skipped);
  const ratioRef = rsStream ?? plain;
  const md = markdown(header, targets, metrics, summary, ratioRef, notes);
  const chart = svg(
    header.title,
    `${m.cpuModel}, ${m.cores} cores, Node ${m.node}, nginx ${m.nginx ?? 'n/a'} — loopback, warm cache, client on the same cores`,
    targets,
    metrics,
    summary,
  );

  const outDir = path.join(projectRoot, 'bench', 'results');
  fs.mkdirSync(outDir, { recursive: true });
  const stamp = date.toISOString().replace(/[:]/g, '-').replace(/\..*$/, '');
  const jsonPath = path.join(outDir, `${stamp}${s.quick ? '-quick' : ''}.json`);
  fs.writeFileSync(path.join(outDir, 'latest.md'), md);
  fs.writeFileSync(path.join(outDir, 'latest.svg'), chart);
  fs.writeFileSync(
    jsonPath,
    JSON.stringify(
      {
        date: date.toISOString(),
        elapsedSeconds: elapsed,
        settings: s,
        machine: m,
        fixtures: { dir: fixtures.dir, big: fixtures.big, oneMiB: fixtures.oneMiB, small: fixtures.small, warm },
        targets,
        summary,
        rounds: results,
        notes,
      },
      null,
      2,
    ) + '\n',
  );
  process.stdout.write(md);
  log(`wrote bench/results/latest.md, latest.svg, ${path.basename(jsonPath)} (${elapsed.toFixed(0)} s)`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
