/**
 * Shared handleSummary: writes `<RESULTS_DIR>/<scenario>-<run id>.json` (k6's
 * full summary data plus run metadata) and `…-summary.txt`, and prints the
 * same text on stdout. k6's own textSummary lives in a remote jslib module
 * that is neither reachable offline nor type-checkable, so this renders a
 * compact text summary itself.
 *
 * k6 opens the returned paths relative to its working directory and does NOT
 * create folders: RESULTS_DIR must exist (the repo ships k6/results/).
 */
import { BASE_URL, RESULTS_DIR, envOpt } from './config.ts';

export interface SummaryMetric {
  type?: 'counter' | 'gauge' | 'rate' | 'trend';
  contains?: 'default' | 'time' | 'data';
  values?: { [stat: string]: number };
  thresholds?: { [expression: string]: { ok: boolean } };
}

export interface SummaryCheck {
  name?: string;
  path?: string;
  passes?: number;
  fails?: number;
}

export interface SummaryGroup {
  name?: string;
  path?: string;
  groups?: SummaryGroup[];
  checks?: SummaryCheck[];
}

/** The parts of k6's summary data object this helper reads (all optional: defensive). */
export interface SummaryData {
  metrics?: { [name: string]: SummaryMetric };
  root_group?: SummaryGroup;
  state?: { testRunDurationMs?: number; isStdOutTTY?: boolean };
  options?: { summaryTrendStats?: string[] };
  [key: string]: unknown;
}

/** Run id used in file names: RUN_ID from the runner, else a UTC timestamp. */
export function runId(): string {
  const given = envOpt('RUN_ID');
  if (given !== undefined) return given.replace(/[^A-Za-z0-9._-]/g, '_');
  return new Date().toISOString().replace(/\.\d+Z$/, 'Z').replace(/[:]/g, '-');
}

function fmtDuration(ms: number): string {
  if (!Number.isFinite(ms)) return String(ms);
  if (ms < 1) return `${(ms * 1000).toFixed(0)}µs`;
  if (ms < 1000) return `${ms.toFixed(2)}ms`;
  return `${(ms / 1000).toFixed(2)}s`;
}

function fmtBytes(n: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let v = n;
  let u = 0;
  while (v >= 1000 && u < units.length - 1) {
    v /= 1000;
    u++;
  }
  return `${v.toFixed(u === 0 ? 0 : 1)} ${units[u]}`;
}

function fmtValue(metric: SummaryMetric, v: number): string {
  if (metric.contains === 'time') return fmtDuration(v);
  if (metric.contains === 'data') return fmtBytes(v);
  return Number.isInteger(v) ? String(v) : v.toFixed(3);
}

function describeMetric(metric: SummaryMetric): string {
  const values = metric.values ?? {};
  switch (metric.type) {
    case 'counter': {
      const count = values['count'] ?? 0;
      const rate = values['rate'] ?? 0;
      return `${fmtValue(metric, count)}  ${metric.contains === 'data' ? fmtBytes(rate) : rate.toFixed(2)}/s`;
    }
    case 'rate': {
      const rate = values['rate'] ?? 0;
      const passes = values['passes'] ?? 0;
      const fails = values['fails'] ?? 0;
      return `${(rate * 100).toFixed(2)}%  (${passes} true, ${fails} false)`;
    }
    case 'gauge':
      return `value=${fmtValue(metric, values['value'] ?? 0)} min=${fmtValue(metric, values['min'] ?? 0)} max=${fmtValue(metric, values['max'] ?? 0)}`;
    case 'trend':
    default:
      return Object.keys(values)
        .map((k) => `${k}=${fmtValue(metric, values[k])}`)
        .join(' ');
  }
}

function collectChecks(group: SummaryGroup | undefined, out: SummaryCheck[]): void {
  if (group === undefined) return;
  for (const c of group.checks ?? []) out.push(c);
  for (const g of group.groups ?? []) collectChecks(g, out);
}

function pad(s: string, n: number): string {
  return s.length >= n ? s + ' ' : s + '.'.repeat(n - s.length) + ' ';
}

/** Plain-text summary: thresholds first, then checks, then every metric. */
export function textSummary(scenario: string, data: SummaryData): string {
  const lines: string[] = [];
  const metrics = data.metrics ?? {};
  const names = Object.keys(metrics).sort();
  const durationMs = data.state?.testRunDurationMs;

  lines.push(`rangeserve k6 — ${scenario} — ${BASE_URL}`);
  if (durationMs !== undefined) lines.push(`duration: ${fmtDuration(durationMs)}`);
  lines.push('');

  let failed = 0;
  const thresholdLines: string[] = [];
  for (const name of names) {
    const t = metrics[name].thresholds;
    if (t === undefined) continue;
    for (const expr of Object.keys(t)) {
      const ok = t[expr].ok;
      if (!ok) failed++;
      thresholdLines.push(`  ${ok ? 'PASS' : 'FAIL'}  ${name}: ${expr}   [${describeMetric(metrics[name])}]`);
    }
  }
  lines.push(`THRESHOLDS (${thresholdLines.length - failed} passed, ${failed} failed)`);
  lines.push(...thresholdLines);
  lines.push('');

  const checks: SummaryCheck[] = [];
  collectChecks(data.root_group, checks);
  const failing = checks.filter((c) => (c.fails ?? 0) > 0);
  lines.push(`CHECKS (${checks.length} distinct, ${failing.length} with failures)`);
  for (const c of checks) {
    const passes = c.passes ?? 0;
    const fails = c.fails ?? 0;
    lines.push(`  ${fails === 0 ? 'ok  ' : 'FAIL'}  ${c.path ?? c.name ?? '?'}  (${passes} passed, ${fails} failed)`);
  }
  lines.push('');

  lines.push('METRICS');
  const width = names.reduce((w, n) => Math.max(w, n.length), 0) + 3;
  for (const name of names) {
    lines.push(`  ${pad(name, width)}${describeMetric(metrics[name])}`);
  }
  lines.push('');
  lines.push(failed === 0 ? 'RESULT: all thresholds passed' : `RESULT: ${failed} threshold(s) FAILED`);
  return lines.join('\n') + '\n';
}

/**
 * Builds the handleSummary export for a scenario file:
 * `export const handleSummary = summaryHandler('smoke');`
 */
export function summaryHandler(scenario: string): (data: SummaryData) => { [output: string]: string } {
  return (data: SummaryData) => {
    const id = runId();
    const base = `${RESULTS_DIR}/${scenario}-${id}`;
    const text = textSummary(scenario, data);
    const json = JSON.stringify(
      {
        scenario,
        runId: id,
        baseUrl: BASE_URL,
        server: { mode: envOpt('SERVER_MODE') ?? null, clusterIo: envOpt('SERVER_CLUSTER_IO') ?? null },
        finishedAt: new Date().toISOString(),
        summary: data,
      },
      null,
      2,
    );
    const out: { [output: string]: string } = {};
    out[`${base}.json`] = json;
    out[`${base}-summary.txt`] = text;
    out['stdout'] = '\n' + text;
    return out;
  };
}
