/** An HTTP Retry-After header (delta-seconds or an HTTP date) in ms from `nowMs`; undefined when absent or unreadable. */
export function retryAfterMs(value: string | string[] | undefined, nowMs = Date.now()): number | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  if (!v) return undefined;
  if (/^\s*\d+\s*$/.test(v)) return Number(v) * 1000;
  const at = Date.parse(v);
  return Number.isFinite(at) ? Math.max(0, at - nowMs) : undefined;
}

/**
 * The pause a 429 asks for in a vendor's own header, as epoch seconds: Okta's X-Rate-Limit-Reset, CrowdStrike's
 * X-RateLimit-RetryAfter. Only headers documented as epoch seconds are read (X-RateLimit-Reset means seconds
 * left at some vendors and an epoch at others, so a caller that knows its vendor reads it: remote.ts vendorError).
 */
export function epochResetMs(headers: Record<string, string | string[] | undefined>, nowMs = Date.now()): number | undefined {
  for (const name of ['x-rate-limit-reset', 'x-ratelimit-retryafter']) {
    const raw = headers[name];
    const v = Number(Array.isArray(raw) ? raw[0] : raw);
    if (raw !== undefined && Number.isFinite(v) && v > 1e9) return Math.max(0, (v < 1e11 ? v * 1000 : v) - nowMs);
  }
  return undefined;
}
