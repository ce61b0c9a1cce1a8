/**
 * The suite's one polling helper. A bound here only catches a hang: tests wait for a state, never for a
 * time, and assert what they find (speed is the bench's).
 */

/**
 * Polls `check` until it returns something other than false, undefined or null, and returns that; fails
 * naming `what` after `timeoutMs`.
 */
export async function waitFor<T>(what: string, check: () => T | Promise<T>, timeoutMs = 60_000, everyMs = 25): Promise<Exclude<T, false | undefined | null>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== false && v !== undefined && v !== null) return v as Exclude<T, false | undefined | null>;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
