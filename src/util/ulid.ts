/** Monotonic ULIDs (sortable by creation time): ids for intake records, alerts, incidents and actions. */
import { randomBytes } from 'node:crypto';

const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
let lastTime = -1;
const lastRandom = new Uint8Array(16);

/** `n` in the ULID alphabet (Crockford base 32), `width` characters, most significant first. */
export function encodeBase32(n: number, width: number): string {
  let s = '';
  for (let i = width - 1; i >= 0; i--) {
    const mod = n % 32;
    s = ALPHABET[mod] + s;
    n = (n - mod) / 32;
  }
  return s;
}

export function ulid(now = Date.now()): string {
  if (now <= lastTime) {
    // Same millisecond: increment the random part so ids stay strictly increasing.
    for (let i = 15; i >= 0; i--) {
      if (lastRandom[i]! < 31) {
        lastRandom[i]!++;
        break;
      }
      lastRandom[i] = 0;
    }
    now = lastTime;
  } else {
    lastTime = now;
    const bytes = randomBytes(16);
    for (let i = 0; i < 16; i++) lastRandom[i] = bytes[i]! & 31;
    lastRandom[0]! &= 15; // headroom for increments
  }
  let r = '';
  for (let i = 0; i < 16; i++) r += ALPHABET[lastRandom[i]!];
  return encodeBase32(now, 10) + r;
}

export const ULID_PATTERN = /^[0-9A-HJKMNP-TV-Z]{26}$/;
