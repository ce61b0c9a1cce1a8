/** What the HTTP routes need from the running process; built by src/app.ts. */
import type { EventStreamOptions } from './routes/events.js';
import type { Store } from '../store/store.js';
import type { ManagedIntakeWriter } from '../intake/writer.js';
import type { SourceConfig } from '../config/schema.js';
import type { Principal, Role } from './auth.js';
import type { HttpLimits } from './limits.js';
import type { FailedAuthLimit } from './auth-limit.js';
import type { Enricher } from '../enrich/layer.js';
import type { AssetSettings } from '../store/incidents.js';
import type { BaseConfig } from '../backtest/sources.js';
import type { WebSettings } from '../web/settings.js';
import type { WebSession } from '../web/sessions.js';
import type { OidcLogin } from '../web/oidc.js';

export interface ServerTls {
  cert: string;
  key: string;
  /** CA of client certificates: mutual TLS. */
  clientCa?: string;
  /** required: no connection without a valid client certificate; optional: sources may demand one. */
  clientAuth: 'optional' | 'required';
}

export interface ApiContext {
  store: Store;
  /** null when this process does not take intake (FIDO_ROLE=worker|actions). */
  intake: ManagedIntakeWriter | null;
  sources: ReadonlyMap<string, SourceConfig>;
  allowUndeclaredSources: boolean;
  maxBodyBytes: number;
  maxRecordBytes: number;
  maxRecordsPerRequest: number;
  configVersion: string;
  authenticate(header: string | undefined): Promise<Principal | null>;
  /** Timeouts and connection limits (server.* keys, see connections.ts); the defaults when absent. */
  http?: HttpLimits;
  /** auth.failed_attempts (see auth-limit.ts); the default limit when absent. */
  failedAuth?: FailedAuthLimit;
  /** server.trust_proxy: addresses or CIDRs of reverse proxies whose X-Forwarded-For names the client. */
  trustProxy?: readonly string[];
  /** server.access_log: one info line per answered request (util/access-log.ts). */
  accessLog?: boolean;
  /**
   * The API's own enricher, for lookups asked by hand (routes/enrichment.ts): the configured providers behind
   * the shared layer, built at the first such request and closed with the process. Absent: those routes
   * answer 503.
   */
  enricher?: () => Promise<Enricher>;
  /** The configuration this process runs with (its policy, targets, profiles): for backtests and explain. */
  policyConfig?: BaseConfig;
  /** The event stream's limits (routes/events.ts); defaults when absent. */
  events?: EventStreamOptions;
  /** The key that signs approve/deny links (actions/approval-links.ts); absent: the links' routes answer 404. */
  approvalLinkKey?: Buffer;
  /** actions.kill_switch: the configuration holds the containment kill switch on (actions/kill-switch.ts). */
  killSwitchForced?: boolean;
  /** enrichment.assets: how the incident detail merges its inventories' answers (store/incidents.ts). */
  assets?: AssetSettings;
  /** Web app sessions and lockout (web/settings.ts); defaults when absent. */
  web?: WebSettings;
  /** Single sign-on (auth.oidc), when configured. */
  oidc?: OidcLogin;
  /** server.tls, PEM text read: the server speaks HTTPS (and asks for client certificates with a client CA). */
  tls?: ServerTls;
  /** Where the built web app is (default dist/web beside the code). */
  webRoot?: string;
  /** Called after a verdict is stored (e.g. to undo reversible actions on false_positive). */
  onVerdict?(incidentId: string, verdict: string, actor: string): Promise<void>;
}

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal | null;
    /** The web session that signed the request in (null for a bearer token). */
    webSession: WebSession | null;
  }
  interface FastifyContextConfig {
    /** Minimum role for the route; absent means public (only /healthz). */
    role?: Role;
    /** 'only': the route is about the web session itself (a bearer token is refused). */
    session?: 'only';
    /** Answered even on a connection accepted past the connection limits (health checks; connections.ts). */
    shedExempt?: boolean;
    /** The content types the route's body may have (default application/json); a 415 lists them. */
    bodyTypes?: readonly string[];
  }
}
