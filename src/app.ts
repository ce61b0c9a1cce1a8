/**
 * The process's composition root: builds every part from the loaded config and starts what FIDO_ROLE asks
 * for (all | api | intake | worker | actions). The pipeline's parts come from pipeline/build.ts, which the
 * warm-up, the benchmarks and the tests use too; this is the only file that knows all the other parts.
 */
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { LoadedConfig } from './config/load.js';
import { openStore, type Store } from './store/store.js';
import { createIntakeWriter, type ManagedIntakeWriter } from './intake/writer.js';
import { createReceivers } from './intake/registry.js';
import { ReceiverSupervisor, type RunningReceiver } from './intake/health.js';
import type { Stage } from './pipeline/stage.js';
import type { Pipeline } from './pipeline/runner.js';
import type { Ingest } from './pipeline/ingest/index.js';
import type { ParseWatch } from './pipeline/ingest/parse.js';
import { buildPipeline, pipelineSettings } from './pipeline/build.js';
import { buildActionExecutor, type RunningExecutor } from './actions/wiring.js';
import { approvalLinkSettings } from './actions/approval-links.js';
import type { EventStreamOptions } from './api/routes/events.js';
import { startPipelineThread } from './thread/pipeline.js';
import { warmUp } from './pipeline/warm-up.js';
import { buildApi } from './api/server.js';
import { sharedEnricher, type SharedEnricher } from './api/routes/enrichment.js';
import { createConfiguredEnricher } from './enrich/registry.js';
import { countActiveTokens, createAuthenticator, ensureToken, newToken, tokenProblem } from './api/auth.js';
import { resolveHttpLimits } from './api/limits.js';
import { resolveFailedAuthLimit } from './api/auth-limit.js';
import { countUsers, createUser, newPassword } from './web/accounts.js';
import { webSettings } from './web/settings.js';
import { createOidcLogin } from './web/oidc.js';
import type { SourceConfig } from './config/schema.js';
import { log, type Logger } from './util/log.js';
import type { FidoConfig } from './config/schema.js';
import { parseDuration } from './config/duration.js';
import type { AssetSettings } from './store/incidents.js';
import { pem } from './util/pem.js';
import type { ServerTls } from './api/context.js';

export const PROCESS_ROLES = ['all', 'api', 'intake', 'worker', 'actions'] as const;
export type ProcessRole = (typeof PROCESS_ROLES)[number];
/**
 * What a process or thread can run: a role's parts, the two halves of `worker` (ingest, incidents), and
 * `idle-incidents`: the incident stages, worked only once ingest here has had nothing to ingest for a
 * second (the ingest thread of `fido start`, which would otherwise sit idle while the incident thread
 * drains a burst).
 */
export type Part = Exclude<ProcessRole, 'all'> | 'ingest' | 'incidents' | 'idle-incidents';

/** How long the ingest thread must have had nothing to ingest before it works incident passes (idle-incidents). */
const HELP_AFTER_IDLE_MS = 1000;

export interface FidoOptions {
  loaded: LoadedConfig;
  env?: NodeJS.ProcessEnv;
  /** Overrides FIDO_PORT / server.port (0 = any free port, for tests). */
  port?: number;
  logger?: Logger;
  /** Called once with a freshly created admin token (first start with no token configured). */
  onBootstrapToken?(token: string): void;
  /** Called once with the web app's first account (first start of a process serving the API, with no account yet). */
  onBootstrapUser?(account: { name: string; password: string }): void;
  /** For CLI tools: no API, receivers or actions; the pipeline stages only when `worker` is true. */
  offline?: { worker: boolean };
  /**
   * With FIDO_ROLE=all, run the pipeline in two worker threads (thread/pipeline.ts: ingest; the incident
   * stages and the action executor) so that HTTP intake and the pipeline share the cores; `fido start` does.
   * `pipeline.drain()` is then not available, so tests that drive the pipeline themselves leave this off.
   */
  pipelineThread?: boolean;
  /** Runs exactly these parts, whatever FIDO_ROLE says (the pipeline threads of `fido start`). */
  parts?: ReadonlyArray<Part>;
  /** The ingest thread's side of its supervisor (thread/pipeline.ts): the parse watch, and what to set aside. */
  parseSupervision?: { watch: ParseWatch; setAside: ReadonlyMap<number, string> };
  /**
   * Warm the pipeline on made-up alerts before it takes work (pipeline/warm-up.ts), unless the config says
   * `pipeline.warm_up: false`. `fido start` does; tests that drive the pipeline need not.
   */
  warmUp?: boolean;
}

