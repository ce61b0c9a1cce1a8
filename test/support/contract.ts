/**
 * A local stand-in for a SaaS API in contract tests: a real HTTP(S) server on 127.0.0.1 whose answers come
 * from a handler written after the service's documented API (paths, auth headers, error bodies, 429s). It
 * records every request so tests can check what Fido sent (and what it never sent: keys in URLs, private
 * addresses). `hang` keeps a request open without answering, for timeout tests.
 */
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Cert } from './servers.js';

export interface ContractRequest {
  method: string;
  /** Path without the query. */
  path: string;
  query: URLSearchParams;
  headers: IncomingMessage['headers'];
  body: string;
  /** The body parsed as JSON (undefined when it is not JSON). */
  json: unknown;
  /** The body parsed as a form (for application/x-www-form-urlencoded). */
  form: URLSearchParams;
}

export interface ContractReply {
  status?: number;
  headers?: Record<string, string>;
  /** Sent as application/json. */
  json?: unknown;
  /** Sent as is (for malformed answers). */
  body?: string;
  /** Never answered (until the server closes). */
  hang?: boolean;
}

export type ContractHandler = (req: ContractRequest, n: number) => ContractReply | Promise<ContractReply>;

export interface ContractServer {
  url: string;
  requests: ContractRequest[];
  close(): Promise<void>;
}

export async function startContract(handle: ContractHandler, opts: { tls?: Cert } = {}): Promise<ContractServer> {
  const requests: ContractRequest[] = [];
  const listener = (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://contract.test');
      const body = Buffer.concat(chunks).toString('utf8');
      let json: unknown;
      try {
        json = body ? (JSON.parse(body) as unknown) : undefined;
      } catch {
        json = undefined;
      }
      const r: ContractRequest = { method: req.method ?? 'GET', path: url.pathname, query: url.searchParams, headers: req.headers, body, json, form: new URLSearchParams(body) };
      requests.push(r);
      Promise.resolve(handle(r, requests.length - 1)).then(
        (out) => {
          if (out.hang) return;
          const headers: Record<string, string> = { ...(out.json !== undefined ? { 'content-type': 'application/json' } : {}), ...out.headers };
          res.writeHead(out.status ?? 200, headers);
          res.end(out.json !== undefined ? JSON.stringify(out.json) : (out.body ?? ''));
        },
        (e: unknown) => {
          res.writeHead(500, { 'content-type': 'text/plain' });
          res.end(`contract handler failed: ${String(e)}`);
        },
      );
    });
  };
  const server = opts.tls ? createHttpsServer({ cert: opts.tls.cert, key: opts.tls.key }, listener) : createHttpServer(listener);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `${opts.tls ? 'https' : 'http'}://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
