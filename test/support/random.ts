/**
 * Seeded randomness for tests. A test that draws at random takes its numbers from seededRandom(testSeed()) and
 * prints the seed, so that a failure can be run again as it happened: FIDO_TEST_SEED=<seed> npm test -- <file>.
 * (fast-check prints its own seed on failure; test/support/setup.mjs hands it FIDO_TEST_SEED when set.)
 */
import { randomInt } from 'node:crypto';

let seed: number | undefined;

/** FIDO_TEST_SEED when set, else one drawn for this process (the same for every call). */
export function testSeed(): number {
  if (seed === undefined) {
    const given = process.env.FIDO_TEST_SEED;
    seed = given !== undefined && /^\d+$/.test(given) ? Number(given) >>> 0 : randomInt(0, 2 ** 32);
  }
  return seed;
}

/** mulberry32: a small, fast generator; the same seed gives the same numbers on every machine. */
export function seededRandom(from: number): () => number {
  let a = from >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
