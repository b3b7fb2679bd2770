/**
 * Content-Disposition for downloads (RFC 6266 + RFC 8187 filename*).
 * content-disposition builds the header; we hand it a clean name and an
 * explicit ASCII fallback, because on its own it sends Latin-1 names raw and
 * keeps control characters percent-encoded (checklist rows 60-61).
 */
import contentDisposition from 'content-disposition';

// C0 controls and DEL: removed, never encoded into a name.
const CONTROL = /[\u0000-\u001f\u007f]/g;
const COMBINING_MARKS = /[\u0300-\u036f]/g;

export function asciiFallback(name: string): string {
  const folded = name.normalize('NFKD').replace(COMBINING_MARKS, '');
  // Quotes, backslashes and percent signs would need escaping or look like
  // %XX sequences; a plain stand-in is safer in every client.
  const ascii = folded.replace(/[^\x20-\x7e]|["\\%]/g, '_');
  return ascii.trim() === '' ? 'download' : ascii;
}

export function dispositionHeader(baseName: string, type: 'attachment' | 'inline'): string {
  const clean = baseName.replace(CONTROL, '');
  const name = clean === '' ? 'download' : clean;
  return contentDisposition(name, { type, fallback: asciiFallback(name) });
}
