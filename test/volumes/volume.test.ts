/**
 * The per-volume gate's rules, one named case each, on a Volume with fake
 * operations (promises the test settles), so no disk and no clock but the
 * gate's own timers are involved.
 */
import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import { describe, test } from 'node:test';
import { requestBudget, Volume, VolumeRegistry, type GateLimits, type VolumeEvent, type VolumeObserver } from '../../app/volumes';

const limits: GateLimits = { maxInflight: 2, maxQueue: 2, timeoutMs: 200, errorLimit: 2, errorWindowMs: 60_000 };
const quiet: VolumeObserver = { opDone: () => undefined, timedOut: () => undefined, rejected: () => undefined, stateChanged: () => undefined };

interface Held {
  readonly promise: Promise<string>;
  release(v?: string): void;
  fail(e: Error): void;
}
function held(): Held {
  let release!: (v: string) => void;
  let fail!: (e: Error) => void;
  const promise = new Promise<string>((res, rej) => {
    release = res;
    fail = rej;
  });
  return { promise, release: (v = 'ok') => release(v), fail };
}
const code = (e: unknown): unknown => (e as { code?: unknown }).code;
const eio = (): Error => Object.assign(new Error('EIO: i/o error'), { code: 'EIO' });
const volume = (l: GateLimits = limits): Volume => new Volume('0:1', 1, '.', '/srv', l, quiet);

