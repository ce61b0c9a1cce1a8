/**
 * Downloads a feed file that is not JSON (CSV, text). remote.ts's client parses every 2xx body as JSON, so
 * this is the same policy for text: the outbound guard in the connection's own DNS lookup, TLS verified,
 * redirects refused, the body capped in size, and errors as RemoteError (statusError) that never carry a
 * header value or a configured secret.
 */
import { Agent, request } from 'undici';
import { RemoteError, statusError } from '../../remote.js';
import { guardedLookup, outboundUrlProblem } from '../../../util/outbound.js';

export interface TextFetcherOptions {
  /** Config path for messages ("enrichment.providers.feodo"). */
  key: string;
  url: string;
  headers: Record<string, string>;
  allowPrivate: boolean;
  ca?: string | undefined;
  timeoutMs: number;
  maxBytes: number;
}

export interface TextFetcher {
  get(signal: AbortSignal): Promise<string>;
  close(): Promise<void>;
}

export function createTextFetcher(o: TextFetcherOptions): TextFetcher {
  const problem = outboundUrlProblem(o.url, { allowPrivate: o.allowPrivate });
  if (problem) throw new Error(`${o.key}.url: ${problem}`);
  const url = new URL(o.url);
  const secrets = Object.values(o.headers).filter((s) => s.length >= 4);
  const scrub = (t: string) => secrets.reduce((acc, s) => acc.split(s).join('[secret]'), t);
  const where = `GET ${url.host}${url.pathname}`;
  const dispatcher = new Agent({
    headersTimeout: o.timeoutMs,
    bodyTimeout: o.timeoutMs,
    connect: { rejectUnauthorized: true, timeout: o.timeoutMs, ...(o.ca ? { ca: o.ca } : {}), lookup: guardedLookup(o.allowPrivate) },
  });

  async function get(signal: AbortSignal): Promise<string> {
    let status: number;
    let headers: Record<string, string | string[] | undefined>;
    let body = '';
    try {
      const res = await request(url, { method: 'GET', dispatcher, signal, headers: { 'user-agent': 'fido-enrichment/1', accept: 'text/plain, text/csv, */*', ...o.headers } });
      status = res.statusCode;
      headers = res.headers;
      if (status >= 200 && status < 300) body = await readCapped(res.body, o.maxBytes, where);
      else body = (await readCapped(res.body, 4096, where).catch(() => '')).slice(0, 300);
    } catch (e) {
      if (e instanceof RemoteError) throw e;
      const err = e as { name?: string; code?: string; message?: string; cause?: { code?: string; message?: string } };
      if (err.code === 'EFIDO_PRIVATE_ADDRESS' || err.cause?.code === 'EFIDO_PRIVATE_ADDRESS') throw new RemoteError(`${where} refused: ${scrub(err.cause?.message ?? err.message ?? '')}`, 'refused');
      if (err.name === 'AbortError' || err.code === 'UND_ERR_ABORTED') throw new RemoteError(`${where}: aborted`, 'transport');
      throw new RemoteError(`${where} failed${err.code ? ` (${err.code})` : ''}: ${scrub(err.cause?.message ?? err.message ?? String(e))}`, 'transport');
    }
    if (status >= 300 && status < 400) throw new RemoteError(`${where} answered ${status} redirect; redirects are not followed (set url to the final address)`, 'refused', status);
    if (status < 200 || status >= 300) throw statusError({ status, headers, body }, where, scrub);
    return body;
  }

  return { get, close: () => dispatcher.close() };
}

async function readCapped(body: AsyncIterable<Buffer> & { destroy(): unknown }, max: number, where: string): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.length;
    if (size > max) {
      body.destroy();
      throw new RemoteError(`${where}: answer larger than ${max} bytes (raise max_bytes if the feed is that big)`, 'malformed');
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}
