/** An API over a real store and intake writer, with one token per role. */
import type { FastifyInstance } from 'fastify';
import { buildApi } from '../../src/api/server.js';
import { createAuthenticator, ensureToken } from '../../src/api/auth.js';
import { createIntakeWriter, type ManagedIntakeWriter } from '../../src/intake/writer.js';
import type { FidoConfig, SourceConfig } from '../../src/config/schema.js';
import { resolveHttpLimits } from '../../src/api/limits.js';
import type { FailedAuthLimit } from '../../src/api/auth-limit.js';
import { openTestStore, type TestStore } from './stores.js';
import type { DialectName } from '../../src/store/dialect.js';
import type { WebSettings } from '../../src/web/settings.js';
import type { ApiContext, ServerTls } from '../../src/api/context.js';
import type { Store } from '../../src/store/store.js';

export const TOKENS = {
  viewer: 'viewer-token-0123456789',
  analyst: 'analyst-token-0123456789',
  responder: 'responder-token-0123456789',
  admin: 'admin-token-0123456789',
} as const;
export const auth = (role: keyof typeof TOKENS) => ({ authorization: `Bearer ${TOKENS[role]}` });

/**
 * An API context over `store` with the tests' defaults (no intake, no declared source, 1 MiB bodies, the store's
 * tokens, the default HTTP limits); `extra` sets or overrides any part.
 */
export function apiContext(store: Store, extra: Partial<ApiContext> = {}): ApiContext {
  return {
    store,
    intake: null,
    sources: new Map(),
    allowUndeclaredSources: false,
    maxBodyBytes: 1024 * 1024,
    maxRecordBytes: 64 * 1024,
    maxRecordsPerRequest: 1000,
    configVersion: 'test',
    authenticate: createAuthenticator(store.db),
    http: resolveHttpLimits({}).limits,
    ...extra,
  };
}

export interface TestApi {
  app: FastifyInstance;
  t: TestStore;
  intake: ManagedIntakeWriter;
  close(): Promise<void>;
}

export async function testApi(
  dialect: DialectName = 'sqlite',
  opts: {
    maxBacklog?: number;
    maxBodyBytes?: number;
    allowUndeclared?: boolean;
    sources?: SourceConfig[];
    /** server.* keys for the HTTP limits (timeouts, connections), resolved as at start. */
    server?: FidoConfig['server'];
    failedAuth?: FailedAuthLimit;
    /** actions.kill_switch: the configuration holds the containment kill switch on. */
    killSwitchForced?: boolean;
    /** Web sessions and lockout; the defaults when absent. */
    web?: WebSettings;
    /** Where the built web app is (default dist/web). */
    webRoot?: string;
    /** Serve HTTPS (server.tls, PEM read). */
    tls?: ServerTls;
  } = {},
): Promise<TestApi> {
  const t = await openTestStore(dialect);
  for (const role of ['viewer', 'analyst', 'responder', 'admin'] as const) await ensureToken(t.store.db, TOKENS[role], role, role);
  const intake = createIntakeWriter(t.store, { maxBacklog: opts.maxBacklog ?? 100_000, backlogRefreshMs: 50 });
  const app = await buildApi(
    apiContext(t.store, {
      intake,
      sources: new Map((opts.sources ?? [{ name: 'ids', detector: 'suricata' }]).map((s) => [s.name, s])),
      allowUndeclaredSources: opts.allowUndeclared ?? true,
      maxBodyBytes: opts.maxBodyBytes ?? 1024 * 1024,
      http: resolveHttpLimits(opts.server ?? {}).limits,
      trustProxy: opts.server?.trust_proxy ?? [],
      accessLog: opts.server?.access_log ?? false,
      ...(opts.failedAuth ? { failedAuth: opts.failedAuth } : {}),
      ...(opts.killSwitchForced ? { killSwitchForced: true } : {}),
      ...(opts.web ? { web: opts.web } : {}),
      ...(opts.webRoot ? { webRoot: opts.webRoot } : {}),
      ...(opts.tls ? { tls: opts.tls } : {}),
    }),
  );
  return {
    app,
    t,
    intake,
    async close() {
      await app.close();
      await intake.close();
      await t.cleanup();
    },
  };
}
