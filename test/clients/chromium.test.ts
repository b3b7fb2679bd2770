/**
 * A real browser against rangeserve: Debian's Chromium, driven by
 * playwright-core. A page on another origin fetches ranges the way a
 * resumable page downloader does (If-Range makes every such fetch a
 * preflighted CORS request), and native downloads are checked by what the
 * user ends up with: the saved bytes, the suggested name, and a cut download
 * that Chromium resumes by itself (checklist row 76). A FIN mid-body is
 * auto-resumed at once; CDP and Playwright have no way to press Resume, so a
 * cut Chromium does not auto-resume (RST) is not covered here. Each case runs in a fresh browser context, so no HTTP cache, no
 * preflight cache and no connection is shared between cases.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { startCuttingProxy, type CuttingProxy } from '../helpers/cutting-proxy';
import { makeFixtures, pattern, sha256, type Fixtures } from '../helpers/fixtures';
import { raw } from '../helpers/http';
import { waitFor } from '../helpers/proc';
import { startTestServer, type TestServer } from '../helpers/server';

const CHROMIUM = '/usr/bin/chromium';
const skip = fs.existsSync(CHROMIUM) ? false : `${CHROMIUM} is missing (Debian package chromium; .ci/run installs it)`;

const CHUNKED = 'chunks.bin';
const CHUNKED_SIZE = 3 * 1024 * 1024 + 12_345;
const REPLACED = 'replaced-between-chunks.bin';
const NAMED = 'résumé 2026 – final.pdf';
const CUT = 'cut.bin';
const CUT_CHANGED = 'cut-then-changed.bin';
const BIG = 8 * 1024 * 1024;
const CUT_AFTER = 1024 * 1024;
const CASE_MS = 20_000;

let fx: Fixtures;
let srv: TestServer;
let origin: PageOrigin;
let proxy: CuttingProxy;
let browser: Browser;

/** A second HTTP server on another port: pages it serves are cross-origin to rangeserve. */
interface PageOrigin {
  readonly url: string;
  /** Serves `html` at a new path and returns its URL. */
  show(html: string): string;
  close(): Promise<void>;
}

function startPageOrigin(): Promise<PageOrigin> {
  const pages = new Map<string, string>();
  const server = http.createServer((req, res) => {
    const html = pages.get(req.url ?? '');
    res.writeHead(html === undefined ? 404 : 200, { 'Content-Type': 'text/html; charset=utf-8' });
    res.end(html ?? 'not found');
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      resolve({
        url,
        show(html) {
          const p = `/page-${pages.size}`;
          pages.set(p, `<!doctype html><meta charset="utf-8"><title>client</title>${html}`);
          return `${url}${p}`;
        },
        close: () =>
          new Promise<void>((done) => {
            server.closeAllConnections();
            server.close(() => done());
          }),
      });
    });
  });
}

function put(name: string, data: Buffer, mtime: Date): void {
  const p = path.join(fx.root, name);
  fs.writeFileSync(p, data);
  fs.utimesSync(p, mtime, mtime);
}

/** Replaces a file atomically, as a publisher would, with a new mtime. */
function replace(name: string, data: Buffer): void {
  const p = path.join(fx.root, name);
  fs.writeFileSync(`${p}.new`, data);
  fs.utimesSync(`${p}.new`, new Date('2023-06-01Z'), new Date('2023-06-01Z'));
  fs.renameSync(`${p}.new`, p);
}

function fileUrl(base: string, name: string): string {
  return `${base}/files/${encodeURIComponent(name)}`;
}

async function etagOf(name: string): Promise<string> {
  const r = await raw(srv.url, { method: 'HEAD', path: `/files/${encodeURIComponent(name)}` });
  return String(r.headers.etag);
}

interface Logged {
  readonly status: number;
  readonly bytes: number;
}

/** The server's access-log lines for one path (every mode logs to the same stdout). */
function logged(name: string): Logged[] {
  const url = `/files/${encodeURIComponent(name)}`;
  const out: Logged[] = [];
  for (const line of srv.logs) {
    if (!line.startsWith('{')) continue;
    let m: { msg?: unknown; url?: unknown; status?: unknown; bytes?: unknown };
    try {
      m = JSON.parse(line) as typeof m;
    } catch {
      continue;
    }
    if (m.msg === 'response' && m.url === url && typeof m.status === 'number' && typeof m.bytes === 'number') {
      out.push({ status: m.status, bytes: m.bytes });
    }
  }
  return out;
}

async function withPage(run: (page: Page, context: BrowserContext) => Promise<void>): Promise<void> {
  const context = await browser.newContext({ acceptDownloads: true });
  try {
    await run(await context.newPage(), context);
  } finally {
    await context.close();
  }
}

