/**
 * Entity tags (RFC 9110 §8.8.3): building the file's strong validator, parsing
 * the tags clients send back, and the two comparison functions of §8.8.3.2.
 *
 *   entity-tag = [ weak ] opaque-tag
 *   weak       = %s"W/"
 *   opaque-tag = DQUOTE *etagc DQUOTE
 *   etagc      = %x21 / %x23-7E / obs-text
 *
 * A comma is a legal etagc, so a list such as `"a,b", "c"` has to be scanned
 * tag by tag; splitting on commas would cut `"a,b"` in two.
 */
import type { FileMeta } from './types';

/** A parsed entity-tag. `opaque` keeps its double quotes, exactly as on the wire. */
export interface EntityTag {
  readonly weak: boolean;
  readonly opaque: string;
}

/** If-Match / If-None-Match field value: `*`, or a list of entity-tags (§13.1.1, §13.1.2). */
export type EntityTagList =
  | { readonly kind: 'any' }
  | { readonly kind: 'tags'; readonly tags: readonly EntityTag[] };

/**
 * makeETag builds the strong ETag of a file from its size and its mtime in
 * nanoseconds, both in lower-case hex: `"<size>-<mtimeNs>"`.
 *
 * Decision 1: no inode, device, PID or per-process salt, so every node serving
 * a copy with the same size and mtime sends the same tag and a resume behind a
 * load balancer keeps working (checklist rows 5-6). The nanosecond mtime makes
 * a rewrite within the same second produce a new tag. Known limitation (row 56):
 * different bytes with the same size and the same mtime (`cp -p`, tar, image
 * layers with fixed mtimes) collide; a content digest is the remedy.
 */
export function makeETag(file: FileMeta): string {
  return `"${file.size.toString(16)}-${file.mtimeNs.toString(16)}"`;
}

function isEtagc(code: number): boolean {
  return code === 0x21 || (code >= 0x23 && code <= 0x7e) || (code >= 0x80 && code <= 0xff);
}

function isOws(code: number): boolean {
  return code === 0x20 || code === 0x09;
}

/**
 * Reads one entity-tag starting at `pos`. Returns the tag and the index just
 * after it, or undefined when no well-formed tag starts there.
 */
function scanEntityTag(text: string, pos: number): { tag: EntityTag; next: number } | undefined {
  let i = pos;
  let weak = false;
  if (text.startsWith('W/', i)) {
    weak = true;
    i += 2;
  }
  if (text.charCodeAt(i) !== 0x22) return undefined;
  const open = i;
  i += 1;
  while (i < text.length && text.charCodeAt(i) !== 0x22) {
    if (!isEtagc(text.charCodeAt(i))) return undefined;
    i += 1;
  }
  if (i >= text.length) return undefined;
  return { tag: { weak, opaque: text.slice(open, i + 1) }, next: i + 1 };
}

function trimOws(text: string): string {
  let start = 0;
  let end = text.length;
  while (start < end && isOws(text.charCodeAt(start))) start += 1;
  while (end > start && isOws(text.charCodeAt(end - 1))) end -= 1;
  return text.slice(start, end);
}

/**
 * parseEntityTag reads a field value that must hold exactly one entity-tag
 * (If-Range, §13.1.5, or a response ETag). Anything around the tag other than
 * OWS makes it malformed: `"zz", "o"` and `x"o"` are not a tag (row 49).
 */
export function parseEntityTag(value: string): EntityTag | undefined {
  const text = trimOws(value);
  const scanned = scanEntityTag(text, 0);
  if (scanned === undefined || scanned.next !== text.length) return undefined;
  return scanned.tag;
}

/**
 * parseEntityTagList reads an If-Match or If-None-Match value: `*` alone, or
 * `#entity-tag`. Per the list rule (§5.6.1.2) OWS around commas and empty
 * elements (`"a",,"b",`) are accepted. Returns undefined for a malformed value
 * (`*` mixed with tags, an unquoted tag, a stray character); a value with no
 * element at all (empty or only commas) yields an empty tag list, which callers
 * treat as the header being absent.
 */
export function parseEntityTagList(value: string): EntityTagList | undefined {
  const text = trimOws(value);
  if (text === '*') return { kind: 'any' };
  const tags: EntityTag[] = [];
  let i = 0;
  for (;;) {
    while (i < text.length && (isOws(text.charCodeAt(i)) || text.charCodeAt(i) === 0x2c)) i += 1;
    if (i >= text.length) break;
    const scanned = scanEntityTag(text, i);
    if (scanned === undefined) return undefined;
    tags.push(scanned.tag);
    i = scanned.next;
    while (i < text.length && isOws(text.charCodeAt(i))) i += 1;
    if (i < text.length && text.charCodeAt(i) !== 0x2c) return undefined;
  }
  return { kind: 'tags', tags };
}

/** strongMatch is strong comparison (§8.8.3.2): neither tag weak, opaque-tags identical. */
export function strongMatch(a: EntityTag, b: EntityTag): boolean {
  return !a.weak && !b.weak && a.opaque === b.opaque;
}

/** weakMatch is weak comparison (§8.8.3.2): opaque-tags identical, either tag may be weak. */
export function weakMatch(a: EntityTag, b: EntityTag): boolean {
  return a.opaque === b.opaque;
}
