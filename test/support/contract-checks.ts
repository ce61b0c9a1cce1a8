/**
 * Checks every remote provider's contract test repeats: that a call failed with a RemoteError (and which),
 * and that aborting the lookup's signal ends a request the service never answers (a contract server reply
 * `{ hang: true }`). The abort is made once the request has reached the server, so the test proves the
 * signal reaches the HTTP exchange, not just a check made before sending. And a table of error answers:
 * each reply of the server and the reason (and Retry-After pause) the provider must turn it into.
 */
import assert from 'node:assert/strict';
import { RemoteError, type RemoteErrorReason } from '../../src/enrich/remote.js';
import type { ContractReply } from './contract.js';

/** The RemoteError `p` rejects with (failing when it resolves or throws anything else); `reason` is checked when given. */
export async function rejection(p: Promise<unknown>, reason?: RemoteErrorReason): Promise<RemoteError> {
  const e = await p.then(
    () => assert.fail('expected a RemoteError'),
    (x: unknown) => x,
  );
  assert.ok(e instanceof RemoteError, `expected a RemoteError, got ${String(e)}`);
  if (reason !== undefined) assert.equal(e.reason, reason, e.message);
  return e;
}

/**
 * Starts `lookup` with a fresh signal, waits until `arrived()` says the server got the request, aborts, and
 * checks the lookup ends as a 'transport' RemoteError saying "aborted". Returns the error for more checks.
 */
export async function abortEndsHungRequest(lookup: (signal: AbortSignal) => Promise<unknown>, arrived: () => boolean): Promise<RemoteError> {
  const ac = new AbortController();
  const pending = rejection(lookup(ac.signal));
  for (let i = 0; !arrived(); i++) {
    assert.ok(i < 100_000, 'the request never arrived');
    await new Promise((r) => setImmediate(r));
  }
  ac.abort();
  const e = await pending;
  assert.equal(e.reason, 'transport', e.message);
  assert.match(e.message, /aborted/);
  return e;
}

/** A reply of the service, the reason the lookup must fail with, and the pause it must carry (429s). */
export type ErrorCase = [reply: ContractReply, reason: string, retryAfterMs: number | undefined];

/**
 * For each case: `serve(reply)` makes the contract server answer it, then `lookup()` must fail with the
 * case's reason and pause, and its message must not carry `secret` (the API key).
 */
export async function expectErrorCases(cases: readonly ErrorCase[], serve: (reply: ContractReply) => void, lookup: () => Promise<unknown>, secret: string): Promise<void> {
  for (const [reply, reason, retry] of cases) {
    serve(reply);
    const e = await rejection(lookup());
    assert.equal(e.reason, reason, `${JSON.stringify(reply)} → ${e.message}`);
    assert.equal(e.retryAfterMs, retry);
    assert.ok(!e.message.includes(secret));
  }
}
