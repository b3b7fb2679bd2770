/**
 * Issue 5: with hints on and HINT_DONTNEED_THRESHOLD below the file size, a
 * 256 MiB download leaves at most a few MiB of the file in the page cache
 * (DONTNEED behind the reader, the rest at the end); with HINTS=off the kernel
 * keeps most of it. Checked with fincore, as a user would, in both engines
 * (MODE overrides RS_TEST_MODE here), bytes checked by SHA-256.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { download, evict, pageCacheSkipReason, residentBytes, writeDataFile } from '../helpers/page-cache';
import { waitFor } from '../helpers/proc';
import { startTestServer, type TestServer } from '../helpers/server';
import { SUITE_TIMEOUT_MS } from '../helpers/timeouts';

const MiB = 1024 * 1024;
const SIZE = 256 * MiB;
/** "At most a few MiB": what may stay resident after a download with DONTNEED behind the reader. */
const AT_MOST_RESIDENT = 4 * MiB;
/** "Most of it": what the kernel keeps without hints (the machine has memory to spare). */
const AT_LEAST_RESIDENT = Math.floor(SIZE * 0.75);

const NOT_EVICTED = 'this filesystem keeps the file cached after fsync + DONTNEED, so hints cannot drop it either';

let dir = '';
let file = '';
let sha = '';
let skip: string | undefined;
let cases = 0;

before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rangeserve-hints-'));
  skip = pageCacheSkipReason(dir);
});
after(() => {
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

/** Undefined when the file could not be evicted (a filesystem that ignores DONTNEED): nothing to measure. */
async function downloadCold(env: Record<string, string>): Promise<{ resident: number } | undefined> {
  // A fresh file per case: pages of a file the previous case just sent may stay pinned for a while.
  const name = `big-${cases++}.bin`;
  file = path.join(dir, name);
  sha = writeDataFile(file, SIZE);
  const cold = await waitFor(() => {
    evict(file);
    return residentBytes(file) === 0;
  }, 8_000); // past ext4's 5 s journal commit, which can hold freshly written pages
  if (!cold) return undefined;
  let srv: TestServer | undefined;
  try {
    srv = await startTestServer({ FILES_ROOT: dir, ...env });
    const got = await download(srv.url, `/files/${name}`);
    assert.equal(got.status, 200);
    assert.equal(got.bytes, SIZE);
    assert.equal(got.sha256, sha);
    if (env['HINTS'] === 'on') {
      // The final DONTNEED runs once the last read returned, just after the last byte left.
      await waitFor(() => residentBytes(file) <= AT_MOST_RESIDENT, 3_000);
    }
    return { resident: residentBytes(file) };
  } finally {
    await srv?.stop();
    fs.rmSync(file, { force: true });
  }
}

for (const mode of ['stream', 'worker'] as const) {
  describe(`page-cache footprint of a 256 MiB download, ${mode} engine`, { timeout: SUITE_TIMEOUT_MS }, () => {
    test('hints on, DONTNEED threshold 64 MiB: at most a few MiB stay resident', async (t) => {
      if (skip) return t.skip(skip);
      const got = await downloadCold({ MODE: mode, HINTS: 'on', HINT_DONTNEED_THRESHOLD: '64MiB' });
      if (!got) return t.skip(NOT_EVICTED);
      const { resident } = got;
      assert.ok(resident <= AT_MOST_RESIDENT, `${resident} bytes resident, expected at most ${AT_MOST_RESIDENT}`);
    });

    test('HINTS=off: most of the file stays resident', async (t) => {
      if (skip) return t.skip(skip);
      const got = await downloadCold({ MODE: mode, HINTS: 'off' });
      if (!got) return t.skip(NOT_EVICTED);
      const { resident } = got;
      assert.ok(resident >= AT_LEAST_RESIDENT, `${resident} bytes resident, expected at least ${AT_LEAST_RESIDENT}`);
    });
  });
}
