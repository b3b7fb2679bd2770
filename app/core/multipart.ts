/**
 * multipart/byteranges framing (RFC 9110 §14.6, §15.3.7.2; RFC 2046 §5.1.1).
 *
 * Wire format for `Range: bytes=0-49,100-149` on a 10 000-byte file, with
 * boundary B (every line break is CRLF, shown as ⏎):
 *
 *   HTTP/1.1 206 Partial Content
 *   Content-Type: multipart/byteranges; boundary=B
 *   Content-Length: <exact total, computed before the first byte is sent>
 *
 *   --B⏎                                         ┐
 *   Content-Type: application/octet-stream⏎       │ part head (a 'bytes' piece)
 *   Content-Range: bytes 0-49/10000⏎             │
 *   ⏎                                            ┘
 *   <bytes 0..49 of the file>                      a 'file' piece
 *   ⏎--B⏎                                        ┐ the CRLF ending the previous
 *   Content-Type: application/octet-stream⏎       │ part's data belongs to the
 *   Content-Range: bytes 100-149/10000⏎          │ next delimiter (RFC 2046)
 *   ⏎                                            ┘
 *   <bytes 100..149 of the file>
 *   ⏎--B--⏎                                        close-delimiter
 *
 * There is no preamble and no epilogue. The top-level response carries no
 * Content-Range (§14.4: a multipart 206 MUST NOT). The boundary is sent
 * unquoted, so it must be a token as well as a valid RFC 2046 boundary.
 */
import { randomBytes } from 'node:crypto';
import type { BodyPiece, ByteSpan } from './types';

const CRLF = '\r\n';

/**
 * Characters allowed in an unquoted boundary: RFC 2046 `bcharsnospace` that
 * are also `tchar` (RFC 9110 §5.6.2), so that `boundary=B` needs no quoting.
 */
const BOUNDARY = /^[0-9A-Za-z'+_.-]{1,70}$/;

/** isValidBoundary says whether `b` can be used unquoted as a multipart boundary (1-70 characters). */
export function isValidBoundary(b: string): boolean {
  return BOUNDARY.test(b);
}

/**
 * generateBoundary returns 32 random hex characters. With 128 random bits the
 * chance that the delimiter line occurs inside the file data is negligible,
 * and unlike a fixed string it cannot be planted in a file on purpose.
 */
export function generateBoundary(): string {
  return randomBytes(16).toString('hex');
}

/** multipartContentType is the top-level Content-Type of a multi-range 206. */
export function multipartContentType(boundary: string): string {
  return `multipart/byteranges; boundary=${boundary}`;
}

/** contentRange formats a satisfied range for Content-Range (§14.4): `bytes 0-49/10000`. */
export function contentRange(span: ByteSpan, size: number): string {
  return `bytes ${span.start}-${span.end}/${size}`;
}

/** byteLength is the number of octets a 'bytes' piece puts on the wire (UTF-8, as Node writes strings by default). */
export function byteLength(data: string): number {
  return Buffer.byteLength(data, 'utf8');
}

export interface MultipartBody {
  readonly pieces: readonly BodyPiece[];
  /** Exact body length in octets: Content-Length of the response. */
  readonly length: number;
}

/**
 * multipartBody frames `spans` of a file of `size` bytes as the body pieces of
 * a multipart/byteranges response, each part typed `partType` (the file's own
 * Content-Type), and returns them with their exact total length.
 */
export function multipartBody(
  spans: readonly ByteSpan[],
  size: number,
  partType: string,
  boundary: string,
): MultipartBody {
  if (!isValidBoundary(boundary)) throw new RangeError(`invalid multipart boundary: ${JSON.stringify(boundary)}`);
  const pieces: BodyPiece[] = [];
  let length = 0;
  const pushBytes = (data: string): void => {
    pieces.push({ kind: 'bytes', data });
    length += byteLength(data);
  };
  spans.forEach((span, i) => {
    const lead = i === 0 ? '' : CRLF;
    pushBytes(
      `${lead}--${boundary}${CRLF}Content-Type: ${partType}${CRLF}` +
        `Content-Range: ${contentRange(span, size)}${CRLF}${CRLF}`,
    );
    pieces.push({ kind: 'file', start: span.start, end: span.end });
    length += span.end - span.start + 1;
  });
  pushBytes(`${CRLF}--${boundary}--${CRLF}`);
  return { pieces, length };
}
