/** Which file a path is (device and inode, first bytes), and where a rotated one went. */
import type { BigIntStats } from 'node:fs';
import { open, readdir, stat, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { hashHead, type FileCursor, type Head } from './cursor.js';
import { NL } from './lines.js';

export interface FileId {
  dev: string;
  ino: string;
}

export const idOf = (st: BigIntStats): FileId => ({ dev: String(st.dev), ino: String(st.ino) });
export const sameFile = (a: FileId, b: FileId): boolean => a.dev === b.dev && a.ino === b.ino;

export async function statOrNull(path: string): Promise<BigIntStats | null> {
  try {
    return await stat(path, { bigint: true });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return null;
    throw e;
  }
}

export async function readHead(fh: FileHandle, len: number): Promise<Buffer> {
  if (len <= 0) return Buffer.alloc(0);
  const buf = Buffer.alloc(len);
  const { bytesRead } = await fh.read(buf, 0, len, 0);
  return buf.subarray(0, bytesRead);
}

/** The file's first head.len bytes when they still hash to `head`, else null. */
export async function verifiedHead(fh: FileHandle, head: Head): Promise<Buffer | null> {
  const bytes = await readHead(fh, head.len);
  const now = hashHead(bytes);
  return now.len === head.len && now.sha256 === head.sha256 ? bytes : null;
}

export const headMatches = async (fh: FileHandle, head: Head): Promise<boolean> => (await verifiedHead(fh, head)) !== null;

/** Offset where the last line of the file begins (for start_at: end), looking back at most `window` bytes. */
export async function lastLineStart(fh: FileHandle, size: number, window: number): Promise<number> {
  const from = Math.max(0, size - window);
  const buf = Buffer.alloc(size - from);
  const { bytesRead } = await fh.read(buf, 0, buf.length, from);
  const nl = buf.subarray(0, bytesRead).lastIndexOf(NL);
  if (nl >= 0) return from + nl + 1;
  return from === 0 ? 0 : size;
}

/**
 * The file we were reading may have been renamed beside the path (app.log → app.log.1) while Fido was down:
 * find it by device + inode, checking its head so that a recycled inode is not taken for it.
 */
export async function findRotated(path: string, cursor: FileCursor): Promise<string | null> {
  const dir = dirname(path);
  const base = basename(path);
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return null;
  }
  for (const name of names) {
    if (name === base || !name.startsWith(base)) continue;
    const file = join(dir, name);
    const st = await statOrNull(file);
    if (!st?.isFile() || !sameFile(idOf(st), cursor)) continue;
    const fh = await open(file, 'r');
    try {
      if (await headMatches(fh, cursor.head)) return file;
    } finally {
      await fh.close();
    }
  }
  return null;
}
