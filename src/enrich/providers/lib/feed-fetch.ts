/**
 * Downloads a feed file that is not JSON (CSV, text) through remote.ts's client asked for text: the outbound
 * guard in the connection's own DNS lookup, TLS verified, redirects refused, the body capped in size, and
 * errors as RemoteError that never carry a header value or a configured secret.
 */
import { createRemoteClient, scrubber, statusError } from '../../remote.js';

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
  const client = createRemoteClient({ key: o.key, baseUrl: o.url, headers: o.headers, allowPrivate: o.allowPrivate, ca: o.ca, timeoutMs: o.timeoutMs, maxBytes: o.maxBytes });
  const scrub = scrubber(Object.values(o.headers));
  const url = new URL(o.url);
  return {
    async get(signal) {
      const res = await client.send({ path: '', as: 'text', signal });
      if (res.status < 200 || res.status >= 300) throw statusError(res, `GET ${url.host}${url.pathname}`, scrub);
      return res.body as string;
    },
    close: () => client.close(),
  };
}