describe('volume gate', () => {
  test('at most maxInflight operations run; the next waits and starts when one finishes', async () => {
    const v = volume();
    const ops = [held(), held(), held()];
    let started = 0;
    const runs = ops.map((h) => v.run('read', () => (started++, h.promise)));
    assert.equal(started, 2);
    assert.equal(v.queued, 1);
    ops[0]!.release();
    await runs[0];
    assert.equal(started, 3);
    ops[1]!.release();
    ops[2]!.release();
    assert.deepEqual(await Promise.all(runs), ['ok', 'ok', 'ok']);
    assert.equal(v.inflight, 0);
  });

  test('a `later` operation (a body\'s next chunk) waits behind every other queued one and is never refused for a full queue', async () => {
    const v = volume();
    const running = [held(), held()];
    const order: string[] = [];
    const runs = running.map((h) => v.run('read', () => h.promise));
    const next = v.run('read', () => (order.push('next chunk'), Promise.resolve('n')), { later: true });
    const queued = [v.run('stat', () => (order.push('stat'), Promise.resolve('s'))), v.run('open', () => (order.push('open'), Promise.resolve('o')))];
    // The queue (maxQueue 2) is full for new requests, not for a response's next chunk.
    await assert.rejects(v.run('read', () => Promise.resolve('x')), (e) => code(e) === 'RS_ERR_VOLUME_BUSY');
    const alsoLater = v.run('read', () => (order.push('another chunk'), Promise.resolve('a')), { later: true });
    assert.equal(v.queued, 4);
    running[0]!.release();
    running[1]!.release();
    assert.deepEqual(await Promise.all([...runs, next, ...queued, alsoLater]), ['ok', 'ok', 'n', 's', 'o', 'a']);
    assert.deepEqual(order, ['stat', 'open', 'next chunk', 'another chunk']);
    assert.equal(v.queued, 0);
  });

  test('a full queue refuses at once with RS_ERR_VOLUME_BUSY', async () => {
    const v = volume();
    const hs = [held(), held(), held(), held()];
    const runs = hs.map((h) => v.run('read', () => h.promise));
    await assert.rejects(v.run('read', () => Promise.resolve('x')), (e) => code(e) === 'RS_ERR_VOLUME_BUSY');
    for (const h of hs) h.release();
    await Promise.all(runs);
  });

  test('an operation past its deadline fails the caller; its late result goes to `late`', async () => {
    const v = volume();
    const h = held();
    const lateValues: string[] = [];
    await assert.rejects(v.run('open', () => h.promise, { late: (x) => lateValues.push(x) }), (e) => code(e) === 'RS_ERR_READ_TIMEOUT');
    assert.equal(v.inflight, 1, 'the slot stays counted while the kernel works');
    h.release('fd');
    await h.promise;
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(lateValues, ['fd']);
    assert.equal(v.inflight, 0);
  });

  describe("the request's budget before its headers bounds each operation it starts", () => {
    const rows: { name: string; budgetMs: number | undefined; failsWithinMs: number | undefined }[] = [
      { name: 'no budget: the operation keeps its own deadline (200 ms)', budgetMs: undefined, failsWithinMs: 200 },
      { name: 'a budget shorter than the deadline ends the operation first', budgetMs: 60, failsWithinMs: 60 },
      { name: 'a spent budget refuses the operation before it starts', budgetMs: 0, failsWithinMs: 0 },
      { name: 'a lifted budget (headers sent) leaves the deadline alone', budgetMs: Infinity, failsWithinMs: 200 },
    ];
    for (const row of rows) {
      test(row.name, async () => {
        const v = volume();
        const h = held();
        let started = false;
        const budget = row.budgetMs === undefined ? undefined : requestBudget(row.budgetMs);
        const t0 = Date.now();
        await assert.rejects(
          v.run('stat', () => ((started = true), h.promise), budget ? { budget } : {}),
          (e) => code(e) === 'RS_ERR_READ_TIMEOUT',
        );
        const took = Date.now() - t0;
        assert.ok(took >= (row.failsWithinMs ?? 0) - 5 && took < (row.failsWithinMs ?? 0) + 150, `failed after ${took} ms`);
        assert.equal(started, row.budgetMs !== 0, 'a spent budget never reaches the disk');
        h.release();
        await h.promise;
      });
    }
  });

  test('a client that goes away drops its operation still waiting for a slot', async () => {
    const v = volume();
    const a = held();
    const b = held();
    const ra = v.run('read', () => a.promise);
    const rb = v.run('read', () => b.promise);
    const ac = new AbortController();
    let ran = false;
    const rc = v.run('read', () => ((ran = true), Promise.resolve('c')), { signal: ac.signal });
    ac.abort();
    await assert.rejects(rc, (e) => code(e) === 'RS_ERR_CANCELLED');
    assert.equal(v.queued, 0);
    a.release();
    b.release();
    await Promise.all([ra, rb]);
    assert.equal(ran, false, 'the cancelled operation never ran');
  });

  test('a running operation is not cancelled by its client going away', async () => {
    const v = volume();
    const h = held();
    const ac = new AbortController();
    const r = v.run('read', () => h.promise, { signal: ac.signal });
    ac.abort();
    h.release('bytes');
    assert.equal(await r, 'bytes');
  });

  test('an operation that started or finished no longer listens to the client signal (a download reuses one signal)', async () => {
    const v = volume();
    const ac = new AbortController();
    const a = held();
    const b = held();
    const ra = v.run('read', () => a.promise, { signal: ac.signal });
    const rb = v.run('read', () => b.promise, { signal: ac.signal });
    const h = held();
    const rq = v.run('read', () => h.promise, { signal: ac.signal });
    assert.equal(getEventListeners(ac.signal, 'abort').length, 1, 'only the queued operation listens');
    a.release();
    b.release();
    await Promise.all([ra, rb]);
    assert.equal(getEventListeners(ac.signal, 'abort').length, 0, 'the started operation let go of the signal');
    h.release();
    await rq;
    // A long download: many reads on one signal leave no listener (each held the read's bytes alive).
    for (let i = 0; i < 50; i++) await v.run('read', () => Promise.resolve('x'), { signal: ac.signal });
    assert.equal(getEventListeners(ac.signal, 'abort').length, 0);
  });

  test('an operation that times out while queued lets go of the client signal', async () => {
    const v = volume({ ...limits, maxInflight: 1, timeoutMs: 50 });
    const h = held();
    const ra = v.run('read', () => h.promise).catch(code); // the running one times out too
    const ac = new AbortController();
    await assert.rejects(v.run('read', () => Promise.resolve('late'), { signal: ac.signal }), (e) => code(e) === 'RS_ERR_READ_TIMEOUT');
    assert.equal(getEventListeners(ac.signal, 'abort').length, 0);
    h.release();
    assert.equal(await ra, 'RS_ERR_READ_TIMEOUT');
  });

  test('errorLimit I/O errors within the window degrade the volume; then it refuses at once', async () => {
    const v = volume();
    for (let i = 0; i < 2; i++) await assert.rejects(v.run('read', () => Promise.reject(eio())));
    assert.equal(v.state, 'degraded');
    let ran = false;
    await assert.rejects(
      v.run('read', () => ((ran = true), Promise.resolve('x'))),
      (e) => code(e) === 'RS_ERR_VOLUME_DEGRADED',
    );
    assert.equal(ran, false);
  });

  test('timeouts while waiting for a slot do not count against the volume', async () => {
    // The two running operations outlast the deadline (2 faults, under the limit of 3);
    // the three waiting ones time out in the queue and must not add to that.
    const v = volume({ ...limits, maxQueue: 10, errorLimit: 3 });
    const hs = [held(), held()];
    const running = hs.map((h) => v.run('read', () => h.promise, { noDeadline: true }));
    const waiting = [1, 2, 3].map(() => v.run('read', () => Promise.resolve('x')));
    for (const w of waiting) await assert.rejects(w, (e) => code(e) === 'RS_ERR_READ_TIMEOUT');
    assert.equal(v.state, 'healthy');
    for (const h of hs) h.release();
    await Promise.all(running);
  });

  test('close and probe run on a degraded volume (mustRun)', async () => {
    const v = volume();
    v.setState('degraded', {});
    assert.equal(await v.run('close', () => Promise.resolve('closed'), { mustRun: true, noDeadline: true }), 'closed');
    assert.equal(await v.run('probe', () => Promise.resolve('read'), { mustRun: true }), 'read');
  });
});

