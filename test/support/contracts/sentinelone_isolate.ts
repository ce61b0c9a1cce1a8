/**
 * A stand-in for the SentinelOne management API v2.1 as documented (console /api-doc, "Agents" and "Agent
 * Actions"; the same shapes in the generated S1MgmtApi client docs/AgentActionsApi.md), for
 * sentinelone_isolate's contract test and the actions crash test: `Authorization: ApiToken <token>`, GET
 * /web/api/v2.1/agents?computerName=X → {"data":[{id, computerName, networkStatus, networkInterfaces:[{inet:[…]}]}]},
 * POST /web/api/v2.1/agents/actions/disconnect|connect {"filter":{"ids":[…]}} → {"data":{"affected":n}},
 * errors {"errors":[{"code","detail","title"}]}. `effects` lists each network-status change it made
 * ("disconnect <id>", "connect <id>").
 */
import { startContract, type ContractReply, type ContractRequest } from '../contract.js';

export interface S1Options {
  token: string;
  /** [agent id, computerName, address], each connected at start. */
  agents: [string, string, string][];
  override?: (r: ContractRequest) => ContractReply | undefined;
}

export async function s1Server(opts: S1Options) {
  const { token: TOKEN, override } = opts;
  const agents = opts.agents.map(([id, computerName, ip]) => ({ id, computerName, networkStatus: 'connected', networkInterfaces: [{ inet: [ip] }] }));
  const effects: string[] = [];
  const srv = await startContract((r) => {
    const o = override?.(r);
    if (o) return o;
    if (r.headers.authorization !== `ApiToken ${TOKEN}`) return { status: 401, json: { errors: [{ code: 4010010, detail: 'Authentication Failed', title: 'Unauthorized' }] } };
    if (r.method === 'GET' && r.path === '/web/api/v2.1/agents') {
      const name = r.query.get('computerName');
      const inet = r.query.get('networkInterfaceInet__contains');
      const ids = r.query.get('ids');
      const data = agents
        .filter((a) => (name === null || a.computerName.toLowerCase() === name.toLowerCase()) && (ids === null || ids.split(',').includes(a.id)))
        .filter((a) => inet === null || a.networkInterfaces.some((i) => i.inet.some((x) => x.includes(inet))))
        .map((a) => {
          const out = { ...a };
          // A requested change takes effect after it is seen pending once.
          if (a.networkStatus === 'disconnecting') a.networkStatus = 'disconnected';
          if (a.networkStatus === 'connecting') a.networkStatus = 'connected';
          return out;
        });
      return { json: { data, pagination: { totalItems: data.length, nextCursor: null } } };
    }
    const m = /^\/web\/api\/v2\.1\/agents\/actions\/(disconnect|connect)$/.exec(r.path);
    if (r.method === 'POST' && m) {
      const ids = (r.json as { filter: { ids: string[] } }).filter.ids;
      let affected = 0;
      for (const a of agents.filter((x) => ids.includes(x.id))) {
        const disconnected = a.networkStatus === 'disconnected' || a.networkStatus === 'disconnecting';
        if (disconnected !== (m[1] === 'disconnect')) effects.push(`${m[1]} ${a.id}`);
        a.networkStatus = m[1] === 'disconnect' ? 'disconnecting' : 'connecting';
        affected++;
      }
      return { json: { data: { affected } } };
    }
    return { status: 404, json: { errors: [{ code: 4040010, detail: 'Not found' }] } };
  });
  return { ...srv, agents, effects };
}
