/**
 * Where a file receiver is: which file (device and inode, a hash of its first bytes) and how far (the byte
 * offset acknowledged). One row per source in receiver_cursors, written in the commit of the records.
 */
import { createHash } from 'node:crypto';
import { readCursorValue, type CursorRow } from '../../store/cursors.js';
import type { Db } from '../../store/store.js';

/** Hash of the first `len` bytes of a file: tells a replaced file (same inode, new content) from ours. */
export interface Head {
  len: number;
  sha256: string;
}

export interface FileCursor {
  /** Device and inode as decimal strings (inodes may exceed 2^53). */
  dev: string;
  ino: string;
  /** Bytes acknowledged: everything before this offset has been accepted by the intake. */
  offset: number;
  /** True when the offset is inside an over-long line whose rest is being skipped. */
  skip: boolean;
  head: Head;
}

const CURSOR_KEY = 'position';
export const HEAD_BYTES = 1024;
export const hashHead = (bytes: Buffer): Head => ({ len: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') });

/** Name of this source in receiver_cursors and leases. */
export const receiverName = (source: string): string => `file:${source}`;

export function cursorRow(source: string, cursor: FileCursor, now = Date.now()): CursorRow {
  return { receiver: receiverName(source), key: CURSOR_KEY, value: JSON.stringify(cursor), updated_at: now };
}

/** The stored cursor; undefined when there is none, null when the stored value is unreadable. */
export async function readCursor(db: Db, source: string): Promise<FileCursor | null | undefined> {
  const value = await readCursorValue(db, receiverName(source), CURSOR_KEY);
  return value === undefined ? undefined : parseCursor(value);
}

function parseCursor(text: string): FileCursor | null {
  try {
    const c = JSON.parse(text) as Partial<FileCursor>;
    const ok =
      typeof c.dev === 'string' &&
      typeof c.ino === 'string' &&
      Number.isSafeInteger(c.offset) &&
      typeof c.skip === 'boolean' &&
      typeof c.head?.len === 'number' &&
      typeof c.head.sha256 === 'string';
    return ok ? (c as FileCursor) : null;
  } catch {
    return null;
  }
}
