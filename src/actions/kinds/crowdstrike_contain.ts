/**
 * crowdstrike_contain: network-contains a host through the CrowdStrike Falcon API; undo lifts containment.
 *
 *   actions:
 *     targets:
 *       - name: falcon
 *         kind: crowdstrike_contain
 *         url: https://api.eu-1.crowdstrike.com     # default https://api.crowdstrike.com (US-1)
 *         client_id: ${env:FALCON_CLIENT_ID}
 *         client_secret: ${env:FALCON_CLIENT_SECRET}
 *         protected_hosts: [dc01, siem01]
 *
 * The API client needs the "Hosts: Read + Write" scope. Calls (Falcon API docs, "Hosts" and "OAuth2"):
 * POST /oauth2/token (form client_id, client_secret → access_token, expires_in), GET
 * /devices/queries/devices/v1?filter=hostname:'X' (FQL; local_ip:'X' for an address) → device ids,
 * GET /devices/entities/devices/v2?ids=… → hostname and `status` (normal, containment_pending, contained,
 * lift_containment_pending), POST /devices/entities/devices-actions/v2?action_name=contain|lift_containment
 * with {"ids":[id]}. Errors come as {"errors":[{"code","message"}]}, sometimes inside a 2xx.
 * Which host, idempotency, errors: lib/edr-common.ts and docs/actions/crowdstrike_contain.md.
 */
import { Type, type Static } from 'typebox';
import { ActionError, defineAction, type ActionDeps, type ActionTarget } from '../action.js';
import { SecretString } from '../../enrich/remote.js';
import { objs, obj, str, strs } from '../../enrich/json-read.js';
import { edrSettingsSchema, edrTarget, malformed, oauthApi, pickOne, urlProblems, type Containment, type EdrDevice, type HostRef } from './lib/edr-common.js';

export const DEFAULT_URL = 'https://api.crowdstrike.com';

const schema = Type.Object(
  {
    name: Type.String(),
    kind: Type.Literal('crowdstrike_contain'),
    ...edrSettingsSchema,
    client_id: SecretString,
    client_secret: SecretString,
  },
  { additionalProperties: false },
);
type Config = Static<typeof schema>;

/** A value inside an FQL single-quoted string: backslash and quote escaped, so a name cannot close the string. */
export function fqlString(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/** Falcon puts errors in the body, at times with a 2xx: a non-empty `errors` with no resources is a failure. */
function bodyErrors(body: unknown): string | null {
  const errors = objs(obj(body)?.['errors']);
  if (errors.length === 0) return null;
  return errors.map((e) => `${str(e['code']) ?? '?'} ${str(e['message']) ?? ''}`.trim()).join('; ');
}

const STATES: Record<string, Containment> = {
  contained: 'contained',
  containment_pending: 'containing',
  normal: 'released',
  lift_containment_pending: 'releasing',
};

function create(cfg: Config, deps: ActionDeps): Promise<ActionTarget> {
  const { api, close } = oauthApi(cfg, deps, { apiUrl: cfg.url ?? DEFAULT_URL, tokenPath: '/oauth2/token' });

  async function entities(ids: string[], signal: AbortSignal): Promise<{ id: string; name: string; status: string | null }[]> {
    const body = await api(signal, { path: '/devices/entities/devices/v2', query: { ids } });
    return objs(obj(body)?.['resources']).map((r) => ({ id: str(r['device_id']) ?? '', name: str(r['hostname']) ?? '', status: str(r['status']) }));
  }

  async function find(host: HostRef, signal: AbortSignal): Promise<EdrDevice> {
    const filter = `${host.ip ? 'local_ip' : 'hostname'}:${fqlString(host.value)}`;
    const body = await api(signal, { path: '/devices/queries/devices/v1', query: { filter, limit: 10 } });
    const ids = strs(obj(body)?.['resources']);
    if (ids.length === 0) throw new ActionError(`no device ${host.value} in CrowdStrike Falcon`, false);
    return pickOne(host, await entities(ids, signal));
  }

  async function state(d: EdrDevice, signal: AbortSignal): Promise<Containment> {
    const found = (await entities([d.id], signal)).find((e) => e.id === d.id);
    if (!found) throw new ActionError(`device ${d.id} (${d.name}) is no longer in CrowdStrike Falcon`, false);
    const s = STATES[found.status ?? ''];
    if (!s) throw malformed(`device status ${JSON.stringify(found.status)}`);
    return s;
  }

  async function act(actionName: 'contain' | 'lift_containment', d: EdrDevice, signal: AbortSignal): Promise<Record<string, unknown>> {
    const body = await api(signal, { method: 'POST', path: '/devices/entities/devices-actions/v2', query: { action_name: actionName }, json: { ids: [d.id] } });
    const done = objs(obj(body)?.['resources']).some((r) => str(r['id']) === d.id);
    const errors = bodyErrors(body);
    if (!done && errors) throw new ActionError(`CrowdStrike refused ${actionName} of ${d.name}: ${errors}`, false);
    return { action_name: actionName };
  }

  return Promise.resolve(
    edrTarget(cfg, 'crowdstrike_contain', {
      find,
      state,
      contain: (d, ctx) => act('contain', d, ctx.signal),
      release: (d, ctx) => act('lift_containment', d, ctx.signal),
      close,
    }),
  );
}

export default defineAction({
  kind: 'crowdstrike_contain',
  description: 'Network-contain a host through CrowdStrike Falcon (undo lifts containment)',
  schema,
  check: (cfg) => urlProblems(cfg, { url: cfg.url ?? DEFAULT_URL }),
  create,
  reversible: true,
  containment: true,
});