describe('volume health shared between cluster processes', () => {
  const mounts = (): { root: { path: string; dev: number; major: number; minor: number }; inside: never[] } => ({
    root: { path: '/srv', dev: 7, major: 0, minor: 7 },
    inside: [],
  });
  const settings = { ...limits, probeIntervalMs: 1000, rescanMs: 0, maxVolumes: 8 };
  const registry = (): VolumeRegistry => new VolumeRegistry('/srv', settings, undefined, undefined, mounts as never);

  test("this process's faults and state changes are published once each", async () => {
    const r = registry();
    const sent: VolumeEvent[] = [];
    r.onLocalEvent = (e) => sent.push(e);
    for (let i = 0; i < 2; i++) await assert.rejects(r.run('/srv/a', 'read', () => Promise.reject(eio())));
    assert.deepEqual(
      sent.map((e) => e.kind),
      ['error', 'error', 'state'],
    );
    assert.deepEqual(sent[2], { kind: 'state', dev: 7, state: 'degraded' });
  });

  test("a peer's faults count toward this process's limit, and are not published again", () => {
    const r = registry();
    const sent: VolumeEvent[] = [];
    r.onLocalEvent = (e) => sent.push(e);
    r.applyPeerEvent({ kind: 'error', dev: 7, op: 'read', what: 'EIO' });
    r.applyPeerEvent({ kind: 'error', dev: 7, op: 'read', what: 'EIO' });
    assert.equal(r.of('/srv/a').state, 'degraded');
    assert.deepEqual(sent, []);
  });

  test("a peer's restore restores this process's volume", () => {
    const r = registry();
    r.applyPeerEvent({ kind: 'state', dev: 7, state: 'degraded' });
    assert.equal(r.allHealthy(), false);
    r.applyPeerEvent({ kind: 'state', dev: 7, state: 'healthy' });
    assert.equal(r.allHealthy(), true);
  });

  test('events for an unknown device are ignored', () => {
    const r = registry();
    r.applyPeerEvent({ kind: 'state', dev: 99, state: 'degraded' });
    assert.equal(r.allHealthy(), true);
  });
});