/** Clicks a link to `href` on a page of the other origin and waits for the finished download. */
async function clickDownload(page: Page, href: string): Promise<{ suggested: string; saved: Buffer }> {
  await page.goto(origin.show(`<a id="get" href="${href}">download</a>`));
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#get')]);
  const file = await download.path();
  assert.equal(await download.failure(), null, 'Chromium reports the download as completed');
  return { suggested: download.suggestedFilename(), saved: fs.readFileSync(file) };
}

interface Chunk {
  readonly status: number;
  readonly contentRange: string | null;
  readonly contentLength: string | null;
  readonly etag: string | null;
  readonly length: number;
}

/**
 * Page script: fetches [from, to] of `url` (no-store, so Chromium's cache
 * cannot answer), with If-Range when given, and keeps the body in the page.
 * Runs in the browser: it may use only what it is passed.
 */
function fetchRange(a: { url: string; from: number; to: number; ifRange: string | null; keep: string }): Promise<Chunk> {
  const headers: Record<string, string> = { Range: `bytes=${a.from}-${a.to}` };
  if (a.ifRange !== null) headers['If-Range'] = a.ifRange;
  // Node's RequestInit type has no `cache`; the browser honours it.
  const init = { headers, cache: 'no-store' };
  return fetch(a.url, init).then(async (r) => {
    const body = new Uint8Array(await r.arrayBuffer());
    const store = globalThis as unknown as Record<string, Uint8Array[]>;
    (store[a.keep] ??= []).push(body);
    return {
      status: r.status,
      contentRange: r.headers.get('content-range'),
      contentLength: r.headers.get('content-length'),
      etag: r.headers.get('etag'),
      length: body.length,
    };
  });
}

/** Page script: SHA-256 (crypto.subtle) of the bodies kept under `keep`, concatenated. */
async function keptSha256(keep: string): Promise<string> {
  const parts = (globalThis as unknown as Record<string, Uint8Array[]>)[keep] ?? [];
  const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    all.set(p, at);
    at += p.length;
  }
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', all));
  return Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
}

before(async () => {
  if (skip) return;
  fx = makeFixtures();
  const mtime = new Date('2022-01-01Z');
  put(CHUNKED, pattern(7, CHUNKED_SIZE), mtime);
  put(REPLACED, pattern(11, CHUNKED_SIZE), mtime);
  put(NAMED, pattern(13, 300_000), mtime);
  put(CUT, pattern(17, BIG), mtime);
  put(CUT_CHANGED, pattern(19, BIG), mtime);
  srv = await startTestServer({ FILES_ROOT: fx.root });
  origin = await startPageOrigin();
  proxy = await startCuttingProxy(srv.port);
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'], timeout: 15_000 });
});

after(async () => {
  await browser?.close();
  await proxy?.close();
  await origin?.close();
  await srv?.stop();
  fx?.cleanup();
});

