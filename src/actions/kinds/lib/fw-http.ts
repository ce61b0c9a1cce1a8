/**
 * The HTTP side of the firewall action kinds (panos_dag, fortigate_address): enrich/remote.ts's client (outbound
 * guard, TLS verified, private addresses only with allow_private, redirects refused, answers capped) asked for
 * text answers of any status, since the kinds read the device's own error bodies; a failed call becomes a
 * classified ActionError (lib/remote-action.ts) whose message never carries a credential, with
 * `unknownOutcome` when a write may have taken effect (the executor answers it with `reconcile`).
 */
import { outboundUrlProblem } from '../../../util/outbound.js';
import { retryAfterMs } from '../../../util/retry-after.js';
import { createRemoteClient, type HttpMethod } from '../../../enrich/remote.js';
import { ActionError } from '../../action.js';
import { remoteActionError, scrubber } from './remote-action.js';

export type FwMethod = HttpMethod;

export interface FwHttpOptions {
  /** Kind name, the first word of every message. */
  kind: string;
  /** Config path of the target ("actions.targets.edge"), for config errors. */
  key: string;
  url: string;
  /** Sent on every request (the credential); their values are cut out of any message. */
  headers: Record<string, string>;
  allowPrivate: boolean;
  ca?: string | undefined;
  timeoutMs: number;
}

export interface FwRequest {
  method: FwMethod;
  /** Appended to the base URL's path; callers encode path segments. */
  path: string;
  query?: Record<string, string | undefined>;
  json?: unknown;
  form?: Record<string, string>;
  signal: AbortSignal;
}

export interface FwResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

export interface FwHttp {
  send(req: FwRequest): Promise<FwResponse>;
  /** "POST host/path": what a message may say about a request (never the query, never a header). */
  where(req: Pick<FwRequest, 'method' | 'path'>): string;
  /** Cuts the credentials out of text (a device may echo them). */
  scrub(text: string): string;
  close(): Promise<void>;
}

const MAX_BYTES = 1 << 20;

/** `check` of a target's url. */
export function fwUrlProblem(url: string, allowPrivate: boolean | undefined): string | null {
  const p = outboundUrlProblem(url, { allowPrivate: allowPrivate ?? false });
  if (p) return p;
  return /^https?:$/.test(new URL(url).protocol) ? null : 'only http and https URLs';
}

export function createFwHttp(o: FwHttpOptions): FwHttp {
  const problem = fwUrlProblem(o.url, o.allowPrivate);
  if (problem) throw new Error(`${o.key}.url: ${problem}`);
  // Bearer tokens are secrets with and without their scheme word (a device may echo either).
  const secrets = Object.values(o.headers).map((v) => v.replace(/^Bearer\s+/i, ''));
  const client = createRemoteClient({
    key: o.key,
    baseUrl: o.url,
    headers: o.headers,
    secrets,
    allowPrivate: o.allowPrivate,
    ...(o.ca !== undefined ? { ca: o.ca } : {}),
    timeoutMs: o.timeoutMs,
    maxBytes: MAX_BYTES,
    userAgent: 'fido-actions/1',
  });
  const scrub = scrubber(() => [...Object.values(o.headers), ...secrets]);
  const base = client.baseUrl;
  const basePath = base.pathname.replace(/(?<!\/)\/+$/, '');
  const where = (req: Pick<FwRequest, 'method' | 'path'>) => `${req.method} ${base.host}${basePath}${req.path}`;

  async function send(req: FwRequest): Promise<FwResponse> {
    const query: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.query ?? {})) if (v !== undefined) query[k] = v;
    try {
      // Text: the device answers XML (PAN-OS) or JSON (FortiOS), and its error bodies are read by the kind.
      const res = await client.send({
        method: req.method,
        path: req.path,
        query,
        signal: req.signal,
        as: 'text',
        headers: { accept: 'application/json, application/xml, text/xml, */*' },
        ...(req.json !== undefined ? { json: req.json } : {}),
        ...(req.form ? { form: req.form } : {}),
      });
      return { status: res.status, headers: res.headers, text: typeof res.body === 'string' ? res.body : '' };
    } catch (e) {
      throw remoteActionError(e, { mutating: req.method !== 'GET', prefix: o.kind, scrub, signal: req.signal });
    }
  }

  return { send, where, scrub, close: () => client.close() };
}

/**
 * A non-2xx answer as an ActionError: a refused credential and other 4xx are permanent, 408/429/5xx may pass
 * later (a 429's Retry-After is kept). `said` is the device's own error text, already read from its body.
 */
export function statusFailure(kind: string, res: FwResponse, where: string, said: string, scrub: (t: string) => string): ActionError {
  const text = scrub(said.replace(/\s+/g, ' ').trim().slice(0, 300));
  const what = `${kind}: ${where} answered ${res.status}${text ? `: ${text}` : ''}`;
  if (res.status === 401 || res.status === 403) return new ActionError(`${what} (the API credential was refused)`, false);
  if (res.status === 429) return new ActionError(`${what} (rate limited)`, true, retryAfterMs(res.headers['retry-after']));
  if (res.status === 408 || res.status >= 500) return new ActionError(what, true);
  return new ActionError(what, false);
}
