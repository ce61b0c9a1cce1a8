/**
 * The one mapping from a failed HTTP call (a RemoteError of enrich/remote.ts, a transport failure) to the
 * executor's retry rules, shared by the action libs that call services (edr-common.ts, idp-common.ts,
 * fw-http.ts), and the one scrubber they cut secrets with. A vendor's own error codes (Okta's E0000011, a
 * FortiOS -5, PAN-OS status="error") stay in the kind's file: they decide the RemoteError, this decides the
 * ActionError.
 *
 *  - refused credentials, other 4xx, a refused address, a redirect, an untrusted TLS certificate: permanent
 *    (configuration or the request to fix);
 *  - 429: retried after the service's pause (retryAfterMs);
 *  - 5xx, malformed answers, transport failures: retried; when the call changes state (`mutating`) and the
 *    request may have gone out, the outcome is unknown, and the executor asks `reconcile` before trying again.
 */
import { RemoteError } from '../../../enrich/remote.js';
import { ActionError } from '../../action.js';

export interface RemoteActionErrorOptions {
  /** Whether the call changes state (a failure after it went out may have taken effect). */
  mutating: boolean;
  /** Put before the message ("okta_suspend", "actions.targets.okta"); none when the message already says. */
  prefix?: string | undefined;
  /** Cuts credentials out of the message. */
  scrub?: ((text: string) => string) | undefined;
  /** The call's signal: when it fired, the message says the time limit passed. */
  signal?: AbortSignal | undefined;
  /** Added to the message of a refused credential ("check the credentials and their permissions"). */
  authHint?: string | undefined;
}

/** Errors raised before a byte left: the request certainly did not take effect. */
const NOT_SENT = /\b(ECONNREFUSED|ENOTFOUND|EAI_AGAIN|EHOSTUNREACH|ENETUNREACH|UND_ERR_CONNECT_TIMEOUT)\b/;
const TLS = /certificate|self.signed|UNABLE_TO|ERR_TLS|CERT_/i;

/** A failed call as an ActionError (an ActionError passes through unchanged). */
export function remoteActionError(e: unknown, o: RemoteActionErrorOptions): ActionError {
  if (e instanceof ActionError) return e;
  const scrub = o.scrub ?? ((t: string) => t);
  const words = (m: string) => (o.prefix ? `${o.prefix}: ${scrub(m)}` : scrub(m));
  const text = e instanceof Error ? e.message : String(e);
  if (!(e instanceof RemoteError)) return new ActionError(words(text), true, undefined, o.mutating);
  switch (e.reason) {
    case 'auth':
      return new ActionError(o.authHint ? `${words(text)} (${o.authHint})` : words(text), false);
    case 'client':
    case 'not_found':
    case 'refused':
      return new ActionError(words(text), false);
    case 'ratelimited':
      return new ActionError(words(text), true, e.retryAfterMs);
    case 'server':
    case 'malformed':
      // A 503 may say when to come back (Retry-After): honour it like a 429's.
      return new ActionError(words(text), true, e.retryAfterMs, o.mutating);
    case 'transport':
      if (TLS.test(text)) return new ActionError(`${words(text)}: TLS certificate not trusted; set tls_ca_file for a private CA`, false);
      if (o.signal?.aborted) return new ActionError(`${o.prefix ? `${o.prefix}: ` : ''}no answer before the call's time limit`, true, undefined, o.mutating);
      // A connection never made cannot have changed anything: a plain retry.
      return new ActionError(words(text), true, undefined, o.mutating && !NOT_SENT.test(text));
  }
}

export { scrubber } from '../../../enrich/remote.js';
