/**
 * A stand-in for the Microsoft Defender for Endpoint API as documented on Microsoft Learn, for
 * defender_isolate's contract test and the actions crash test: "List machines API" (GET /api/machines, OData
 * $filter on computerDnsName / lastIpAddress), "Isolate machine API" (POST /api/machines/{id}/isolate
 * {"Comment","IsolationType"} → 201 MachineAction), "Release device from isolation API" (POST …/unisolate
 * {"Comment"}), "List MachineActions API" (https://learn.microsoft.com/en-us/defender-endpoint/api/get-machineactions-collection:
 * $filter on machineId), and the Entra ID client-credentials token endpoint (POST /{tenant}/oauth2/v2.0/token,
 * scope https://api.securitycenter.microsoft.com/.default). Errors: {"error":{"code","message"}}; token errors
 * {"error","error_description"}. `effects` lists each isolation change it made ("isolate <id>", "unisolate <id>").
 */
import { startContract, type ContractReply, type ContractRequest } from '../contract.js';

// OData string literals: '…' with '' for a quote inside.
const BY_NAME = /^computerDnsName eq '((?:[^']|'')*)'(?: or startswith\(computerDnsName,'((?:[^']|'')*)'\))?$/;
const BY_IP = /^lastIpAddress eq '((?:[^']|'')*)'$/;
const BY_MACHINE = /^machineId eq '((?:[^']|'')*)'$/;
const unquote = (s: string) => s.replace(/''/g, "'");

export interface MdeOptions {
  tenant: string;
  clientId: string;
  secret: string;
  /** [machine id, computerDnsName, lastIpAddress]. */
  machines: [string, string, string][];
  override?: (r: ContractRequest) => ContractReply | undefined;
  /** The token is refused at its n-th use (expired early). */
  revokeAfter?: number;
}

export async function mdeServer(opts: MdeOptions) {
  const machines = opts.machines.map(([id, computerDnsName, lastIpAddress]) => ({ id, computerDnsName, lastIpAddress }));
  const effects: string[] = [];
  const actions: { id: string; machineId: string; type: string; status: string; creationDateTimeUtc: string }[] = [];
  const valid = new Set<string>();
  let issued = 0;
  let uses = 0;
  const srv = await startContract((r) => {
    const o = opts.override?.(r);
    if (o) return o;
    if (r.method === 'POST' && r.path === `/${opts.tenant}/oauth2/v2.0/token`) {
      const f = r.form;
      if (f.get('grant_type') !== 'client_credentials' || f.get('scope') !== 'https://api.securitycenter.microsoft.com/.default') return { status: 400, json: { error: 'invalid_request' } };
      if (f.get('client_id') !== opts.clientId || f.get('client_secret') !== opts.secret) return { status: 401, json: { error: 'invalid_client', error_description: 'AADSTS7000215: Invalid client secret provided.' } };
      const token = `mde-tok-${++issued}`;
      valid.add(token);
      return { json: { token_type: 'Bearer', expires_in: 3599, access_token: token } };
    }
    const token = String(r.headers.authorization ?? '').replace(/^Bearer /, '');
    const unauth = { status: 401, json: { error: { code: 'Unauthorized', message: 'Token is expired' } } };
    if (!valid.has(token)) return unauth;
    if (opts.revokeAfter !== undefined && ++uses === opts.revokeAfter) {
      valid.delete(token);
      return unauth;
    }
    const filter = r.query.get('$filter') ?? '';
    if (r.method === 'GET' && r.path === '/api/machines') {
      // A strict reader of the two filters Fido may send; anything else is a 400, as OData would answer a broken one.
      const byName = BY_NAME.exec(filter);
      const byIp = BY_IP.exec(filter);
      if (!byName && !byIp) return { status: 400, json: { error: { code: 'InvalidRequestBody', message: 'Invalid filter' } } };
      const value = machines.filter((m) =>
        byIp ? m.lastIpAddress === unquote(byIp[1]!) : m.computerDnsName === unquote(byName![1]!) || (byName![2] !== undefined && m.computerDnsName.startsWith(unquote(byName![2]!))),
      );
      return { json: { '@odata.context': 'x', value } };
    }
    if (r.method === 'GET' && r.path === '/api/machineactions') {
      const m = BY_MACHINE.exec(filter);
      if (!m) return { status: 400, json: { error: { code: 'InvalidRequestBody', message: 'Invalid filter' } } };
      const value = actions.filter((a) => a.machineId === unquote(m[1]!)).map((a) => ({ ...a }));
      for (const a of actions) if (a.status === 'Pending') a.status = 'Succeeded';
      return { json: { value } };
    }
    const act = /^\/api\/machines\/([^/]+)\/(isolate|unisolate)$/.exec(r.path);
    if (r.method === 'POST' && act) {
      const a = { id: `ma-${actions.length + 1}`, machineId: decodeURIComponent(act[1]!), type: act[2] === 'isolate' ? 'Isolate' : 'Unisolate', status: 'Pending', creationDateTimeUtc: `2026-12-07T10:00:0${actions.length}Z` };
      // Isolated is what its newest Isolate/Unisolate says: only a change is an effect (a repeat is a raw call).
      const last = actions.filter((x) => x.machineId === a.machineId).at(-1);
      if ((last?.type === 'Isolate') !== (a.type === 'Isolate')) effects.push(`${act[2]} ${a.machineId}`);
      actions.push(a);
      return { status: 201, json: a };
    }
    return { status: 404, json: { error: { code: 'ResourceNotFound', message: 'not found' } } };
  });
  return { ...srv, machines, actions, effects, tokens: () => issued };
}
