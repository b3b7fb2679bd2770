/**
 * Every non-file answer is a short plain-text body with its own length: no
 * stack traces, no absolute paths, nothing from an error message.
 */
import type { ServerResponse } from 'node:http';
import { STATUS_CODES } from 'node:http';

export function sendShort(
  res: ServerResponse,
  status: number,
  headers: Readonly<Record<string, string>> = {},
  text: string = STATUS_CODES[status] ?? 'Error',
  headOnly = false,
): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = `${text}\n`;
  res.writeHead(status, {
    ...headers,
    'Content-Type': 'text/plain; charset=utf-8',
    'Content-Length': String(Buffer.byteLength(body)),
    'X-Content-Type-Options': 'nosniff',
  });
  res.end(headOnly ? undefined : body);
}

/** Maps a filesystem error to the status a client may see (style-anchors P7). */
export function statusForFsError(err: unknown): 403 | 404 | 500 {
  const code = (err as { code?: unknown } | null)?.code;
  switch (code) {
    case 'ENOENT':
    case 'ENOTDIR':
    case 'ENAMETOOLONG':
    case 'ELOOP':
    case 'ENOTREG':
      return 404;
    case 'EACCES':
    case 'EPERM':
      return 403;
    default:
      return 500;
  }
}
