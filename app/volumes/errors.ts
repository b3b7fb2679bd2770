/** Errors a volume gate raises. All of them mean "503 + Retry-After" before the headers. */

export type VolumeErrorCode = 'RS_ERR_READ_TIMEOUT' | 'RS_ERR_VOLUME_BUSY' | 'RS_ERR_VOLUME_DEGRADED' | 'RS_ERR_CANCELLED';

export class VolumeError extends Error {
  constructor(
    readonly code: VolumeErrorCode,
    readonly volume: string,
    message: string,
  ) {
    super(message);
    this.name = 'VolumeError';
  }
}

/** Error codes of a failing disk (not of a missing file or a permission). */
const IO_ERROR_CODES = new Set([
  'EIO',
  'ENXIO',
  'ENODEV',
  'ENOTCONN',
  'ESTALE',
  'ETIMEDOUT',
  'EREMOTEIO',
  'EUCLEAN',
  'ENOMEDIUM',
  'ECONNABORTED',
]);

export function errorCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** The disk failed (counts towards the volume's error limit). */
export function isIoError(err: unknown): boolean {
  const code = errorCode(err);
  return code !== undefined && IO_ERROR_CODES.has(code);
}

/** The request should get 503 + Retry-After (if nothing was sent yet): the volume is slow, busy, degraded or failing. */
export function isUnavailable(err: unknown): boolean {
  const code = errorCode(err);
  return (
    code === 'RS_ERR_READ_TIMEOUT' ||
    code === 'RS_ERR_VOLUME_BUSY' ||
    code === 'RS_ERR_VOLUME_DEGRADED' ||
    code === 'RS_ERR_QUEUE_FULL' ||
    code === 'RS_ERR_READER_EXITED' ||
    isIoError(err)
  );
}
