/**
 * Syslog over a byte stream (RFC 6587): each message is framed either by octet counting (`LEN SP MSG`,
 * §3.4.1) or by a trailer (LF, or NUL, §3.4.2). Senders differ, and some switch, so the framing is detected
 * per message: a message that starts with a digit run followed by a space is octet-counted, anything else
 * runs to the next LF or NUL.
 *
 * - Memory is bounded: at most one message of `maxMessageBytes` (plus its length prefix) is held. A longer
 *   message is handed over cut at the limit (on a UTF-8 character boundary when the bytes are UTF-8) and its
 *   rest is skipped, through its counted end or its trailer; each such message is counted in `truncated`.
 * - Octet-counted messages are byte-exact (they may hold NUL or LF); one trailing LF (or CR LF) is dropped,
 *   as senders such as rsyslog count the line end of their template. Trailer-framed messages lose a final CR.
 * - Empty messages (blank lines, stray NULs between frames) carry nothing and are skipped.
 */

export interface Frames {
  messages: Buffer[];
  /** Messages cut at the limit in this call. */
  truncated: number;
}

/** A decimal octet count longer than this is not one (it would be far beyond any limit). */
const MAX_COUNT_DIGITS = 10;
const LF = 0x0a;
const CR = 0x0d;
const NUL = 0x00;
const SP = 0x20;

export class SyslogFramer {
  private buf: Buffer = Buffer.alloc(0);
  /** Bytes still to skip of an oversized octet-counted message. */
  private skipOctets = 0;
  /** The rest of an oversized trailer-framed message is being skipped, through its LF/NUL. */
  private skipToTrailer = false;

  constructor(private readonly maxMessageBytes: number) {}

  /** Bytes held waiting for the rest of a message. */
  get buffered(): number {
    return this.buf.length;
  }

  push(chunk: Buffer): Frames {
    const buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    const out: Frames = { messages: [], truncated: 0 };
    const max = this.maxMessageBytes;
    let pos = 0;
    while (pos < buf.length) {
      if (this.skipOctets > 0) {
        const n = Math.min(this.skipOctets, buf.length - pos);
        this.skipOctets -= n;
        pos += n;
        continue;
      }
      if (this.skipToTrailer) {
        const end = trailerAt(buf, pos);
        if (end < 0) {
          pos = buf.length;
          break;
        }
        this.skipToTrailer = false;
        pos = end + 1;
        continue;
      }
      const first = buf[pos]!;
      if (first >= 0x31 && first <= 0x39) {
        // Maybe `LEN SP`: scan the digits.
        let i = pos + 1;
        while (i < buf.length && i - pos < MAX_COUNT_DIGITS && isDigit(buf[i]!)) i++;
        if (i === buf.length && i - pos < MAX_COUNT_DIGITS) break; // the count may go on: wait
        if (buf[i] === SP) {
          const len = Number(buf.toString('latin1', pos, i));
          const start = i + 1;
          if (len <= max) {
            if (buf.length - start < len) break; // wait for the whole message
            emit(out, stripLf(buf.subarray(start, start + len)));
            pos = start + len;
          } else {
            if (buf.length - start < max) break;
            emit(out, cutUtf8(buf.subarray(start, start + max + 1), max));
            out.truncated++;
            // Skip the rest of the counted message, past the part just read.
            this.skipOctets = len - max;
            pos = start + max;
          }
          continue;
        }
        // Digits not followed by a space: an unframed message that starts with a digit.
      }
      const end = trailerAt(buf, pos, pos + max + 1);
      if (end < 0) {
        if (buf.length - pos <= max) break; // wait for the trailer
        emit(out, cutUtf8(buf.subarray(pos, pos + max + 1), max));
        out.truncated++;
        this.skipToTrailer = true;
        pos += max + 1;
        continue;
      }
      let body = buf.subarray(pos, end);
      if (body.length > 0 && body[body.length - 1] === CR) body = body.subarray(0, -1);
      emit(out, body);
      pos = end + 1;
    }
    // Copy the remainder (at most one message): a subarray would pin the whole chunk.
    this.buf = pos >= buf.length ? Buffer.alloc(0) : Buffer.from(buf.subarray(pos));
    return out;
  }

  /** The connection ended: a message without its trailer is handed over; a partial counted one, as far as it came. */
  end(): Frames {
    const out: Frames = { messages: [], truncated: 0 };
    const rest = this.buf;
    this.buf = Buffer.alloc(0);
    if (rest.length === 0 || this.skipOctets > 0 || this.skipToTrailer) return out;
    const m = /^([1-9][0-9]{0,9}) /.exec(rest.toString('latin1', 0, Math.min(rest.length, MAX_COUNT_DIGITS + 1)));
    if (m) {
      // A counted message cut short by the sender: what arrived, counted as truncated.
      emit(out, rest.subarray(m[0].length));
      out.truncated++;
    } else {
      emit(out, rest);
    }
    return out;
  }
}

const isDigit = (b: number): boolean => b >= 0x30 && b <= 0x39;

/** Index of the first LF or NUL in buf[from, to), or -1. */
function trailerAt(buf: Buffer, from: number, to = buf.length): number {
  const limit = Math.min(to, buf.length);
  const lf = buf.indexOf(LF, from);
  const stop = lf >= 0 && lf < limit ? lf : limit;
  // NUL trailers are rare: look for one only before the LF (a bounded scan).
  for (let i = from; i < stop; i++) if (buf[i] === NUL) return i;
  return stop < limit ? stop : -1;
}

function emit(out: Frames, body: Buffer): void {
  if (body.length > 0) out.messages.push(body);
}

function stripLf(b: Buffer): Buffer {
  if (b.length > 0 && b[b.length - 1] === LF) b = b.subarray(0, b.length - 1);
  if (b.length > 0 && b[b.length - 1] === CR) b = b.subarray(0, b.length - 1);
  return b;
}

/**
 * The first `max` bytes of `b` (which may hold one byte more, to see whether a character continues), moved
 * back to the start of a UTF-8 character cut in two; bytes that are not UTF-8 are cut at `max`.
 */
export function cutUtf8(b: Buffer, max: number): Buffer {
  if (b.length <= max) return b;
  let end = max;
  while (end > 0 && max - end < 3 && (b[end]! & 0xc0) === 0x80) end--;
  if ((b[end]! & 0xc0) !== 0xc0 || end === 0) end = max; // not a cut multi-byte character
  return b.subarray(0, end);
}
