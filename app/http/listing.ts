/**
 * Directory listings: an HTML page for browsers, JSON for Accept: application/json.
 * Entries a download would refuse (dotfiles, special files, symlinks leading
 * out of the root) are not listed.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';
import type { DirEntry, Engine } from '../engines/types';
import { sendShort } from './short-response';
import type { RequestBudget } from '../volumes';

export interface ListingContext {
  readonly engine: Engine;
  /** The request's time before its status line (app/volumes/deadline.ts). */
  readonly budget?: RequestBudget;
  readonly rootReal: string;
  readonly dirReal: string;
  /** The URL path of the directory, ending in '/'. */
  readonly urlPath: string;
  readonly showDotfiles: boolean;
}

export interface ListingEntry {
  readonly name: string;
  readonly type: 'file' | 'directory';
  readonly size: number;
  readonly mtime: string;
  readonly href: string;
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** Prefers JSON only when the client ranks it above HTML (browsers send text/html first). */
export function wantsJson(accept: string | undefined): boolean {
  if (!accept) return false;
  let json = -1;
  let html = -1;
  for (const part of accept.split(',')) {
    const [type = '', ...params] = part.trim().toLowerCase().split(';');
    const qParam = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    const q = qParam ? Number(qParam.slice(2)) : 1;
    if (type === 'application/json') json = Math.max(json, q);
    if (type === 'text/html') html = Math.max(html, q);
  }
  return json > 0 && json >= html;
}

async function visibleEntries(ctx: ListingContext, entries: readonly DirEntry[]): Promise<ListingEntry[]> {
  const out: ListingEntry[] = [];
  for (const e of entries) {
    if (e.kind === 'other') continue;
    if (!ctx.showDotfiles && e.name.startsWith('.')) continue;
    if (e.symlink) {
      try {
        const real = await ctx.engine.realpath(path.join(ctx.dirReal, e.name), { budget: ctx.budget });
        if (real !== ctx.rootReal && !real.startsWith(ctx.rootReal + path.sep)) continue;
      } catch {
        continue;
      }
    }
    const href = ctx.urlPath + encodeURIComponent(e.name) + (e.kind === 'directory' ? '/' : '');
    out.push({
      name: e.name,
      type: e.kind,
      size: e.kind === 'file' ? e.size : 0,
      mtime: new Date(Number(e.mtimeNs / 1_000_000n)).toISOString(),
      href,
    });
  }
  out.sort((a, b) => (a.type === b.type ? a.name.localeCompare(b.name) : a.type === 'directory' ? -1 : 1));
  return out;
}

function renderHtml(urlPath: string, entries: readonly ListingEntry[]): string {
  const rows = entries
    .map(
      (e) =>
        `<tr><td><a href="${escapeHtml(e.href)}">${escapeHtml(e.name)}${e.type === 'directory' ? '/' : ''}</a></td>` +
        `<td>${e.type === 'file' ? e.size : '-'}</td><td>${e.mtime}</td></tr>`,
    )
    .join('\n');
  const up = urlPath === '/files/' ? '' : '<tr><td><a href="../">../</a></td><td></td><td></td></tr>\n';
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>Index of ${escapeHtml(urlPath)}</title>
<style>body{font-family:system-ui,sans-serif;margin:2em}td{padding:.2em 1em}td:nth-child(2){text-align:right}</style>
</head><body><h1>Index of ${escapeHtml(urlPath)}</h1>
<table><thead><tr><th>Name</th><th>Size (bytes)</th><th>Modified (UTC)</th></tr></thead><tbody>
${up}${rows}
</tbody></table></body></html>
`;
}

export async function sendListing(req: IncomingMessage, res: ServerResponse, ctx: ListingContext): Promise<void> {
  const entries = await visibleEntries(ctx, await ctx.engine.list(ctx.dirReal, { budget: ctx.budget }));
  const json = wantsJson(req.headers.accept);
  const body = json
    ? JSON.stringify({ path: ctx.urlPath, entries }) + '\n'
    : renderHtml(ctx.urlPath, entries);
  if (res.destroyed) return;
  if (res.headersSent) return sendShort(res, 500);
  res.writeHead(200, {
    'Content-Type': json ? 'application/json; charset=utf-8' : 'text/html; charset=utf-8',
    'Content-Length': String(Buffer.byteLength(body)),
    'Cache-Control': 'no-cache',
    Vary: [res.getHeader('Vary'), 'Accept'].filter((v) => v !== undefined).join(', '),
    'X-Content-Type-Options': 'nosniff',
  });
  res.end(req.method === 'HEAD' ? undefined : body);
}
