/**
 * Turns per-round results into the markdown table, the JSON record and a
 * hand-built SVG bar chart (no dependency).
 */
import type { LoadResult, PausedResult, ThroughputResult } from './scenarios';

export interface TargetRound {
  readonly round: number;
  readonly target: string;
  rangeSupport?: boolean;
  a1?: ThroughputResult;
  a16?: ThroughputResult;
  b?: LoadResult;
  c?: LoadResult;
  d?: PausedResult;
  /** (e) 4 KiB ranges in a 1 MiB window at offset 0 and at 4.9 GiB of a sparse 5 GiB file. */
  e0?: LoadResult;
  e49?: LoadResult;
  errors: string[];
}

export interface MetricDef {
  readonly key: string;
  readonly label: string;
  readonly unit: string;
  readonly better: 'higher' | 'lower';
  readonly digits: number;
  /** Shown in the SVG chart. */
  readonly chart: boolean;
  get(r: TargetRound): number | undefined;
}

export interface TargetInfo {
  readonly id: string;
  readonly label: string;
  readonly short: string;
  readonly skipped?: string;
}

const fin = (n: number | undefined): number | undefined => (n === undefined || !Number.isFinite(n) ? undefined : n);

export function metricDefs(bigLabel: string, pausedCount: number): MetricDef[] {
  return [
    { key: 'a1.gibps', label: `(a) ${bigLabel} download, 1 client`, unit: 'GiB/s', better: 'higher', digits: 2, chart: true, get: (r) => fin(r.a1?.gibPerSec) },
    { key: 'a1.cpu', label: `(a) ${bigLabel} download, 1 client: server CPU`, unit: 's/GiB', better: 'lower', digits: 3, chart: true, get: (r) => fin(r.a1?.serverCpuPerGiB) },
    { key: 'a16.gibps', label: `(a) ${bigLabel} downloads, 16 clients`, unit: 'GiB/s', better: 'higher', digits: 2, chart: true, get: (r) => fin(r.a16?.gibPerSec) },
    { key: 'a16.cpu', label: `(a) ${bigLabel} downloads, 16 clients: server CPU`, unit: 's/GiB', better: 'lower', digits: 3, chart: true, get: (r) => fin(r.a16?.serverCpuPerGiB) },
    { key: 'b.rps', label: '(b) 1 MiB downloads, 64 conns', unit: 'req/s', better: 'higher', digits: 0, chart: true, get: (r) => fin(r.b?.reqPerSec) },
    { key: 'b.p50', label: '(b) 1 MiB downloads: latency p50', unit: 'ms', better: 'lower', digits: 1, chart: false, get: (r) => fin(r.b?.p50ms) },
    { key: 'b.p99', label: '(b) 1 MiB downloads: latency p99', unit: 'ms', better: 'lower', digits: 1, chart: true, get: (r) => fin(r.b?.p99ms) },
    { key: 'b.cpu', label: '(b) 1 MiB downloads: server CPU', unit: 'µs/req', better: 'lower', digits: 0, chart: false, get: (r) => fin(r.b?.serverCpuUsPerReq) },
    { key: 'c.rps', label: '(c) random 4 KiB ranges, 64 conns', unit: 'req/s', better: 'higher', digits: 0, chart: true, get: (r) => fin(r.c?.reqPerSec) },
    { key: 'c.p99', label: '(c) random 4 KiB ranges: latency p99', unit: 'ms', better: 'lower', digits: 1, chart: true, get: (r) => fin(r.c?.p99ms) },
    { key: 'c.cpu', label: '(c) random 4 KiB ranges: server CPU', unit: 'µs/req', better: 'lower', digits: 0, chart: false, get: (r) => fin(r.c?.serverCpuUsPerReq) },
    { key: 'a16.rss', label: `(a) ${bigLabel} downloads, 16 clients: peak server RSS`, unit: 'MiB', better: 'lower', digits: 0, chart: false, get: (r) => fin(r.a16?.peakRssMiB) },
    { key: 'd.rssIdle', label: '(d) server RSS before (after a–c)', unit: 'MiB', better: 'lower', digits: 0, chart: false, get: (r) => fin(r.d?.rssIdleMiB) },
    { key: 'd.rss', label: `(d) server RSS, ${pausedCount} paused downloads`, unit: 'MiB', better: 'lower', digits: 0, chart: true, get: (r) => fin(r.d?.rssPausedMiB) },
    { key: 'd.perConn', label: '(d) extra RSS per paused download', unit: 'KiB', better: 'lower', digits: 0, chart: false, get: (r) => fin(r.d?.rssPerPausedKiB) },
    { key: 'd.ttfbIdle', label: '(d) 16 KiB TTFB p99, no paused downloads', unit: 'ms', better: 'lower', digits: 2, chart: false, get: (r) => fin(r.d?.ttfbIdleP99ms) },
    { key: 'd.ttfb', label: `(d) 16 KiB TTFB p99, ${pausedCount} paused`, unit: 'ms', better: 'lower', digits: 2, chart: true, get: (r) => fin(r.d?.ttfbP99ms) },
    { key: 'e0.rps', label: '(e) 4 KiB ranges at offset 0 of a 5 GiB file', unit: 'req/s', better: 'higher', digits: 0, chart: false, get: (r) => fin(r.e0?.reqPerSec) },
    { key: 'e49.rps', label: '(e) 4 KiB ranges at offset 4.9 GiB', unit: 'req/s', better: 'higher', digits: 0, chart: false, get: (r) => fin(r.e49?.reqPerSec) },
    { key: 'e0.cpu', label: '(e) at offset 0: server CPU', unit: 'µs/req', better: 'lower', digits: 0, chart: false, get: (r) => fin(r.e0?.serverCpuUsPerReq) },
    { key: 'e49.cpu', label: '(e) at offset 4.9 GiB: server CPU', unit: 'µs/req', better: 'lower', digits: 0, chart: false, get: (r) => fin(r.e49?.serverCpuUsPerReq) },
  ];
}