export interface Fido {
  store: Store;
  api: FastifyInstance | null;
  url: string | null;
  pipeline: Pipeline;
  /** The log consumer this process runs (undefined when it runs elsewhere). */
  ingest: Ingest | undefined;
  /** The incident stages this process runs, in order (empty when they run elsewhere). */
  stages: readonly Stage<unknown>[];
  intake: ManagedIntakeWriter | null;
  executor: RunningExecutor | null;
  configVersion: string;
  stop(): Promise<void>;
}

export function processRole(env: NodeJS.ProcessEnv): ProcessRole {
  const r = env.FIDO_ROLE ?? 'all';
  if (!(PROCESS_ROLES as readonly string[]).includes(r)) throw new Error(`FIDO_ROLE: expected one of ${PROCESS_ROLES.join(', ')}, got "${r}"`);
  return r as ProcessRole;
}

export async function startFido(opts: FidoOptions): Promise<Fido> {
  const env = opts.env ?? process.env;
  const logger = opts.logger ?? log;
  const { config, version, dir, text } = opts.loaded;
  const role = processRole(env);
  const owner = `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
  const offline = opts.offline;
  const threaded = !offline && !opts.parts && role === 'all' && (opts.pipelineThread ?? false);
  const parts: ReadonlyArray<Part> | null = threaded ? ['api', 'intake'] : opts.parts ?? null;
  const runs = (...roles: Part[]) =>
    offline
      ? offline.worker && roles.includes('worker')
      : parts
        ? roles.some((r) => parts.includes(r))
        : role === 'all' || roles.includes(role as Part);

  refuseUnusableTokens(opts.loaded, env);
  const store = await openStore({
    databaseUrl: env.FIDO_DATABASE_URL,
    dataDir: resolve(env.FIDO_DATA_DIR ?? './data'),
    sqliteSynchronous: config.store?.sqlite_synchronous,
    cachedAlerts: config.pipeline?.cached_alerts,
  });
  await store.db
    .insertInto('config_versions')
    .values({ version, created_at: Date.now(), text })
    .onConflict((oc) => oc.column('version').doNothing())
    .execute();
  await provisionTokens(store, opts.loaded, env, opts.onBootstrapToken);

  const { parseTimeLimitMs } = pipelineSettings(config);
  if (runs('worker', 'ingest', 'incidents') && !offline && opts.warmUp && config.pipeline?.warm_up !== false) {
    const warmed = await warmUp(opts.loaded, { dataDir: env.FIDO_DATA_DIR ?? './data', log: logger, name: (parts ?? ['worker']).join('-') });
    logger.info(warmed, 'pipeline warmed up');
  }
  // Two pipeline threads, so that the pipeline has both cores once intake is idle: ingest (parsing and
  // correlation) in one, the incident stages (enrich, score, decide) and the action executor in the other.
  // The ingest thread works incident passes too, once it has had nothing to ingest for a second: after a
  // burst the incident thread had seconds of passes left on one core while the other was idle.
  // Each has its own store connection; a commit in one wakes the other through the store (watchCommits).
  // The ingest thread is supervised: a parse that overruns twice the parse time limit is stopped (the thread
  // is replaced and the record set aside), since it cannot be stopped from inside the thread.
  const threadData = { configFile: opts.loaded.file, env: { ...env }, warmUp: opts.warmUp ?? false };
  const threads = threaded
    ? await Promise.all([
        startPipelineThread({ ...threadData, parts: ['ingest', 'idle-incidents'] }, logger, { parseTimeLimitMs }),
        startPipelineThread({ ...threadData, parts: ['incidents', 'actions'] }, logger),
      ])
    : [];
  // Where ingest runs in `fido start` (its thread) or a worker process, it parses on a thread of its own.
  // The ingest thread of `fido start` works incident passes only once it has had nothing to ingest.
  const helps = parts?.includes('idle-incidents') === true && !runs('worker', 'incidents');
  const built = threaded
    ? null
    : await buildPipeline({
        store,
        loaded: opts.loaded,
        owner,
        log: logger,
        ...(runs('worker', 'ingest')
          ? {
              ingest: {
                parseThread: !offline && (parts?.includes('ingest') === true || role === 'worker'),
                rememberAlerts: runs('worker', 'incidents'),
                ...(opts.parseSupervision ? { supervision: opts.parseSupervision } : {}),
              },
            }
          : {}),
        ...(runs('worker', 'incidents', 'idle-incidents')
          ? { incidents: { startSandbox: runs('worker', 'incidents'), ...(helps ? { whenIngestIdleFor: HELP_AFTER_IDLE_MS } : {}) } }
          : {}),
      });
  const pipeline = threads[0]?.pipeline ?? built!.pipeline;

  const intake = offline || runs('intake', 'api')
    ? createIntakeWriter(store, { maxBacklog: offline ? Number.MAX_SAFE_INTEGER : config.intake?.max_backlog ?? 200_000, onCommit: () => pipeline.wake() })
    : null;

  // One source at a time, so that each receiver is known by its source and kind (health, supervision).
  const running: RunningReceiver[] = [];
  if (intake && runs('intake')) {
    try {
      for (const source of config.sources ?? []) {
        const [receiver] = await createReceivers([source], { store, intake, log: logger, configDir: dir, owner });
        if (receiver) running.push({ source: source.name, kind: source.receiver?.kind ?? 'http', receiver });
      }
    } catch (e) {
      await Promise.allSettled(running.map((r) => r.receiver.stop()));
      throw e;
    }
  }
  const receivers = new ReceiverSupervisor(store, running, owner, logger);

  const publicUrl = config.server?.public_url ?? `http://${env.FIDO_HOST ?? config.server?.host ?? '127.0.0.1'}:${env.FIDO_PORT ?? config.server?.port ?? 8700}`;
  const links = runs('actions', 'api') ? await approvalLinkSettings(store.db, config.actions) : undefined;
  const executor = runs('actions') ? await buildActionExecutor({ store, loaded: opts.loaded, owner, publicUrl, log: logger, ...(links ? { links } : {}) }) : null;

  let api: FastifyInstance | null = null;
  /** The API's own enricher for lookups asked by hand; the pipeline (maybe in another thread or process) has its own. */
  let enrichment: SharedEnricher | null = null;
  let url: string | null = null;
  let stopped = false;
  /** Stops what this start started, in the reverse order; also when the API cannot listen. */
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await api?.close();
    await enrichment?.close();
    await receivers.stop();
    await intake?.close();
    await executor?.stop();
    await built?.close();
    for (const t of threads) await t.stop();
    await store.close();
  };

  if (runs('api', 'intake')) {
    const sources = new Map<string, SourceConfig>((config.sources ?? []).map((s) => [s.name, s]));
    const http = resolveHttpLimits(config.server);
    for (const w of http.warnings) logger.warn(w);
    enrichment = sharedEnricher(() =>
      createConfiguredEnricher(config.enrichment?.providers ?? [], { store, configDir: dir, internalDomains: config.enrichment?.internal_domains }),
    );
    api = await buildApi({
      store,
      intake,
      sources,
      allowUndeclaredSources: config.intake?.allow_undeclared_sources ?? false,
      maxBodyBytes: config.server?.max_body_bytes ?? 10 * 1024 * 1024,
      maxRecordBytes: config.intake?.max_record_bytes ?? 256 * 1024,
      maxRecordsPerRequest: 10_000,
      configVersion: version,
      authenticate: createAuthenticator(store.db),
      http: http.limits,
      failedAuth: resolveFailedAuthLimit(config.auth),
      trustProxy: config.server?.trust_proxy ?? [],
      accessLog: config.server?.access_log ?? false,
      enricher: enrichment.get,
      assets: assetSettings(config),
      killSwitchForced: config.actions?.kill_switch ?? false,
      ...(links ? { approvalLinkKey: links.key } : {}),
      events: eventStreamOptions(config.server?.events),
      web: webSettings(config),
      ...(config.auth?.oidc ? { oidc: createOidcLogin(config.auth.oidc, config.server?.public_url, env) } : {}),
      policyConfig: { config, dir, file: opts.loaded.file, text },
      ...(config.server?.tls ? { tls: serverTls(config.server.tls, dir) } : {}),
    });
    await provisionFirstUser(store, opts.onBootstrapUser);
    const port = opts.port ?? Number(env.FIDO_PORT ?? config.server?.port ?? 8700);
    const host = env.FIDO_HOST ?? config.server?.host ?? '127.0.0.1';
    try {
      url = await api.listen({ port, host });
    } catch (e) {
      await stop();
      throw new Error(`cannot listen on ${host}:${port}: ${listenFailure(e)}`, { cause: e });
    }
  }

  if (!offline) pipeline.start(); // CLI tools drain() when they want processing
  await receivers.start();
  executor?.start();
  // The pipeline thread of `fido start` (opts.parts) is a part of the process, not a start of its own.
  if (opts.parts) logger.info({ parts: opts.parts, config_version: version }, 'pipeline thread started');
  else logger.info({ role, url, store: store.dialect, config_version: version }, 'fido started');

  return {
    store,
    api,
    url,
    pipeline,
    ingest: built?.ingest,
    stages: built?.stages ?? [],
    intake,
    executor,
    configVersion: version,
    stop,
  };
}

