/**
 * Random byte ranges for the seek and multi-range scenarios.
 */
import { randInt } from './http-util.ts';
import type { ByteRange } from './http-util.ts';

/** `bytes=a-b,c-d` for the given ranges (inclusive ends). */
export function rangeHeader(ranges: ByteRange[]): string {
  return 'bytes=' + ranges.map((r) => `${r.start}-${r.end}`).join(',');
}

/**
 * `count` ranges in ascending order, each 1..maxLen bytes, separated by gaps
 * of at least `minGap` bytes, so a server that coalesces overlapping or
 * adjacent ranges (or ranges closer than its per-part overhead) still has to
 * answer with `count` separate parts. Returns fewer ranges only when the file
 * is too small to fit `count` of them.
 */
export function disjointRanges(size: number, count: number, maxLen: number, minGap: number): ByteRange[] {
  // Reserve room: count ranges of up to maxLen plus (count - 1) gaps.
  const lens: number[] = [];
  for (let i = 0; i < count; i++) lens.push(randInt(1, Math.max(1, maxLen)));
  let total = lens.reduce((a, b) => a + b, 0) + (count - 1) * minGap;
  while (total > size && lens.length > 0) {
    // Shrink the longest range until everything fits, then drop ranges.
    let longest = 0;
    for (let i = 1; i < lens.length; i++) if (lens[i] > lens[longest]) longest = i;
    if (lens[longest] > 1) {
      const cut = Math.min(lens[longest] - 1, total - size);
      lens[longest] -= cut;
      total -= cut;
    } else {
      lens.pop();
      total -= 1 + minGap;
    }
  }
  if (lens.length === 0) return [];
  // Spread the slack randomly: before the first range, between ranges, after the last.
  const slack = size - total;
  const cuts: number[] = [];
  for (let i = 0; i < lens.length + 1; i++) cuts.push(Math.random());
  const sum = cuts.reduce((a, b) => a + b, 0);
  const extra = cuts.map((c) => Math.floor((c / sum) * slack));
  const ranges: ByteRange[] = [];
  let pos = extra[0];
  for (let i = 0; i < lens.length; i++) {
    const start = pos;
    const end = start + lens[i] - 1;
    ranges.push({ start, end });
    pos = end + 1 + minGap + extra[i + 1];
  }
  return ranges;
}

export type SeekKind = 'closed' | 'suffix' | 'open';

export interface SeekRequest {
  kind: SeekKind;
  header: string;
  /** The range the server must answer with. */
  start: number;
  end: number;
}

/**
 * One random single range within a file of `size` bytes, at most `maxLen`
 * bytes long: mostly `a-b`, sometimes a suffix `-n` or an open `a-` near the end.
 */
export function randomSeek(size: number, maxLen: number, shortShare: number, shortMax: number): SeekRequest {
  const limit = Math.max(1, Math.min(maxLen, size));
  const len = Math.random() < shortShare ? randInt(1, Math.min(limit, shortMax)) : randInt(1, limit);
  const roll = Math.random();
  if (roll < 0.1) {
    return { kind: 'suffix', header: `bytes=-${len}`, start: size - len, end: size - 1 };
  }
  if (roll < 0.2) {
    const start = size - len;
    return { kind: 'open', header: `bytes=${start}-`, start, end: size - 1 };
  }
  const start = randInt(0, size - len);
  return { kind: 'closed', header: `bytes=${start}-${start + len - 1}`, start, end: start + len - 1 };
}