function median(values: readonly number[]): number | undefined {
  if (values.length === 0) return undefined;
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid] : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

export interface Summary {
  /** metric key -> target id -> median over rounds */
  readonly values: Record<string, Record<string, number>>;
  /** metric key -> target id -> (max - min) / median over rounds, when more than one round */
  readonly spread: Record<string, Record<string, number>>;
}

export function summarize(rounds: readonly TargetRound[], metrics: readonly MetricDef[]): Summary {
  const values: Record<string, Record<string, number>> = {};
  const spread: Record<string, Record<string, number>> = {};
  for (const m of metrics) {
    values[m.key] = {};
    spread[m.key] = {};
    const byTarget = new Map<string, number[]>();
    for (const r of rounds) {
      const v = m.get(r);
      if (v === undefined) continue;
      const list = byTarget.get(r.target) ?? [];
      list.push(v);
      byTarget.set(r.target, list);
    }
    for (const [t, list] of byTarget) {
      const med = median(list);
      if (med === undefined) continue;
      (values[m.key] as Record<string, number>)[t] = med;
      if (list.length > 1 && med !== 0) {
        (spread[m.key] as Record<string, number>)[t] = (Math.max(...list) - Math.min(...list)) / Math.abs(med);
      }
    }
  }
  return { values, spread };
}

