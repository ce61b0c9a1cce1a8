/**
 * The HTTP side of the firewall action kinds (panos_dag, fortigate_address): one connection pool behind the
 * outbound guard (util/outbound.ts: TLS verified, private addresses only with allow_private), redirects
 * refused, answers capped, and every failure turned into a classified ActionError whose message never carries
 * a credential. Not enrich/remote.ts's client: that one speaks GET/POST only and throws RemoteErrors, while
 * FortiOS needs DELETE and an action needs to know whether a failed call may have taken effect
 * (`unknownOutcome`, which the executor answers with `reconcile`).
 */
import { request } from 'undici';
import { guardedAgent, outboundUrlProblem } from '../../../util/outbound.js';
import { retryAfterMs } from '../../../util/retry-after.js';
import { readCapped } from '../../../enrich/remote.js';
import { ActionError } from '../../action.js';

export type FwMethod = 'GET' | 'POST' | 'PUT' | 'DELETE';

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
  const base = new URL(o.url);
  const basePath = base.pathname.replace(/\/+$/, '');
  const secrets = Object.values(o.headers)
    .flatMap((v) => [v, v.replace(/^Bearer\s+/i, '')])
    .filter((s) => s.length >= 4);
  const scrub = (t: string) => secrets.reduce((acc, s) => acc.split(s).join('[secret]'), t);
  const dispatcher = guardedAgent({ timeoutMs: o.timeoutMs, allowPrivate: o.allowPrivate, ca: o.ca });
  const where = (req: Pick<FwRequest, 'method' | 'path'>) => `${req.method} ${base.host}${basePath}${req.path}`;

  async function send(req: FwRequest): Promise<FwResponse> {
    const url = new URL(base.href);
    url.pathname = `${basePath}${req.path}`;
    url.search = '';
    for (const [k, v] of Object.entries(req.query ?? {})) if (v !== undefined) url.searchParams.append(k, v);
    const headers: Record<string, string> = { 'user-agent': 'fido-actions/1', accept: 'application/json, application/xml, text/xml, */*', ...o.headers };
    let body: string | undefined;
    if (req.json !== undefined) {
      body = JSON.stringify(req.json);
      headers['content-type'] = 'application/json';
    } else if (req.form) {
      body = new URLSearchParams(req.form).toString();
      headers['content-type'] = 'application/x-www-form-urlencoded';
    }
    let sent = false;
    try {
      const res = await request(url, { method: req.method, dispatcher, signal: req.signal, headers, body });
      sent = true;
      const text = await readCapped(res.body, MAX_BYTES, () => new Error(`answer larger than ${MAX_BYTES} bytes`));
      if (res.statusCode >= 300 && res.statusCode < 400) {
        throw new ActionError(`${o.kind}: ${where(req)} answered ${res.statusCode} redirect; redirects are not followed (set url to the final address)`, false);
      }
      return { status: res.statusCode, headers: res.headers, text };
    } catch (e) {
      if (e instanceof ActionError) throw e;
      throw transportFailure(o.kind, e, where(req), scrub, req.method !== 'GET' && (sent || mayHaveSent(e)));
    }
  }

  return { send, where, scrub, close: () => dispatcher.close() };
}

/** Errors raised before a byte left: the request certainly did not take effect. */
const NOT_SENT = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'UND_ERR_CONNECT_TIMEOUT', 'EFIDO_PRIVATE_ADDRESS']);

function codeOf(e: unknown): string | undefined {
  const err = e as { code?: string; cause?: { code?: string } };
  return err.code ?? err.cause?.code;
}

function mayHaveSent(e: unknown): boolean {
  const code = codeOf(e);
  return !(code && NOT_SENT.has(code)) && !/certificate|self.signed|UNABLE_TO|ERR_TLS|CERT_/i.test(`${code ?? ''} ${(e as Error).message ?? ''}`);
}

function transportFailure(kind: string, e: unknown, where: string, scrub: (t: string) => string, unknown: boolean): ActionError {
  const err = e as { name?: string; message?: string; cause?: { message?: string } };
  const code = codeOf(e);
  const detail = scrub(err.cause?.message ?? err.message ?? String(e));
  if (code === 'EFIDO_PRIVATE_ADDRESS') return new ActionError(`${kind}: ${where} refused: ${detail}`, false);
  if (/certificate|self.signed|UNABLE_TO|CERT_/i.test(`${code ?? ''} ${detail}`)) {
    return new ActionError(`${kind}: ${where}: TLS certificate not trusted (${detail}); set tls_ca_file for a private CA`, false);
  }
  const aborted = err.name === 'AbortError' || code === 'UND_ERR_ABORTED' || err.name === 'TimeoutError';
  const what = aborted ? 'no answer before the timeout' : `failed${code ? ` (${code})` : ''}: ${detail}`;
  return new ActionError(`${kind}: ${where} ${what}`, true, undefined, unknown);
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
