/**
 * defender_isolate: isolates a machine through the Microsoft Defender for Endpoint API; undo releases it.
 *
 *   actions:
 *     targets:
 *       - name: mde
 *         kind: defender_isolate
 *         tenant_id: 00000000-0000-0000-0000-000000000000
 *         client_id: ${env:MDE_CLIENT_ID}
 *         client_secret: ${env:MDE_CLIENT_SECRET}
 *         isolation_type: Full                      # or Selective (Outlook, Teams, Skype keep working)
 *         protected_hosts: [dc01.corp.example]
 *
 * The app registration needs the application permission Machine.Isolate and Machine.Read.All. Calls (Microsoft
 * Learn, "Isolate machine API", "Release device from isolation API", "List machines API", "List MachineActions
 * API"): a client-credentials token from https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token with scope
 * https://api.securitycenter.microsoft.com/.default; GET /api/machines?$filter=computerDnsName eq 'x' (OData,
 * quotes doubled; a short name also matches `x.<domain>`; an address: lastIpAddress eq 'x'); POST
 * /api/machines/{id}/isolate {"Comment","IsolationType"} and /unisolate {"Comment"}. The machine entity carries
 * no isolation flag: the state is the latest Isolate/Unisolate among GET /api/machineactions?$filter=machineId
 * eq '{id}' that did not fail (status Pending/InProgress → under way, Succeeded → done). Documented limits:
 * 100 calls a minute, 1500 an hour per API; 429 with Retry-After.
 */
import { Type, type Static } from 'typebox';
import { defineAction, type ActionContext, type ActionDeps, type ActionTarget } from '../action.js';
import { SecretString } from '../../enrich/remote.js';
import { obj, objs, str } from '../../enrich/json-read.js';
import { edrSettingsSchema, edrTarget, malformed, oauthApi, pickOne, urlProblems, type Containment, type EdrDevice, type HostRef } from './lib/edr-common.js';

export const DEFAULT_URL = 'https://api.securitycenter.microsoft.com';
export const DEFAULT_SCOPE = 'https://api.securitycenter.microsoft.com/.default';
const tokenUrlOf = (tenant: string) => `https://login.microsoftonline.com/${encodeURIComponent(tenant)}/oauth2/v2.0/token`;

const schema = Type.Object(
  {
    name: Type.String(),
    kind: Type.Literal('defender_isolate'),
    ...edrSettingsSchema,
    tenant_id: Type.String({ minLength: 1, description: 'Entra ID tenant (directory) id' }),
    client_id: SecretString,
    client_secret: SecretString,
    token_url: Type.Optional(Type.String({ description: 'OAuth2 token endpoint (default https://login.microsoftonline.com/<tenant_id>/oauth2/v2.0/token)' })),
    scope: Type.Optional(Type.String({ description: `OAuth2 scope (default ${DEFAULT_SCOPE})` })),
    isolation_type: Type.Optional(Type.Union([Type.Literal('Full'), Type.Literal('Selective')], { description: 'Default Full' })),
  },
  { additionalProperties: false },
);
type Config = Static<typeof schema>;

/** A value inside an OData single-quoted string literal: quotes doubled (OData ABNF, SQUOTE-in-string). */
export function odataString(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

/** The $filter that finds a machine by name (a short name also matches its FQDN) or by address. */
export function machineFilter(host: HostRef): string {
  if (host.ip) return `lastIpAddress eq ${odataString(host.value)}`;
  const exact = `computerDnsName eq ${odataString(host.value.toLowerCase())}`;
  return host.value.includes('.') ? exact : `${exact} or startswith(computerDnsName,${odataString(`${host.value.toLowerCase()}.`)})`;
}

const LIVE = new Set(['Pending', 'InProgress', 'Succeeded']);

/** The containment the latest live Isolate/Unisolate says; never isolated counts as released. */
export function stateOfActions(actions: unknown): Containment {
  const relevant = objs(actions)
    .filter((a) => (a['type'] === 'Isolate' || a['type'] === 'Unisolate') && LIVE.has(str(a['status']) ?? ''))
    .sort((a, b) => String(b['creationDateTimeUtc'] ?? '').localeCompare(String(a['creationDateTimeUtc'] ?? '')));
  const last = relevant[0];
  if (!last) return 'released';
  const done = last['status'] === 'Succeeded';
  if (last['type'] === 'Isolate') return done ? 'contained' : 'containing';
  return done ? 'released' : 'releasing';
}

function create(cfg: Config, deps: ActionDeps): Promise<ActionTarget> {
  const { api, close } = oauthApi(cfg, deps, {
    apiUrl: cfg.url ?? DEFAULT_URL,
    tokenUrl: cfg.token_url ?? tokenUrlOf(cfg.tenant_id),
    tokenPath: '',
    form: { grant_type: 'client_credentials', scope: cfg.scope ?? DEFAULT_SCOPE },
  });
  const valueOf = (body: unknown): unknown[] => {
    const v = obj(body)?.['value'];
    if (!Array.isArray(v)) throw malformed('answer without a value list');
    return v;
  };

  async function find(host: HostRef, signal: AbortSignal): Promise<EdrDevice> {
    const body = await api(signal, { path: '/api/machines', query: { $filter: machineFilter(host) } });
    return pickOne(host, objs(valueOf(body)).map((m) => ({ id: str(m['id']) ?? '', name: str(m['computerDnsName']) ?? '' })));
  }

  async function state(d: EdrDevice, signal: AbortSignal): Promise<Containment> {
    const body = await api(signal, { path: '/api/machineactions', query: { $filter: `machineId eq ${odataString(d.id)}` } });
    return stateOfActions(valueOf(body));
  }

  async function act(what: 'isolate' | 'unisolate', d: EdrDevice, ctx: ActionContext): Promise<Record<string, unknown>> {
    // The comment shows in the Defender portal's action center: who asked, for which incident.
    const Comment = `Fido incident ${ctx.incident.id} (${ctx.idempotencyKey})`;
    const json = what === 'isolate' ? { Comment, IsolationType: cfg.isolation_type ?? 'Full' } : { Comment };
    const body = await api(ctx.signal, { method: 'POST', path: `/api/machines/${encodeURIComponent(d.id)}/${what}`, json });
    return { machine_action_id: str(obj(body)?.['id']) };
  }

  return Promise.resolve(
    edrTarget(cfg, 'defender_isolate', {
      find,
      state,
      contain: (d, ctx) => act('isolate', d, ctx),
      release: (d, ctx) => act('unisolate', d, ctx),
      close,
    }),
  );
}

export default defineAction({
  kind: 'defender_isolate',
  description: 'Isolate a machine through Microsoft Defender for Endpoint (undo releases it)',
  schema,
  check: (cfg) => urlProblems(cfg, { url: cfg.url ?? DEFAULT_URL, token_url: cfg.token_url }),
  create,
  reversible: true,
  containment: true,
});