export function fmt(v: number | undefined, digits: number): string {
  if (v === undefined || !Number.isFinite(v)) return '—';
  return v.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

function ratio(a: number | undefined, b: number | undefined): string {
  if (a === undefined || b === undefined || b === 0) return '—';
  const r = a / b;
  return `${r >= 10 ? r.toFixed(0) : r >= 1 ? r.toFixed(2) : r.toFixed(2)}×`;
}

export interface Header {
  readonly title: string;
  readonly lines: readonly string[];
}

export function markdown(
  header: Header,
  targets: readonly TargetInfo[],
  metrics: readonly MetricDef[],
  summary: Summary,
  ratioRef: TargetInfo | undefined,
  notes: readonly string[],
): string {
  const shown = targets.filter((t) => !t.skipped);
  const out: string[] = [`# ${header.title}`, '', ...header.lines.map((l) => `- ${l}`), ''];
  const cols = ['scenario · metric', 'unit', ...shown.map((t) => t.short)];
  const haveNginx = shown.some((t) => t.id === 'nginx');
  const haveExpress = shown.some((t) => t.id === 'express');
  if (ratioRef) {
    if (haveNginx) cols.push(`${ratioRef.short} ÷ nginx`);
    if (haveExpress) cols.push(`${ratioRef.short} ÷ express`);
  }
  out.push(`| ${cols.join(' | ')} |`);
  out.push(`|${cols.map((_, i) => (i < 2 ? '---' : '---:')).join('|')}|`);
  for (const m of metrics) {
    const row = summary.values[m.key] ?? {};
    const values = shown.map((t) => row[t.id]);
    // Bold the best value of the row.
    const present = values.filter((v): v is number => v !== undefined);
    const best = present.length > 1 ? (m.better === 'higher' ? Math.max(...present) : Math.min(...present)) : undefined;
    const cells = [
      m.label,
      `${m.unit} ${m.better === 'higher' ? '↑' : '↓'}`,
      ...values.map((v) => (v !== undefined && v === best ? `**${fmt(v, m.digits)}**` : fmt(v, m.digits))),
    ];
    if (ratioRef) {
      const refV = row[ratioRef.id];
      if (haveNginx) cells.push(ratio(refV, row['nginx']));
      if (haveExpress) cells.push(ratio(refV, row['express']));
    }
    out.push(`| ${cells.join(' | ')} |`);
  }
  out.push('');
  out.push('↑ higher is better, ↓ lower is better; **bold** = best in the row. Values are medians over rounds.');
  if (ratioRef) {
    out.push(
      `Ratio columns divide ${ratioRef.label} by the peer in the same row: above 1× means more of the metric ` +
        '(better for ↑ rows, worse for ↓ rows).',
    );
  }
  const skipped = targets.filter((t) => t.skipped);
  if (skipped.length > 0) {
    out.push('');
    out.push('Skipped targets:');
    for (const t of skipped) out.push(`- ${t.label}: ${t.skipped}`);
  }
  if (notes.length > 0) {
    out.push('');
    out.push('Notes:');
    for (const n of notes) out.push(`- ${n}`);
  }
  out.push('');
  return out.join('\n');
}

const COLORS: Record<string, string> = {
  nginx: '#2e7d32',
  express: '#8e24aa',
  plain: '#757575',
  'plain-1m': '#bdbdbd',
  'rs-stream': '#1565c0',
  'rs-worker': '#1e88e5',
  'rs-stream-js': '#90caf9',
  'rs-cluster-stream': '#0097a7',
  'rs-cluster-worker': '#4dd0e1',
};

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** A grid of small horizontal bar groups, one per charted metric, each bar labelled with its value. */
export function svg(title: string, subtitle: string, targets: readonly TargetInfo[], metrics: readonly MetricDef[], summary: Summary): string {
  const shown = targets.filter((t) => !t.skipped);
  const charted = metrics.filter((m) => m.chart);
  const colsN = 2;
  const barH = 16;
  const gap = 4;
  const panelW = 490;
  const labelW = 150;
  const valueW = 70;
  const panelH = 34 + shown.length * (barH + gap) + 8;
  const top = 58;
  const width = colsN * panelW + 20;
  const rowsN = Math.ceil(charted.length / colsN);
  const height = top + rowsN * panelH + 10;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Helvetica, Arial, sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="#ffffff"/>`,
    `<text x="10" y="22" font-size="16" font-weight="bold">${esc(title)}</text>`,
    `<text x="10" y="42" fill="#555">${esc(subtitle)}</text>`,
  ];
  charted.forEach((m, i) => {
    const x0 = 10 + (i % colsN) * panelW;
    const y0 = top + Math.floor(i / colsN) * panelH;
    const row = summary.values[m.key] ?? {};
    const vals = shown.map((t) => row[t.id]);
    const max = Math.max(0, ...vals.filter((v): v is number => v !== undefined));
    parts.push(`<g transform="translate(${x0},${y0})">`);
    parts.push(`<rect x="0" y="0" width="${panelW - 10}" height="${panelH - 6}" fill="#fafafa" stroke="#ddd"/>`);
    parts.push(
      `<text x="8" y="18" font-size="11.5" font-weight="bold">${esc(m.label)} <tspan font-weight="normal" fill="#555">${esc(m.unit)}, ${m.better === 'higher' ? '↑ higher' : '↓ lower'} is better</tspan></text>`,
    );
    const barMax = panelW - 10 - labelW - valueW - 16;
    shown.forEach((t, j) => {
      const y = 30 + j * (barH + gap);
      const v = vals[j];
      const w = v !== undefined && max > 0 ? Math.max(1, (v / max) * barMax) : 0;
      parts.push(`<text x="${labelW}" y="${y + barH - 4}" text-anchor="end" fill="#333">${esc(t.short)}</text>`);
      if (v !== undefined) {
        parts.push(`<rect x="${labelW + 6}" y="${y}" width="${w.toFixed(1)}" height="${barH}" fill="${COLORS[t.id] ?? '#999'}"/>`);
        parts.push(`<text x="${(labelW + 10 + w).toFixed(1)}" y="${y + barH - 4}" fill="#111">${esc(fmt(v, m.digits))}</text>`);
      } else {
        parts.push(`<text x="${labelW + 10}" y="${y + barH - 4}" fill="#999">n/a</text>`);
      }
    });
    parts.push('</g>');
  });
  parts.push('</svg>', '');
  return parts.join('\n');
}