async function provisionTokens(store: Store, loaded: LoadedConfig, env: NodeJS.ProcessEnv, onBootstrap?: (t: string) => void) {
  for (const t of loaded.config.auth?.tokens ?? []) await ensureToken(store.db, t.token, t.name, t.role);
  if (env.FIDO_BOOTSTRAP_TOKEN) await ensureToken(store.db, env.FIDO_BOOTSTRAP_TOKEN, 'bootstrap', 'admin');
  if ((await countActiveTokens(store.db)) === 0) {
    const token = newToken();
    await ensureToken(store.db, token, 'first-admin', 'admin');
    onBootstrap?.(token);
  }
}

/** The web app's first account: an admin with a password made here, shown once (as the first token is). */
async function provisionFirstUser(store: Store, onBootstrap?: (account: { name: string; password: string }) => void) {
  if ((await countUsers(store.db)) > 0) return;
  const account = { name: 'admin', password: newPassword() };
  try {
    await createUser(store.db, { ...account, role: 'admin' });
  } catch (e) {
    // Another process serving the API made it first.
    if ((await countUsers(store.db)) > 0) return;
    throw e;
  }
  onBootstrap?.(account);
}

/** "address already in use" and the like: what a failed listen means, for the message that ends the start. */
function listenFailure(e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code;
  const meaning: Record<string, string> = {
    EADDRINUSE: 'the address is already in use (another Fido, or another program, listens there)',
    EACCES: 'permission denied (ports below 1024 need privileges)',
    EADDRNOTAVAIL: 'no interface of this machine has that address',
  };
  return (code && meaning[code]) ?? (e as Error).message;
}

