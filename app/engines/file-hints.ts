/**
 * Page-cache hints for one open file (docs/hints.md), shared by both engines
 * through gated-file.ts: it turns the body a response is about to send into
 * the policy's hints (app/native/hint-policy.ts, pure) and hands them, in
 * batches, to a sender that runs them off the main thread (libuv's pool in the
 * stream engine, the volume's reader thread in the worker engine).
 *
 * Hints are advice, so nothing here may delay or fail a response:
 * - at most one batch per file is in flight; hints that arise meanwhile wait
 *   in a small queue and go with the next batch;
 * - the sender refuses when the volume has no free slot ('busy'): the batch
 *   stays queued and goes with the next read, and WILLNEEDs the reader has
 *   already passed are dropped (prefetching bytes already read is useless);
 * - a failed batch is counted and forgotten.
 * Once the file is closing, drain() sends what is queued one last time (the
 * final DONTNEED of a big download) and the file is closed only after that.
 */
import type { BodyPiece } from '../core/types';
import { HintTracker, type Hint, type HintOptions } from '../native/hint-policy';

/** How a batch of hints fared, for /metrics. */
export type HintOutcome = 'sent' | 'failed' | 'deferred' | 'dropped';

/** Runs a batch for this file, or says why it will not now. */
export type HintSender = (hints: readonly Hint[]) => Promise<void> | 'busy' | 'closed';

export interface FileHintsOptions {
  readonly options: HintOptions;
  readonly send: HintSender;
  /** Counts hints by outcome (metrics); optional. */
  readonly count?: (outcome: HintOutcome, hints: number) => void;
}

/** Queue bound: what a busy volume can pile up (WILLNEEDs ahead of the reader, merged DONTNEEDs). */
const MAX_QUEUED = 64;

/**
 * trackersFor plans one tracker per file span of the body. A single span that
 * reaches the end of the file is served like an open-ended range (`bytes=N-`,
 * a resume) unless it is a small tail (a player reading an index at the end).
 * Several spans (multipart) keep an fd-wide RANDOM only if every span is small,
 * since RANDOM would starve the large ones of readahead.
 */
export function trackersFor(body: readonly BodyPiece[], size: number, options: HintOptions): { trackers: HintTracker[]; atOpen: Hint[] } {
  const spans = body.flatMap((b) => (b.kind === 'file' && b.end >= b.start && b.end < size ? [{ start: b.start, end: b.end }] : []));
  const single = spans.length === 1;
  const trackers = spans.map(
    (s) =>
      new HintTracker(
        {
          size,
          start: s.start,
          end: s.end,
          wholeOrOpenEnded: single && s.end === size - 1 && (s.start === 0 || s.end - s.start + 1 > options.smallRangeBytes),
        },
        options,
      ),
  );
  const allRandom = trackers.length > 0 && trackers.every((t) => t.plan.pattern === 'random');
  const atOpen: Hint[] = [];
  let fdWide = false;
  for (const t of trackers) {
    for (const h of t.atOpen()) {
      const isFdWide = h.advice === 'random' || h.advice === 'sequential' || h.advice === 'normal';
      if (!isFdWide) atOpen.push(h);
      else if (single || (allRandom && !fdWide)) {
        atOpen.unshift(h); // fd-wide advice first, before any WILLNEED
        fdWide = true;
      }
    }
  }
  return { trackers, atOpen };
}

export class FileHints {
  readonly #opts: FileHintsOptions;
  #trackers: HintTracker[] = [];
  #queue: Hint[] = [];
  #inFlight: Promise<void> | undefined;
  #readUpTo = 0;
  #closing = false;

  constructor(opts: FileHintsOptions) {
    this.#opts = opts;
  }

