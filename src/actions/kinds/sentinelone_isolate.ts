/**
 * sentinelone_isolate: disconnects a host from the network through the SentinelOne management API; undo
 * reconnects it.
 *
 *   actions:
 *     targets:
 *       - name: s1
 *         kind: sentinelone_isolate
 *         url: https://example.sentinelone.net       # your console (required: there is no shared endpoint)
 *         api_token: ${env:S1_API_TOKEN}
 *         protected_hosts: [dc01]
 *
 * Calls (SentinelOne API v2.1): header `Authorization: ApiToken <token>`; GET /web/api/v2.1/agents?computerName=X
 * (an address: networkInterfaceInet__contains=X, then the exact address among the agent's interfaces) →
 * {"data":[{id, computerName, networkStatus}]}; POST /web/api/v2.1/agents/actions/disconnect (or /connect) with
 * {"filter":{"ids":[id]}} → {"data":{"affected":n}}. `networkStatus` is connected, disconnecting, disconnected
 * or connecting. Errors: {"errors":[{"code","detail"}]}.
 */
import { Type, type Static } from 'typebox';
import { defineAction, type ActionDeps, type ActionTarget } from '../action.js';
import { SecretString, type RemoteClient } from '../../enrich/remote.js';
import { num, obj, objs, str, strs } from '../../enrich/json-read.js';
import { secretValue } from '../target-config.js';
import { edrClient, edrSettingsSchema, edrTarget, malformed, pickOne, targetKey, urlProblems, type Containment, type EdrDevice, type HostRef } from './lib/edr-common.js';

const API = '/web/api/v2.1';

const schema = Type.Object(
  {
    name: Type.String(),
    kind: Type.Literal('sentinelone_isolate'),
    ...edrSettingsSchema,
    url: Type.String({ description: 'Base URL of your SentinelOne console, e.g. https://example.sentinelone.net' }),
    api_token: SecretString,
  },
  { additionalProperties: false },
);
type Config = Static<typeof schema>;

const STATES: Record<string, Containment> = {
  connected: 'released',
  disconnecting: 'containing',
  disconnected: 'contained',
  connecting: 'releasing',
};

interface Agent extends EdrDevice {
  networkStatus: string | null;
  addresses: string[];
}

function agentsOf(body: unknown): Agent[] {
  const data = obj(body)?.['data'];
  if (!Array.isArray(data)) throw malformed('agents answer without a data list');
  return objs(data).map((a) => ({
    id: str(a['id']) ?? '',
    name: str(a['computerName']) ?? '',
    networkStatus: str(a['networkStatus']),
    addresses: objs(a['networkInterfaces']).flatMap((i) => strs(i['inet'])),
  }));
}

function create(cfg: Config, deps: ActionDeps): Promise<ActionTarget> {
  const token = secretValue(cfg.api_token, `${targetKey(cfg)}.api_token`);
  const client: RemoteClient = edrClient(cfg, deps, cfg.url, [token], { authorization: `ApiToken ${token}` });

  async function agents(query: Record<string, string>, signal: AbortSignal): Promise<Agent[]> {
    return agentsOf(await client.json({ path: `${API}/agents`, query, signal }));
  }

  async function find(host: HostRef, signal: AbortSignal): Promise<EdrDevice> {
    if (!host.ip) return pickOne(host, await agents({ computerName: host.value }, signal));
    // `__contains` is a substring match: keep the agents that carry exactly this address.
    const found = (await agents({ networkInterfaceInet__contains: host.value }, signal)).filter((a) => a.addresses.includes(host.value));
    return pickOne(host, found);
  }

  async function state(d: EdrDevice, signal: AbortSignal): Promise<Containment> {
    const agent = (await agents({ ids: d.id }, signal)).find((a) => a.id === d.id);
    if (!agent) throw malformed(`agent ${d.id} (${d.name}) not in the answer`);
    const s = STATES[agent.networkStatus ?? ''];
    if (!s) throw malformed(`agent networkStatus ${JSON.stringify(agent.networkStatus)}`);
    return s;
  }

  async function act(what: 'disconnect' | 'connect', d: EdrDevice, signal: AbortSignal): Promise<Record<string, unknown>> {
    const body = await client.json({ method: 'POST', path: `${API}/agents/actions/${what}`, json: { filter: { ids: [d.id] } }, signal });
    const data = obj(obj(body)?.['data']);
    const affected = num(data?.['affected']);
    if (affected === null) throw malformed(`${what} answer without data.affected`);
    return { affected };
  }

  return Promise.resolve(
    edrTarget(cfg, 'sentinelone_isolate', {
      find,
      state,
      contain: (d, ctx) => act('disconnect', d, ctx.signal),
      release: (d, ctx) => act('connect', d, ctx.signal),
      close: () => client.close(),
    }),
  );
}

export default defineAction({
  kind: 'sentinelone_isolate',
  description: 'Disconnect a host from the network through SentinelOne (undo reconnects it)',
  schema,
  check: (cfg) => urlProblems(cfg, { url: cfg.url }),
  create,
  reversible: true,
  containment: true,
});