describe(`Chromium (${process.env['RS_TEST_MODE'] ?? 'stream'})`, { skip }, () => {
  test('a page on another origin fetches the file in three ranges with If-Range (preflighted); headers are readable and the bytes hash like the file', { timeout: CASE_MS }, async () => {
    await withPage(async (page, context) => {
      const cdp = await context.newCDPSession(page);
      const preflights: string[] = [];
      cdp.on('Network.requestWillBeSent', (e) => {
        if (e.request.method === 'OPTIONS') preflights.push(String(e.request.headers['Access-Control-Request-Headers']));
      });
      await cdp.send('Network.enable');
      await page.goto(origin.show('<p>chunks</p>'));

      const url = fileUrl(srv.url, CHUNKED);
      const cuts = [0, 1_000_000, 2_500_000, CHUNKED_SIZE];
      const chunks: Chunk[] = [];
      let etag: string | null = null;
      for (let i = 0; i < 3; i++) {
        const from = cuts[i]!;
        const to = cuts[i + 1]! - 1;
        const c: Chunk = await page.evaluate(fetchRange, { url, from, to, ifRange: etag, keep: 'chunks' });
        etag ??= c.etag;
        chunks.push(c);
        assert.equal(c.status, 206, `chunk ${i}`);
        assert.equal(c.contentRange, `bytes ${from}-${to}/${CHUNKED_SIZE}`, `chunk ${i}`);
        assert.equal(c.contentLength, String(to - from + 1), `chunk ${i}`);
        assert.equal(c.length, to - from + 1, `chunk ${i}`);
      }
      assert.equal(etag, await etagOf(CHUNKED), 'the page reads the ETag');
      assert.ok(chunks.every((c) => c.etag === etag), 'every chunk carries the same ETag');
      assert.ok(
        preflights.some((h) => h.toLowerCase().split(/\s*,\s*/).includes('if-range')),
        `Chromium preflighted If-Range (preflights: ${JSON.stringify(preflights)})`,
      );
      assert.equal(await page.evaluate(keptSha256, 'chunks'), sha256(fs.readFileSync(path.join(fx.root, CHUNKED))));
    });
  });

  test('the file is replaced between two ranges: the next If-Range fetch gets 200 with the whole new file', { timeout: CASE_MS }, async () => {
    await withPage(async (page) => {
      await page.goto(origin.show('<p>replaced</p>'));
      const url = fileUrl(srv.url, REPLACED);
      const first = await page.evaluate(fetchRange, { url, from: 0, to: 999_999, ifRange: null, keep: 'first' });
      assert.equal(first.status, 206);
      assert.ok(first.etag !== null);

      const replacement = pattern(101, CHUNKED_SIZE);
      replace(REPLACED, replacement);
      const next = await page.evaluate(fetchRange, { url, from: 1_000_000, to: 1_999_999, ifRange: first.etag, keep: 'next' });
      assert.equal(next.status, 200, 'a changed file restarts the download');
      assert.equal(next.contentRange, null);
      assert.equal(next.contentLength, String(CHUNKED_SIZE));
      assert.equal(next.length, CHUNKED_SIZE);
      assert.notEqual(next.etag, first.etag);
      assert.equal(next.etag, await etagOf(REPLACED));
      assert.equal(await page.evaluate(keptSha256, 'next'), sha256(replacement), 'the whole new file, nothing of the old one');
    });
  });

  test('clicking a link downloads the file: the saved bytes hash like the original and the non-ASCII name is suggested', { timeout: CASE_MS }, async () => {
    await withPage(async (page) => {
      const { suggested, saved } = await clickDownload(page, fileUrl(srv.url, NAMED));
      assert.equal(suggested, NAMED);
      assert.equal(sha256(saved), sha256(fs.readFileSync(path.join(fx.root, NAMED))));
    });
  });

  test('a download cut mid-body (FIN) is resumed by Chromium with Range + If-Range, gets 206, and the saved file is byte-exact', { timeout: CASE_MS }, async () => {
    const etag = await etagOf(CUT);
    const seenBefore = proxy.requests.length;
    proxy.cutOnce(CUT_AFTER);
    await withPage(async (page) => {
      const { suggested, saved } = await clickDownload(page, fileUrl(proxy.url, CUT));
      assert.equal(suggested, CUT);
      assert.equal(sha256(saved), sha256(fs.readFileSync(path.join(fx.root, CUT))));
    });
    const gets = proxy.requests.slice(seenBefore).filter((r) => r.line.startsWith(`GET /files/${CUT} `));
    assert.equal(gets.length, 2, 'the first request and one resume');
    assert.equal(gets[0]!.headers['range'], undefined);
    const resume = gets[1]!;
    const m = /^bytes=(\d+)-$/.exec(resume.headers['range'] ?? '');
    assert.ok(m, `resume Range: ${resume.headers['range']}`);
    const offset = Number(m[1]);
    assert.ok(offset > 0 && offset <= CUT_AFTER, `resumed at ${offset}, after at most ${CUT_AFTER} relayed bytes`);
    assert.equal(resume.headers['if-range'], etag);
    assert.ok(
      await waitFor(() => logged(CUT).some((l) => l.status === 206 && l.bytes === BIG - offset), 5_000),
      `the server answered the resume with 206 and the rest: ${JSON.stringify(logged(CUT))}`,
    );
  });

  test('a download cut, then the file replaced before the resume: Chromium gets 200 and saves the new file, never a splice', { timeout: CASE_MS }, async () => {
    const oldEtag = await etagOf(CUT_CHANGED);
    const replacement = pattern(103, BIG);
    const seenBefore = proxy.requests.length;
    proxy.cutOnce(CUT_AFTER, () => replace(CUT_CHANGED, replacement));
    await withPage(async (page) => {
      const { saved } = await clickDownload(page, fileUrl(proxy.url, CUT_CHANGED));
      assert.equal(saved.length, BIG);
      assert.equal(sha256(saved), sha256(replacement), 'the saved file is the new version, whole');
    });
    const gets = proxy.requests.slice(seenBefore).filter((r) => r.line.startsWith(`GET /files/${CUT_CHANGED} `));
    assert.ok(gets.length >= 2, 'Chromium came back after the cut');
    assert.match(gets[1]!.headers['range'] ?? '', /^bytes=\d+-$/);
    assert.equal(gets[1]!.headers['if-range'], oldEtag, 'the resume named the old version');
    assert.ok(
      await waitFor(() => logged(CUT_CHANGED).some((l) => l.status === 200 && l.bytes === BIG), 5_000),
      `the server answered with the whole new file: ${JSON.stringify(logged(CUT_CHANGED))}`,
    );
    assert.ok(!logged(CUT_CHANGED).some((l) => l.status === 206), 'no part of the new file was sent as a continuation');
  });
});
