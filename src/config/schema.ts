/**
 * The fido.yaml schema (DESIGN.md §6). Component entries (receivers, enrichment providers, action targets,
 * policy rules) are validated here for their common keys and then against the schema of their `kind`
 * (see load.ts), so a new kind adds its own schema without touching this file.
 */
import { Type, type Static, type TSchema } from 'typebox';
import { DURATION_PATTERN } from './duration.js';

const Duration = Type.Union([Type.String({ pattern: DURATION_PATTERN }), Type.Number({ minimum: 0 })], {
  description: 'e.g. 30s, 15m, 2h, 7d, or a number of seconds',
});
export { Duration };
/** A duration that must be above zero (timeouts: zero would mean "never"); checked in validate.ts. */
const Timeout = (description: string) =>
  Type.Union([Type.String({ pattern: DURATION_PATTERN }), Type.Number({ exclusiveMinimum: 0 })], { description });

const Entry = (extra: Record<string, TSchema>) =>
  Type.Object({ name: Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$' }), kind: Type.String(), ...extra });

export const SourceSchema = Type.Object(
  {
    name: Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$', description: 'The `source` of every alert it brings' }),
    detector: Type.Optional(Type.String({ description: 'Detector name, or "auto" (default) to detect the format' })),
    time_zone: Type.Optional(
      Type.String({ description: 'IANA zone (e.g. Europe/Berlin) or offset (+02:00) of timestamps that carry no zone (syslog RFC 3164…); default UTC' }),
    ),
    receiver: Type.Optional(
      Type.Object({ kind: Type.String({ description: 'http (default), file, …' }) }, { additionalProperties: true }),
    ),
    intake: Type.Optional(
      Type.Object(
        {
          tokens: Type.Optional(
            Type.Array(Type.String({ minLength: 1 }), {
              minItems: 1,
              description: 'Secret references (${env:NAME}); only these bearer tokens may post to this source, and they may post nowhere else',
            }),
          ),
          hmac: Type.Optional(
            Type.Object(
              {
                secret: Type.String({ minLength: 1, description: 'A secret reference such as ${env:WEBHOOK_SECRET}' }),
                header: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9-]{1,100}$', description: 'Header with the hex HMAC, "sha256=" prefix allowed (default X-Signature)' })),
                algorithm: Type.Optional(Type.Union([Type.Literal('sha256'), Type.Literal('sha512')], { description: 'default sha256' })),
                timestamp_header: Type.Optional(
                  Type.String({ pattern: '^[A-Za-z0-9-]{1,100}$', description: 'Header with the Unix time in seconds; the HMAC then covers timestamp + "." + body' }),
                ),
                max_skew: Type.Optional(Timeout('How far the timestamp may be from this clock (default 5m); older requests are refused as replays')),
              },
              { additionalProperties: false },
            ),
          ),
          allow: Type.Optional(Type.Array(Type.String({ minLength: 1 }), { minItems: 1, description: 'Client addresses or CIDR ranges (the client as server.trust_proxy resolves it)' })),
          rate_limit: Type.Optional(
            Type.Object(
              {
                per_second: Type.Number({ exclusiveMinimum: 0, description: 'Requests per second, on average' }),
                burst: Type.Optional(Type.Integer({ minimum: 1, description: 'Requests allowed at once (default: per_second rounded up)' })),
              },
              { additionalProperties: false, description: 'A token bucket per source, in this process' },
            ),
          ),
          max_body_bytes: Type.Optional(Type.Integer({ minimum: 1, description: "Largest body for this source; at most server.max_body_bytes" })),
          client_certs: Type.Optional(
            Type.Array(Type.String({ minLength: 1 }), {
              minItems: 1,
              description:
                'Mutual TLS: only clients whose verified certificate (signed by server.tls.client_ca) names one of these, as subject CN or a DNS/email/URI subject alternative name, may post to this source',
            }),
          ),
        },
        { additionalProperties: false, description: 'Protection of HTTP intake for this source (src/intake/protection.ts)' },
      ),
    ),
  },
  { additionalProperties: false },
);

export const JsonMappingSchema = Type.Object(
  {
    name: Type.String({ pattern: '^[a-z][a-z0-9_-]{0,63}$', description: 'Detector name this mapping registers' }),
    description: Type.Optional(Type.String()),
    match: Type.Optional(
      Type.Record(Type.String(), Type.Union([Type.String(), Type.Number(), Type.Boolean()]), {
        description: 'Field path → value that a record must carry for auto-detection',
      }),
    ),
    fields: Type.Record(Type.String(), Type.String(), {
      description: 'Alert field (e.g. title, time, src.ip, rule.id) → dotted path in the record',
    }),
    severity: Type.Optional(
      Type.Object(
        {
          map: Type.Optional(Type.Record(Type.String(), Type.Number({ minimum: 0, maximum: 100 }))),
          scale: Type.Optional(Type.Number({ exclusiveMinimum: 0, description: 'Max of the numeric vendor scale' })),
          invert: Type.Optional(Type.Boolean({ description: 'true when 1 is the most severe' })),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);

const PolicyThen = Type.Array(
  Type.Object(
    {
      action: Type.String({ description: 'Name of a target under actions.targets' }),
      params: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
      for: Type.Optional(
        Type.Union([Type.String({ pattern: DURATION_PATTERN }), Type.Number({ exclusiveMinimum: 0 })], {
          description: 'Undo the action this long after it succeeded (reversible kinds only), e.g. 2h',
        }),
      ),
    },
    { additionalProperties: false },
  ),
);

const PolicyApproval = Type.Union([
  Type.Literal('auto'),
  Type.Literal('required'),
  Type.Object(
    {
      mode: Type.Union([Type.Literal('auto'), Type.Literal('required')]),
      timeout: Type.Optional(Duration),
      default: Type.Optional(Type.Union([Type.Literal('approve'), Type.Literal('deny')])),
    },
    { additionalProperties: false },
  ),
]);

export const PolicyRuleSchema = Type.Object(
  {
    name: Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$' }),
    description: Type.Optional(Type.String()),
    when: Type.String({ description: 'CEL expression over incident, alerts, enrichment and score' }),
    outcome: Type.Optional(Type.String({ description: 'ignore | log | notify | respond | escalate' })),
    then: Type.Optional(PolicyThen),
    approval: Type.Optional(PolicyApproval),
    dry_run: Type.Optional(Type.Boolean()),
    continue: Type.Optional(Type.Boolean({ description: 'Keep evaluating later rules after this one matches' })),
  },
  { additionalProperties: false },
);

/**
 * What happens when a rule's `when` fails (an error or the time limit): the failed rule might have matched,
 * so the incident must not pass as "no match" (docs/policy.md "When a rule fails").
 */
export const PolicyFallbackSchema = Type.Object(
  {
    outcome: Type.Optional(
      Type.String({ description: 'Outcome of the decision when a rule could not be evaluated, unless the rules decided a stronger one (default notify)' }),
    ),
    then: Type.Optional(PolicyThen),
    approval: Type.Optional(PolicyApproval),
  },
  { additionalProperties: false, description: 'Applied when a rule fails to evaluate (error or time limit); default: outcome notify, no actions' },
);

const NameList = (what: string) =>
  Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 256 }), { description: `${what}; * matches any run of characters, case does not matter` }));

/** actions.guards: who and what containment never touches without a person, and how much it may do at once. */
export const GuardsSchema = Type.Object(
  {
    protected: Type.Optional(
      Type.Object(
        {
          users: NameList('Accounts (sAMAccountName, UPN, e-mail) whose containment always needs approval'),
          groups: NameList("Directory groups (name or DN) whose members' containment always needs approval"),
          hosts: NameList('Hosts whose containment always needs approval'),
          privileged: Type.Optional(Type.Boolean({ description: 'Also every user the directory marks privileged or VIP' })),
        },
        { additionalProperties: false },
      ),
    ),
    limits: Type.Optional(
      Type.Array(
        Type.Object(
          {
            name: Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$' }),
            kind: Type.Optional(Type.String({ description: 'Actions of this kind (e.g. ldap_account)' })),
            target: Type.Optional(Type.String({ description: 'Actions of this target (actions.targets[].name)' })),
            rule: Type.Optional(Type.String({ description: 'Actions planned by this rule' })),
            max: Type.Optional(Type.Integer({ minimum: 0, description: 'At most this many run without approval per `per`' })),
            per: Type.Optional(Duration),
            max_active: Type.Optional(Type.Integer({ minimum: 0, description: 'At most this many in effect at once (queued, running, or done and not undone)' })),
          },
          { additionalProperties: false },
        ),
      ),
    ),
  },
  { additionalProperties: false, description: 'Guards: containment that needs a person anyway (protected users, groups, hosts; rate and blast-radius limits)' },
);

export const ConfigSchema = Type.Object(
  {
    server: Type.Optional(
      Type.Object(
        {
          host: Type.Optional(Type.String()),
          port: Type.Optional(Type.Integer({ minimum: 0, maximum: 65535 })),
          max_body_bytes: Type.Optional(Type.Integer({ minimum: 1024 })),
          public_url: Type.Optional(Type.String()),
          tls: Type.Optional(
            Type.Object(
              {
                cert: Type.String({ minLength: 1, description: 'Server certificate chain: PEM text (${file:…}) or a PEM file path (relative to the config file)' }),
                key: Type.String({ minLength: 1, description: 'Its private key: PEM text (${file:…}) or a PEM file path' }),
                client_ca: Type.Optional(Type.String({ minLength: 1, description: 'CA certificates that sign client certificates (PEM text or file path): turns on mutual TLS' })),
                client_auth: Type.Optional(
                  Type.Union([Type.Literal('optional'), Type.Literal('required')], {
                    description:
                      'With client_ca: optional (default) asks every client for a certificate and lets sources demand one (sources[].intake.client_certs); required refuses connections without a valid one',
                  }),
                ),
              },
              { additionalProperties: false, description: 'Serve the API and the web app over HTTPS (TLS 1.2+); without it, terminate TLS in a proxy' },
            ),
          ),
          access_log: Type.Optional(
            Type.Boolean({ description: 'Log one line per request: method, route, status, time, client, token name (default false)' }),
          ),
          headers_timeout: Type.Optional(
            Timeout('Time a client has to send the request line and headers (default 20s); slowloris defence'),
          ),
          request_timeout: Type.Optional(
            Timeout('Time a client has to send the whole request, body included (default 2m); at least headers_timeout'),
          ),
          keep_alive_timeout: Type.Optional(
            Timeout('How long an idle keep-alive connection waits for its next request (default 72s)'),
          ),
          idle_timeout: Type.Optional(
            Timeout('A connection on which no byte moves either way for this long is closed (default 60s)'),
          ),
          max_connections: Type.Optional(
            Type.Integer({
              minimum: 1,
              description: 'Connections served at once; past it new ones get 503 + Retry-After (default: derived from the open-file limit)',
            }),
          ),
          events: Type.Optional(
            Type.Object(
              {
                heartbeat: Type.Optional(Duration),
                max_streams: Type.Optional(Type.Integer({ minimum: 1, description: 'Event streams served at once (default 100); past it 503 + Retry-After' })),
                max_streams_per_token: Type.Optional(Type.Integer({ minimum: 1, description: 'Event streams per token (default 10); past it 429' })),
                max_backlog: Type.Optional(Type.Integer({ minimum: 1, description: 'Events replayed to a client that resumes (default 1000); past it a reset' })),
              },
              { additionalProperties: false, description: 'GET /api/v1/events' },
            ),
          ),
          max_connections_per_address: Type.Optional(
            Type.Integer({
              minimum: 0,
              description: 'Connections served at once per client address (default 256; 0 = no per-address limit)',
            }),
          ),
          trust_proxy: Type.Optional(
            Type.Array(Type.String({ minLength: 1 }), {
              description:
                'Addresses or CIDRs of reverse proxies: their X-Forwarded-For names the client (for the failed-token limit), and their connections skip the per-address limit',
            }),
          ),
        },
        { additionalProperties: false },
      ),
    ),
    store: Type.Optional(
      Type.Object(
        { sqlite_synchronous: Type.Optional(Type.Union([Type.Literal('FULL'), Type.Literal('NORMAL')])) },
        { additionalProperties: false },
      ),
    ),
    intake: Type.Optional(
      Type.Object(
        {
          allow_undeclared_sources: Type.Optional(Type.Boolean()),
          max_backlog: Type.Optional(Type.Integer({ minimum: 1, description: 'Queued raw records before 429' })),
          max_record_bytes: Type.Optional(Type.Integer({ minimum: 256 })),
        },
        { additionalProperties: false },
      ),
    ),
    pipeline: Type.Optional(
      Type.Object(
        {
          warm_up: Type.Optional(
            Type.Boolean({ description: '`fido start` first runs the pipeline on made-up alerts in a scratch store (default true)' }),
          ),
          cached_alerts: Type.Optional(
            Type.Integer({
              minimum: 0,
              description: 'Parsed alert documents kept in memory so that stages do not re-read them (default 50000; ~1.1 KB of memory each)',
            }),
          ),
          cached_answers: Type.Optional(
            Type.Integer({
              minimum: 0,
              description:
                'No longer used (accepted so that configurations written for earlier releases still load): the enrich stage reads the stored answers it needs from the store',
            }),
          ),
          coalesce_when_behind: Type.Optional(
            Type.Union(Duration.anyOf, {
              description:
                'While ingest is behind (a burst), how long an incident just worked waits before it is enriched, scored and decided again, so that the alerts arriving meanwhile share one pass (default 5s; 0: never wait). Everything waiting is due once ingest catches up.',
            }),
          ),
          parse_time_limit: Type.Optional(
            Timeout('A record whose parse takes longer is quarantined with the reason "parse time limit" instead of parsed again after every restart (default 1s)'),
          ),
        },
        { additionalProperties: false },
      ),
    ),
    sources: Type.Optional(Type.Array(SourceSchema)),
    detectors: Type.Optional(
      Type.Object({ json: Type.Optional(Type.Array(JsonMappingSchema)) }, { additionalProperties: false }),
    ),
    correlation: Type.Optional(
      Type.Object(
        { dedup_window: Type.Optional(Duration), group_window: Type.Optional(Duration) },
        { additionalProperties: false },
      ),
    ),
    enrichment: Type.Optional(
      Type.Object(
        {
          providers: Type.Optional(Type.Array(Entry({}))),
          internal_domains: Type.Optional(
            Type.Array(Type.String({ minLength: 1 }), {
              description: "The organisation's own DNS domains: names under them are never sent to external providers",
            }),
          ),
          answer_within: Type.Optional(
            Timeout('How long an incident waits for answers of services before it goes on with what it has (default 3s; later answers enrich it again)'),
          ),
          assets: Type.Optional(
            Type.Object(
              {
                precedence: Type.Optional(
                  Type.Array(Type.String({ minLength: 1 }), {
                    description:
                      'Inventory provider names, most trusted first: where inventories disagree about a host, the earlier one gives the value in the incident detail (src/enrich/assets.ts); unlisted providers come after, the fresher answer first',
                  }),
                ),
                max_age: Type.Optional(
                  Type.Union(Duration.anyOf, {
                    description: "Inventory answers whose record was last seen (else fetched) longer ago than this are left out of the merged asset and listed as stale (default: no limit)",
                  }),
                ),
              },
              { additionalProperties: false },
            ),
          ),
        },
        { additionalProperties: false },
      ),
    ),
    scoring: Type.Optional(
      Type.Object(
        {
          profile: Type.Optional(Type.String()),
          profiles: Type.Optional(Type.Record(Type.String(), Type.Record(Type.String(), Type.Unknown()))),
        },
        { additionalProperties: false },
      ),
    ),
    policy: Type.Optional(
      Type.Object(
        {
          dry_run: Type.Optional(Type.Boolean({ description: 'Record decisions but queue no actions' })),
          rules: Type.Optional(Type.Array(PolicyRuleSchema)),
          files: Type.Optional(Type.Array(Type.String(), { description: 'Extra YAML files holding `rules:`' })),
          fallback: Type.Optional(PolicyFallbackSchema),
        },
        { additionalProperties: false },
      ),
    ),
    actions: Type.Optional(
      Type.Object(
        {
          targets: Type.Optional(Type.Array(Entry({}))),
          max_attempts: Type.Optional(Type.Integer({ minimum: 1, maximum: 50 })),
          backoff_base: Type.Optional(Duration),
          backoff_max: Type.Optional(Duration),
          lease: Type.Optional(Duration),
          kill_switch: Type.Optional(
            Type.Boolean({ description: 'true: no containment action ever starts (the switch the API and CLI turn on, held on by configuration)' }),
          ),
          approval_links: Type.Optional(
            Type.Object(
              {
                secret: Type.Optional(Type.String({ description: 'Key that signs approve/deny links (a secret reference, ≥ 32 characters); default: one Fido makes and keeps in the store' })),
                ttl: Type.Optional(Duration),
              },
              { additionalProperties: false, description: 'Signed, expiring approve/deny links in chat and e-mail messages' },
            ),
          ),
          guards: Type.Optional(GuardsSchema),
        },
        { additionalProperties: false },
      ),
    ),
    auth: Type.Optional(
      Type.Object(
        {
          failed_attempts: Type.Optional(
            Type.Object(
              {
                limit: Type.Optional(
                  Type.Integer({ minimum: 0, description: 'Failed token attempts per client address per window before 429 (default 10; 0 = no limit)' }),
                ),
                window: Type.Optional(Duration),
              },
              { additionalProperties: false },
            ),
          ),
          sessions: Type.Optional(
            Type.Object(
              {
                ttl: Type.Optional(Duration),
                idle: Type.Optional(Duration),
                secure_cookie: Type.Optional(
                  Type.Boolean({ description: "The session cookie's Secure attribute (default true; browsers accept it on http://localhost; false only behind a plain-HTTP network you trust)" }),
                ),
              },
              { additionalProperties: false, description: 'Web app sessions: absolute lifetime (default 12h) and idle timeout (default 2h)' },
            ),
          ),
          lockout: Type.Optional(
            Type.Object(
              {
                attempts: Type.Optional(Type.Integer({ minimum: 0, description: 'Wrong passwords in a row before an account locks (default 5; 0 = never)' })),
                duration: Type.Optional(Duration),
              },
              { additionalProperties: false, description: 'Per-account lockout after failed sign-ins (default 5 attempts, 15m)' },
            ),
          ),
          oidc: Type.Optional(
            Type.Object(
              {
                issuer: Type.String({ description: "The provider's issuer URL (https; discovery at /.well-known/openid-configuration)" }),
                client_id: Type.String(),
                client_secret: Type.String({ description: 'A secret reference such as ${env:FIDO_OIDC_SECRET}' }),
                label: Type.Optional(Type.String({ description: 'The sign-in button\'s text (default "Sign in with SSO")' })),
                redirect_url: Type.Optional(Type.String({ description: 'Default: server.public_url + /auth/oidc/callback' })),
                scopes: Type.Optional(Type.Array(Type.String())),
                roles_claim: Type.Optional(
                  Type.String({ description: 'The claim holding groups or roles, from the ID token or userinfo; a dotted path reaches a nested one (realm_access.roles). Default "groups"' }),
                ),
                token_auth_method: Type.Optional(
                  Type.Union([Type.Literal('client_secret_basic'), Type.Literal('client_secret_post')], { description: 'How Fido authenticates to the token endpoint (default client_secret_post)' }),
                ),
                roles: Type.Optional(
                  Type.Record(Type.String(), Type.Union([Type.Literal('viewer'), Type.Literal('analyst'), Type.Literal('responder'), Type.Literal('admin')]), {
                    description: 'Claim value → Fido role; the highest matching role wins',
                  }),
                ),
                default_role: Type.Optional(
                  Type.Union([Type.Literal('none'), Type.Literal('viewer'), Type.Literal('analyst'), Type.Literal('responder'), Type.Literal('admin')], {
                    description: 'Role of a person no claim value maps (default none: refused)',
                  }),
                ),
                ca_file: Type.Optional(Type.String({ description: "PEM file of the CA that signed the provider's certificate, if not a public one" })),
              },
              { additionalProperties: false, description: 'Single sign-on to the web app (OpenID Connect, authorization code with PKCE)' },
            ),
          ),
          tokens: Type.Optional(
            Type.Array(
              Type.Object(
                {
                  name: Type.String(),
                  role: Type.Union([Type.Literal('viewer'), Type.Literal('analyst'), Type.Literal('responder'), Type.Literal('admin')]),
                  token: Type.String({ description: 'A secret reference such as ${env:FIDO_SOC_TOKEN}' }),
                },
                { additionalProperties: false },
              ),
            ),
          ),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);

export type FidoConfig = Static<typeof ConfigSchema>;
export type SourceConfig = Static<typeof SourceSchema>;
export type JsonMapping = Static<typeof JsonMappingSchema>;
export type PolicyRuleConfig = Static<typeof PolicyRuleSchema>;
export type PolicyFallbackConfig = Static<typeof PolicyFallbackSchema>;
/** A declared component entry: common keys plus whatever its kind's schema allows. */
export type ComponentEntry = { name: string; kind: string } & Record<string, unknown>;
