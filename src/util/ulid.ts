/** Monotonic ULIDs (sortable by creation time): ids for intake records, alerts, incidents and actions. */
import { randomBytes } from 'node:crypto';

const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
let lastTime = -1;
const lastRandom = new Uint8Array(16);

function encodeTime(t: number): string {
  let s = '';
  for (let i = 9; i >= 0; i--) {
    const mod = t % 32;
    s = ALPHABET[mod] + s;
    t = (t - mod) / 32;
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
  return encodeTime(now) + r;
}

export const ULID_PATTERN = /^[0-9A-HJKMNP-TV-Z]{26}$/;