  /**
   * The body is known (before its first read): plan and send the open-time hints.
   * With `carry` (a sender that runs hints just before the first read, in the same
   * task), the light ones go that way: fd-wide advice and WILLNEED within the bytes
   * of the first read (`carry.upTo`, exclusive), which cost the read nothing. Heavier
   * ones (the prefetch window, which may block on a slow disk) follow as their own batch.
   */
  start(body: readonly BodyPiece[], size: number, carry?: { readonly send: HintSender; readonly upTo: number }): void {
    if (this.#closing || this.#trackers.length > 0) return;
    this.#safely(() => {
      const { trackers, atOpen } = trackersFor(body, size, this.#opts.options);
      this.#trackers = trackers;
      if (!carry) {
        this.#enqueue(atOpen);
        this.#flush();
        return;
      }
      const light = (h: Hint): boolean => h.advice !== 'willneed' || h.offset + h.length <= carry.upTo;
      this.#enqueue(atOpen.filter(light));
      this.#flush(carry.send);
      this.#enqueue(atOpen.filter((h) => !light(h))); // goes once the carried batch settled
      this.#flush();
    });
  }

  /** A read of `bytes` bytes at `position` returned. */
  afterRead(position: number, bytes: number): void {
    if (this.#closing || bytes <= 0) return;
    const end = position + bytes;
    this.#readUpTo = Math.max(this.#readUpTo, end);
    const t = this.#trackers.find((x) => position >= x.plan.start && position < x.plan.endExclusive);
    if (!t) return;
    this.#safely(() => {
      this.#enqueue(t.afterRead(end));
      this.#flush();
    });
  }

  /** Hints are advice: a bug or a sender that throws costs the hints, never the response. */
  #safely(fn: () => void): void {
    try {
      fn();
    } catch {
      this.#opts.count?.('failed', this.#queue.length);
      this.#queue = [];
    }
  }

  /**
   * The file is about to close: no new hints; what is queued is sent once more
   * (dropped if the volume is busy). Resolves when no batch is in flight, so the
   * fd can be closed (a hint must never reach a reused descriptor number).
   * Undefined when there is nothing to wait for.
   */
  drain(): Promise<void> | undefined {
    this.#closing = true;
    if (!this.#inFlight) {
      this.#safely(() => this.#flush());
      if (this.#queue.length > 0) this.#drop();
    }
    return this.#inFlight;
  }

  #enqueue(hints: readonly Hint[]): void {
    for (const h of hints) {
      const last = this.#queue[this.#queue.length - 1];
      // Adjacent DONTNEEDs merge (bounded-length ones only; length 0 means "to EOF").
      if (h.advice === 'dontneed' && last?.advice === 'dontneed' && last.length > 0 && last.offset + last.length === h.offset) {
        this.#queue[this.#queue.length - 1] = { advice: 'dontneed', offset: last.offset, length: h.length === 0 ? 0 : last.length + h.length };
      } else {
        this.#queue.push(h);
      }
    }
    if (this.#queue.length > MAX_QUEUED) {
      const over = this.#queue.length - MAX_QUEUED;
      this.#opts.count?.('dropped', over);
      this.#queue.splice(0, over);
    }
  }

  #drop(): void {
    this.#opts.count?.('dropped', this.#queue.length);
    this.#queue = [];
  }

  #flush(send: HintSender = this.#opts.send): void {
    if (this.#inFlight || this.#queue.length === 0) return;
    // WILLNEED for bytes the reader has already passed prefetches nothing.
    const before = this.#queue.length;
    this.#queue = this.#queue.filter((h) => h.advice !== 'willneed' || h.offset + h.length > this.#readUpTo);
    if (this.#queue.length < before) this.#opts.count?.('dropped', before - this.#queue.length);
    if (this.#queue.length === 0) return;
    const batch = this.#queue;
    const sent = send(batch);
    if (sent === 'closed') return this.#drop();
    if (sent === 'busy') {
      this.#opts.count?.('deferred', batch.length);
      if (this.#closing) this.#drop();
      return;
    }
    this.#queue = [];
    const settled = sent.then(
      () => this.#opts.count?.('sent', batch.length),
      () => this.#opts.count?.('failed', batch.length),
    );
    this.#inFlight = settled.then(() => {
      this.#inFlight = undefined;
      if (this.#closing) {
        // drain() was called while this batch ran: the last send, then done.
        this.#safely(() => this.#flush());
        if (!this.#inFlight && this.#queue.length > 0) this.#drop();
        return this.#inFlight;
      }
      this.#safely(() => this.#flush());
      return undefined;
    });
  }
}
