/**
 * First run: when FILES_ROOT was left at its default and ./files does not
 * exist, create it with a sample file of a few MiB so a newcomer can try a
 * resume at once (`curl -C -`).
 */
import fs from 'node:fs';
import path from 'node:path';

export const SAMPLE_NAME = 'sample.bin';
export const SAMPLE_BYTES = 8 * 1024 * 1024;

/** Byte i of the sample is i mod 251: any slice can be checked without the file. */
function patternChunk(offset: number, length: number): Buffer {
  const buf = Buffer.allocUnsafe(length);
  for (let i = 0; i < length; i++) buf[i] = (offset + i) % 251;
  return buf;
}

export async function createSampleRoot(root: string): Promise<void> {
  await fs.promises.mkdir(root, { recursive: true });
  const file = await fs.promises.open(path.join(root, SAMPLE_NAME), 'w');
  try {
    const chunk = 1024 * 1024;
    for (let off = 0; off < SAMPLE_BYTES; off += chunk) {
      await file.write(patternChunk(off, Math.min(chunk, SAMPLE_BYTES - off)), 0, undefined, off);
    }
  } finally {
    await file.close();
  }
  await fs.promises.writeFile(
    path.join(root, 'README.txt'),
    'Files in this folder are served by rangeserve at /files/.\n' +
      `${SAMPLE_NAME} is ${SAMPLE_BYTES} bytes; byte i is i mod 251.\n` +
      'Try: curl -o sample.bin --limit-rate 1M http://127.0.0.1:8080/files/sample.bin, stop it, then add -C -\n',
  );
}