/**
 * Refuses, before anything starts, an API token that no request could present (tokenProblem): otherwise it
 * would be stored and every request with it answered 401. Names the setting, never the value.
 */
function refuseUnusableTokens(loaded: LoadedConfig, env: NodeJS.ProcessEnv): void {
  const given: Array<[setting: string, token: string]> = (loaded.config.auth?.tokens ?? []).map((t) => [`auth.tokens.${t.name}.token`, t.token]);
  if (env.FIDO_BOOTSTRAP_TOKEN) given.push(['FIDO_BOOTSTRAP_TOKEN', env.FIDO_BOOTSTRAP_TOKEN]);
  for (const [setting, token] of given) {
    const problem = tokenProblem(token);
    if (problem) throw new Error(`${setting}: ${problem}`);
  }
}

/** enrichment.assets as the incident detail applies it. */
function assetSettings(config: FidoConfig): AssetSettings {
  const a = config.enrichment?.assets;
  return { precedence: a?.precedence, maxAgeMs: a?.max_age === undefined ? null : parseDuration(a.max_age, 'enrichment.assets.max_age') };
}

/** `server.events` as the event stream's options (routes/events.ts; defaults where unset). */
function eventStreamOptions(e: NonNullable<FidoConfig['server']>['events']): EventStreamOptions {
  return {
    ...(e?.heartbeat !== undefined ? { heartbeatMs: parseDuration(e.heartbeat, 'server.events.heartbeat') } : {}),
    ...(e?.max_streams !== undefined ? { maxStreams: e.max_streams } : {}),
    ...(e?.max_streams_per_token !== undefined ? { maxStreamsPerToken: e.max_streams_per_token } : {}),
    ...(e?.max_backlog !== undefined ? { maxBacklog: e.max_backlog } : {}),
  };
}

/** server.tls with its PEM read (text, or files relative to the config). */
function serverTls(t: NonNullable<NonNullable<FidoConfig['server']>['tls']>, dir: string): ServerTls {
  return {
    cert: pem(t.cert, dir),
    key: pem(t.key, dir),
    ...(t.client_ca ? { clientCa: pem(t.client_ca, dir) } : {}),
    clientAuth: t.client_auth ?? 'optional',
  };
}

