/**
 * A real OpenID provider for the SSO tests: oidc-provider over HTTPS on 127.0.0.1, its certificate signed by
 * a CA made fresh with openssl in a temp dir (so a relying party verifies it only when given that CA). Its
 * login and consent pages are oidc-provider's development interactions (the login is the account id, any
 * password). Clients are registered per Fido under test (each has its own port, hence redirect URI).
 *
 * Also a Fido API on 127.0.0.1 with OIDC sign-in, and a cookie-keeping client that walks a browser's path
 * through both with redirect: 'manual' (TLS verification on, the test CA trusted).
 */
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { Agent, fetch } from 'undici';
import { buildApi } from '../../src/api/server.js';
import type { FidoConfig } from '../../src/config/schema.js';
import { createOidcLogin, type OidcLogin } from '../../src/web/oidc.js';
import type { DialectName } from '../../src/store/dialect.js';
import { openTestStore, tempDir, type TestStore } from './stores.js';
import { apiContext } from './api.js';

// oidc-provider ships no type declarations: the little used here is typed below.
const PROVIDER_MODULE: string = 'oidc-provider';
const MEMORY_ADAPTER_MODULE: string = 'oidc-provider/lib/adapters/memory_adapter.js';

interface AdapterLike {
  find(id: string): Promise<unknown>;
}
type AdapterFactory = (model: string) => AdapterLike;
interface ProviderLike {
  callback(): (req: IncomingMessage, res: ServerResponse) => void;
}
type ProviderCtor = new (issuer: string, configuration: Record<string, unknown>) => ProviderLike;

/** What the provider says about an account (the claims of the profile scope; `sub` is the account id). */
export interface TestAccount {
  preferred_username?: string;
  groups?: string[];
  email?: string;
  /** Keycloak's shape of realm roles. */
  realm_access?: { roles: string[] };
}

export interface OidcProviderHarness {
  issuer: string;
  /** PEM of the CA that signed the provider's certificate, and its file (for auth.oidc.ca_file). */
  ca: string;
  caFile: string;
  /** Accounts by id, read at each token request: change one to change what the next sign-in gets. */
  accounts: Map<string, TestAccount>;
  /** Each request's method and path, in order (e.g. "GET /me", the userinfo endpoint). */
  requests: string[];
  /** While true, every request is answered 503 (a provider that is down). */
  unavailable: boolean;
  /** A confidential client (client_secret_post) allowed to redirect to `redirectUri`. */
  registerClient(redirectUri: string): { clientId: string; clientSecret: string };
  close(): Promise<void>;
}

