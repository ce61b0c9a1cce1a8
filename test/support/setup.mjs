/**
 * Loaded before every test file (scripts/test.mjs), and so in their worker threads too, which is why it is
 * JavaScript (a worker loads it before any TypeScript loader): FIDO_TEST_SEED, when set, seeds fast-check's properties
 * that do not choose their own seed, so that a failure it reported (with its seed) can be run again.
 */
import fc from 'fast-check';

const given = process.env.FIDO_TEST_SEED;
if (given !== undefined && /^\d+$/.test(given)) fc.configureGlobal({ seed: Number(given) >>> 0 });
