/**
 * A stand-in for the CrowdStrike Falcon API as documented, for crowdstrike_contain's contract test and the
 * actions crash test: OAuth2 client credentials (POST /oauth2/token → access_token, expires_in; 401
 * {"errors":[{code,message}]}), FQL device queries (GET /devices/queries/devices/v1?filter=hostname:'X'),
 * device entities with `status`, and POST /devices/entities/devices-actions/v2?action_name=contain|lift_containment
 * {"ids":[…]} → 202. Sources: CrowdStrike Falcon API docs "Hosts" / "Network containment" (falconpy's
 * Hosts.perform_action, QueryDevicesByFilter, GetDeviceDetailsV2 and OAuth2 service class document the same
 * shapes). `effects` lists each containment change it made ("contain <id>", "lift_containment <id>").
 */
import { startContract, type ContractReply, type ContractRequest } from '../contract.js';

/** The Falcon stand-in: devices with a containment status; a pending status settles on the next read. */
export interface FalconOptions {
  clientId: string;
  secret: string;
  /** [device id, hostname], each not contained at start. */
  devices: [string, string][];
  override?: (r: ContractRequest) => ContractReply | undefined;
  /** The token is refused at its n-th use (expired early). */
  revokeAfter?: number;
}

export async function falconServer(opts: FalconOptions) {
  const devices = new Map<string, { hostname: string; status: string }>(opts.devices.map(([id, hostname]) => [id, { hostname, status: 'normal' }]));
  const effects: string[] = [];
  const valid = new Set<string>();
  let issued = 0;
  let uses = 0;
  const srv = await startContract((r) => {
    const o = opts.override?.(r);
    if (o) return o;
    if (r.method === 'POST' && r.path === '/oauth2/token') {
      if (r.form.get('client_id') !== opts.clientId || r.form.get('client_secret') !== opts.secret) {
        return { status: 401, json: { errors: [{ code: 401, message: 'access denied, invalid client credentials' }] } };
      }
      const token = `tok-${++issued}`;
      valid.add(token);
      return { status: 201, json: { access_token: token, token_type: 'bearer', expires_in: 1799 } };
    }
    const token = String(r.headers.authorization ?? '').replace(/^Bearer /, '');
    if (!valid.has(token)) return { status: 401, json: { errors: [{ code: 401, message: 'access denied, authorization failed' }] } };
    if (opts.revokeAfter !== undefined && ++uses === opts.revokeAfter) {
      valid.delete(token); // expired early: this request is refused, a fresh token works
      return { status: 401, json: { errors: [{ code: 401, message: 'access denied, authorization failed' }] } };
    }
    if (r.method === 'GET' && r.path === '/devices/queries/devices/v1') {
      // A tiny FQL reader: exactly one hostname:'…' term with backslash escapes, as Fido must send it.
      const m = /^(hostname|local_ip):'((?:\\.|[^'\\])*)'$/.exec(r.query.get('filter') ?? '');
      if (!m) return { status: 400, json: { errors: [{ code: 400, message: 'invalid filter' }] } };
      const want = m[2]!.replace(/\\(.)/g, '$1').toLowerCase();
      return { json: { meta: {}, resources: [...devices].filter(([, d]) => d.hostname === want).map(([id]) => id), errors: [] } };
    }
    if (r.method === 'GET' && r.path === '/devices/entities/devices/v2') {
      const resources = r.query.getAll('ids').flatMap((id) => {
        const d = devices.get(id);
        if (!d) return [];
        const out = { device_id: id, hostname: d.hostname, status: d.status };
        if (d.status === 'containment_pending') d.status = 'contained';
        if (d.status === 'lift_containment_pending') d.status = 'normal';
        return [out];
      });
      return { json: { meta: {}, resources, errors: [] } };
    }
    if (r.method === 'POST' && r.path === '/devices/entities/devices-actions/v2') {
      const ids = (r.json as { ids: string[] }).ids;
      const name = r.query.get('action_name');
      for (const id of ids) {
        const d = devices.get(id)!;
        // A device already contained (or being contained) is not contained again: only a change is an effect.
        const contained = d.status === 'contained' || d.status === 'containment_pending';
        if (contained !== (name === 'contain')) effects.push(`${name} ${id}`);
        d.status = name === 'contain' ? 'containment_pending' : 'lift_containment_pending';
      }
      return { status: 202, json: { meta: {}, resources: ids.map((id) => ({ id, path: '' })), errors: [] } };
    }
    return { status: 404, json: { errors: [{ code: 404, message: 'not found' }] } };
  });
  return { ...srv, devices, effects, tokens: () => issued };
}