/** A CA, and a server certificate for 127.0.0.1 and localhost that it signed (EC P-256, 1 day). */
function makeCa(dir: string): { caFile: string; certFile: string; keyFile: string } {
  const run = (args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  run(['req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '1', '-subj', '/CN=Fido test OIDC CA',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  run(['req', ...ec, '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=localhost']);
  writeFileSync(join(dir, 'server.ext'), 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n');
  run(['x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '1', '-extfile', 'server.ext', '-out', 'server.crt']);
  return { caFile: join(dir, 'ca.crt'), certFile: join(dir, 'server.crt'), keyFile: join(dir, 'server.key') };
}

/**
 * `claimsInIdToken`: put what the scopes ask for in the ID token too; by default (the specification's rule when
 * an access token is issued) they are in the userinfo answer only.
 */
export async function startOidcProvider(opts: { accounts?: Record<string, TestAccount>; claimsInIdToken?: boolean } = {}): Promise<OidcProviderHarness> {
  const { default: Provider } = (await import(PROVIDER_MODULE)) as { default: ProviderCtor };
  const { createMemoryAdapter } = (await import(MEMORY_ADAPTER_MODULE)) as { createMemoryAdapter: () => AdapterFactory };
  const dir = tempDir('fido-oidc-');
  const pki = makeCa(dir);
  const ca = readFileSync(pki.caFile, 'utf8');

  let handler: ((req: IncomingMessage, res: ServerResponse) => void) | null = null;
  const requests: string[] = [];
  const server: Server = createServer({ cert: readFileSync(pki.certFile), key: readFileSync(pki.keyFile) }, (req, res) => {
    requests.push(`${req.method} ${new URL(req.url ?? '/', 'https://x').pathname}`);
    if (handler && !harness.unavailable) return handler(req, res);
    res.statusCode = 503;
    res.end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const accounts = new Map(Object.entries(opts.accounts ?? {}));
  const clients = new Map<string, Record<string, unknown>>();
  const memory = createMemoryAdapter();
  // Given signing keys and an adapter of our own (clients come from `clients`), oidc-provider uses none of
  // its development-only defaults but the login and consent pages.
  const signingKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' });
  const provider = new Provider(issuer, {
    adapter: (model: string): AdapterLike => (model === 'Client' ? { find: async (id: string) => clients.get(id) } : memory(model)),
    jwks: { keys: [{ ...signingKey, kid: 'test', use: 'sig', alg: 'RS256' }] },
    cookies: { keys: [randomBytes(32).toString('base64url')] },
    claims: { openid: ['sub'], profile: ['preferred_username', 'groups', 'realm_access'], email: ['email'] },
    // Refuse an authorization request without PKCE, whatever the client: Fido must send it.
    pkce: { required: () => true },
    conformIdTokenClaims: !opts.claimsInIdToken,
    ttl: { Interaction: 600, Session: 3600, Grant: 3600, AuthorizationCode: 60, AccessToken: 600, IdToken: 600 },
    features: { devInteractions: { enabled: true } },
    findAccount: async (_ctx: unknown, id: string) => {
      if (!accounts.has(id)) return undefined;
      return { accountId: id, claims: async () => ({ sub: id, ...accounts.get(id) }) };
    },
  });
  handler = provider.callback();

  const harness: OidcProviderHarness = {
    issuer,
    ca,
    unavailable: false,
    caFile: pki.caFile,
    accounts,
    requests,
    registerClient(redirectUri) {
      const clientId = `fido-${randomBytes(6).toString('hex')}`;
      const clientSecret = randomBytes(24).toString('base64url');
      clients.set(clientId, {
        client_id: clientId,
        client_secret: clientSecret,
        redirect_uris: [redirectUri],
        token_endpoint_auth_method: 'client_secret_post',
        grant_types: ['authorization_code'],
        response_types: ['code'],
      });
      return { clientId, clientSecret };
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return harness;
}

// ───────────────────────────── Fido with OIDC sign-in ─────────────────────────────

type OidcConfig = NonNullable<NonNullable<FidoConfig['auth']>['oidc']>;

export interface FidoHarness {
  app: FastifyInstance;
  t: TestStore;
  /** http://127.0.0.1:<port> */
  origin: string;
  close(): Promise<void>;
}

/**
 * Fido's API with auth.oidc pointing at `provider` (a client of its own), `overrides` on top (undefined
 * removes a key, e.g. `ca_file: undefined`). The sign-in is made once Fido's port is known: the API is built
 * with a stand-in that hands each call to it.
 */
export async function startFido(provider: OidcProviderHarness, overrides: Partial<OidcConfig> = {}, dialect: DialectName = 'sqlite'): Promise<FidoHarness> {
  const t = await openTestStore(dialect);
  let login: OidcLogin | null = null;
  const ready = () => {
    if (!login) throw new Error('OIDC sign-in is not set up yet');
    return login;
  };
  const standIn: OidcLogin = {
    label: 'Sign in with the test provider',
    get redirectUrl() {
      return ready().redirectUrl;
    },
    begin: () => ready().begin(),
    finish: (db, url, pending) => ready().finish(db, url, pending),
  };
  const app = await buildApi(
    apiContext(t.store, {
      trustProxy: [],
      accessLog: false,
      oidc: standIn,
    }),
  );
  await app.listen({ port: 0, host: '127.0.0.1' });
  const origin = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  const redirectUrl = `${origin}/auth/oidc/callback`;
  const { clientId, clientSecret } = provider.registerClient(redirectUrl);
  const cfg: OidcConfig = {
    issuer: provider.issuer,
    client_id: clientId,
    client_secret: '${env:FIDO_TEST_OIDC_SECRET}',
    redirect_url: redirectUrl,
    ca_file: provider.caFile,
    ...overrides,
  };
  for (const [k, v] of Object.entries(overrides)) if (v === undefined) delete (cfg as Record<string, unknown>)[k];
  login = createOidcLogin(cfg, undefined, { FIDO_TEST_OIDC_SECRET: clientSecret });
  return {
    app,
    t,
    origin,
    async close() {
      await app.close();
      await t.cleanup();
    },
  };
}

// ───────────────────────────── A browser without a browser ─────────────────────────────

interface StoredCookie {
  value: string;
  path: string;
}

/** Cookies per host and name: path, Max-Age/Expires (removal) and Secure honoured as a browser would. */
export class CookieJar {
  private readonly hosts = new Map<string, Map<string, StoredCookie>>();

  take(url: URL, setCookies: string[]): void {
    const jar = this.hosts.get(url.host) ?? new Map<string, StoredCookie>();
    this.hosts.set(url.host, jar);
    for (const line of setCookies) {
      const [pair = '', ...attrs] = line.split(';').map((s) => s.trim());
      const eq = pair.indexOf('=');
      if (eq <= 0) continue;
      const name = pair.slice(0, eq);
      const value = pair.slice(eq + 1);
      let path = '/';
      let gone = false;
      let secure = false;
      for (const a of attrs) {
        const [k = '', v = ''] = a.split('=');
        const key = k.toLowerCase();
        if (key === 'path' && v.startsWith('/')) path = v;
        if (key === 'max-age' && Number(v) <= 0) gone = true;
        if (key === 'expires' && Date.parse(v) <= Date.now()) gone = true;
        if (key === 'secure') secure = true;
      }
      // Browsers keep Secure cookies from https and from loopback http (a secure context).
      if (secure && url.protocol !== 'https:' && url.hostname !== '127.0.0.1' && url.hostname !== 'localhost') continue;
      if (gone) jar.delete(name);
      else jar.set(name, { value, path });
    }
  }

  header(url: URL): string | undefined {
    const jar = this.hosts.get(url.host);
    if (!jar) return undefined;
    const pairs = [...jar].filter(([, c]) => url.pathname === c.path || url.pathname.startsWith(c.path.endsWith('/') ? c.path : `${c.path}/`)).map(([n, c]) => `${n}=${c.value}`);
    return pairs.length ? pairs.join('; ') : undefined;
  }

  get(host: string, name: string): string | undefined {
    return this.hosts.get(host)?.get(name)?.value;
  }

  set(host: string, name: string, value: string, path = '/'): void {
    const jar = this.hosts.get(host) ?? new Map<string, StoredCookie>();
    this.hosts.set(host, jar);
    jar.set(name, { value, path });
  }

  delete(host: string, name: string): void {
    this.hosts.get(host)?.delete(name);
  }
}

export interface Answer {
  status: number;
  location: URL | null;
  body: string;
}

/** One request as a browser makes it: the jar's cookies out, Set-Cookie into the jar, no redirect followed. */
export async function browse(jar: CookieJar, ca: string, url: URL, init: { method?: string; form?: Record<string, string> } = {}): Promise<Answer> {
  const headers: Record<string, string> = {};
  const cookie = jar.header(url);
  if (cookie) headers.cookie = cookie;
  let body: string | undefined;
  if (init.form) {
    headers['content-type'] = 'application/x-www-form-urlencoded';
    body = new URLSearchParams(init.form).toString();
  }
  const res = await fetch(url, { method: init.method ?? 'GET', headers, body, redirect: 'manual', dispatcher: agentFor(ca) });
  jar.take(url, res.headers.getSetCookie());
  const loc = res.headers.get('location');
  return { status: res.status, location: loc ? new URL(loc, url) : null, body: await res.text() };
}

const agents = new Map<string, Agent>();
/** TLS verification stays on; the test CA is the one trusted. */
function agentFor(ca: string): Agent {
  let a = agents.get(ca);
  if (!a) {
    a = new Agent({ connect: { ca } });
    agents.set(ca, a);
  }
  return a;
}

/** The one form of a development interaction page: where it posts and its hidden fields. */
function formOf(page: string, base: URL): { action: URL; fields: Record<string, string> } {
  const form = /<form[^>]*action="([^"]+)"[^>]*method="post"[^>]*>([\s\S]*?)<\/form>/i.exec(page);
  if (!form) throw new Error(`no form on the provider's page: ${page.slice(0, 300)}`);
  const fields: Record<string, string> = {};
  for (const m of form[2]!.matchAll(/<input[^>]*type="hidden"[^>]*name="([^"]+)"[^>]*value="([^"]*)"/gi)) fields[m[1]!] = m[2]!;
  return { action: new URL(form[1]!.replaceAll('&amp;', '&'), base), fields };
}

export interface SsoStart {
  /** The provider's redirect back to Fido (code, state, iss), not yet followed. */
  callback: URL;
  /** Pages the provider showed (login, consent) on the way. */
  pages: string[];
}

/**
 * From Fido's /auth/oidc/login through the provider's login (as `accountId`) and consent pages, up to the
 * redirect back to Fido's callback, which is returned without being followed. `cancel`: the person presses
 * the provider's Cancel link on its first page instead.
 */
export async function authorizeAt(fido: FidoHarness, provider: OidcProviderHarness, jar: CookieJar, accountId: string, opts: { cancel?: boolean } = {}): Promise<SsoStart> {
  const start = await browse(jar, provider.ca, new URL('/auth/oidc/login', fido.origin));
  if (start.status !== 302 || !start.location) throw new Error(`Fido's /auth/oidc/login answered ${start.status}: ${start.body}`);
  let next: URL = start.location;
  const pages: string[] = [];
  for (let step = 0; step < 12; step++) {
    if (next.origin === fido.origin) return { callback: next, pages };
    const a = await browse(jar, provider.ca, next);
    if (a.location) {
      next = a.location;
      continue;
    }
    if (a.status !== 200) throw new Error(`the provider answered ${a.status} at ${next.pathname}: ${a.body.slice(0, 500)}`);
    const { action, fields } = formOf(a.body, next);
    pages.push(fields.prompt ?? 'unknown');
    if (opts.cancel) {
      const cancel = /<a href="([^"]+)">\[ Cancel \]<\/a>/.exec(a.body);
      if (!cancel) throw new Error("no Cancel link on the provider's page");
      const c = await browse(jar, provider.ca, new URL(cancel[1]!.replaceAll('&amp;', '&'), next));
      if (!c.location) throw new Error(`the provider's Cancel answered ${c.status}`);
      next = c.location;
      continue;
    }
    const form = fields.prompt === 'login' ? { ...fields, login: accountId, password: 'any password' } : fields;
    const posted = await browse(jar, provider.ca, action, { method: 'POST', form });
    if (!posted.location) throw new Error(`the provider's ${fields.prompt} form answered ${posted.status}: ${posted.body.slice(0, 500)}`);
    next = posted.location;
  }
  throw new Error('too many redirects between Fido and the provider');
}

export interface SsoResult {
  /** Where Fido's callback sent the browser. */
  location: URL | null;
  status: number;
  /** The fido_session cookie, when one was set. */
  session: string | undefined;
}

/** Fido's callback as the browser follows it. */
export async function finishAt(fido: FidoHarness, provider: OidcProviderHarness, jar: CookieJar, callback: URL): Promise<SsoResult> {
  const host = new URL(fido.origin).host;
  const before = jar.get(host, 'fido_session');
  const a = await browse(jar, provider.ca, callback);
  const after = jar.get(host, 'fido_session');
  return { location: a.location, status: a.status, session: after !== before ? after : undefined };
}

/** A whole sign-in: Fido → provider (login, consent) → Fido's callback. */
export async function signInWithSso(fido: FidoHarness, provider: OidcProviderHarness, accountId: string, jar = new CookieJar()): Promise<SsoResult & { pages: string[] }> {
  const { callback, pages } = await authorizeAt(fido, provider, jar, accountId);
  return { ...(await finishAt(fido, provider, jar, callback)), pages };
}

/** GET /api/v1/session with a session cookie: the user it signs in, or the status. */
export async function sessionUser(fido: FidoHarness, session: string): Promise<{ status: number; user?: { name: string; role: string; via: string } }> {
  const res = await fetch(new URL('/api/v1/session', fido.origin), { headers: { cookie: `fido_session=${session}` } });
  const body = (await res.json()) as { user?: { name: string; role: string; via: string } };
  return res.status === 200 ? { status: 200, user: body.user! } : { status: res.status };
}
