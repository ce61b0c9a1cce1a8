/**
 * JAMF Pro computers as an asset inventory: host name, IP or MAC → the computer's owner, OS, serial number,
 * model, site and last contact, in the CSV inventory's answer shape (providers/inventory.ts). Asks the Jamf Pro
 * API (https://developer.jamf.com/jamf-pro/reference) with an API client's OAuth client credentials: a token
 * from POST /api/oauth/token, kept until shortly before it expires and fetched again once when the service
 * answers 401; computers from GET /api/v1/computers-inventory with an RSQL `filter` on the documented filter
 * fields general.name, general.lastReportedIp, general.lastIpAddress and hardware.macAddress.
 * The API client needs the "Read Computers" privilege only.
 *
 *   - name: jamf
 *     kind: jamf
 *     url: https://example.jamfcloud.com
 *     client_id: ${env:JAMF_CLIENT_ID}
 *     client_secret: ${env:JAMF_CLIENT_SECRET}
 */
import { Type } from 'typebox';
import { defineProvider, type EnrichmentProvider, type LookupSubject, type ProviderAnswer } from '../provider.js';
import { providerSettingsSchema } from '../settings.js';
import { RemoteError, SecretString, entryKey, malformedAnswer, openRemote, remoteSettingsSchema, remoteUrlProblems, secretSetting, vendorError } from '../remote.js';
import { hostKeys, normalizeMac } from '../values.js';
import { isoTime } from '../intel.js';
import { num, obj, scalarText, str } from '../json-read.js';
import { assetAnswer, remoteAsset, untilAborted, type RemoteAsset } from './lib/http-inventory.js';

const Schema = Type.Object(
  {
    name: Type.String(),
    kind: Type.Literal('jamf'),
    ...providerSettingsSchema,
    ...remoteSettingsSchema,
    // Every Jamf Pro server has its own address: there is no public default.
    url: Type.String({ description: 'Jamf Pro server, e.g. https://example.jamfcloud.com (the API is under /api)' }),
    client_id: SecretString,
    client_secret: SecretString,
  },
  { additionalProperties: false },
);

/** One page is plenty for one subject; more matches than this are counted, not listed (see docs). */
const PAGE_SIZE = 100;
const INVENTORY_PATH = '/api/v1/computers-inventory';
/** The inventory sections read, as the repeated `section` parameter. */
const SECTIONS = ['GENERAL', 'HARDWARE', 'USER_AND_LOCATION', 'OPERATING_SYSTEM'];
/** A token is renewed this long before Jamf says it expires (clock skew, a request in flight). */
const TOKEN_MARGIN_MS = 30_000;

/**
 * An RSQL argument: always double-quoted, with `\` and `"` escaped, so no value can close the quote and add a
 * `,` (or) or `;` (and) clause of its own.
 */
export function rsqlQuote(value: string): string {
  return `"${value.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

/** The RSQL filter (clauses joined by `,`, RSQL's "or") for a subject; null for a subject Jamf cannot hold. */
export function jamfFilter(subject: LookupSubject): string | null {
  // Quoting cannot tame a `*`: Jamf may read it as a wildcard inside a quoted argument, and no host, IP or
  // MAC has one, so such a subject is not asked about at all.
  if (subject.value.includes('*')) return null;
  const eq = (field: string, v: string) => `${field}==${rsqlQuote(v)}`;
  switch (subject.type) {
    case 'host': {
      const k = hostKeys(subject.value);
      // Mac computer names are usually short ("ws-042"): an FQDN also asks for its short name, and
      // matchAsset then applies the inventory's rules to what comes back. Jamf's == is exact, so a short
      // name does not find a computer named by its FQDN (there is no documented suffix match).
      return [...new Set([k.full, k.short])].map((v) => eq('general.name', v)).join(',');
    }
    case 'ip':
      // lastReportedIp: the address the computer reports (usually internal); lastIpAddress: the one Jamf saw
      // it connect from (often a NAT address).
      return [eq('general.lastReportedIp', subject.value), eq('general.lastIpAddress', subject.value)].join(',');
    case 'mac': {
      const mac = normalizeMac(subject.value);
      if (!mac) return null;
      // Jamf keeps what the computer reported (upper case as a rule, lower case seen too).
      return [...new Set([mac.toUpperCase(), mac])].map((v) => eq('hardware.macAddress', v)).join(',');
    }
    default:
      return null;
  }
}

/** One computers-inventory result → the inventory asset (null without a name: nothing to call it). */
export function jamfAsset(record: unknown): RemoteAsset | null {
  const r = obj(record) ?? {};
  const general = obj(r.general) ?? {};
  const hardware = obj(r.hardware) ?? {};
  const user = obj(r.userAndLocation) ?? {};
  const os = obj(r.operatingSystem) ?? {};
  const host = scalarText(general.name);
  if (!host) return null;
  const osText = [scalarText(os.name), scalarText(os.version)].filter(Boolean).join(' ') || null;
  const lastContact = isoTime(scalarText(general.lastContactTime));
  return remoteAsset({
    host,
    ips: [general.lastReportedIp, general.lastIpAddress],
    macs: [hardware.macAddress, hardware.altMacAddress],
    owner: scalarText(user.username) ?? scalarText(user.email),
    os: osText,
    attributes: {
      serialNumber: hardware.serialNumber,
      model: hardware.model,
      managed: obj(general.remoteManagement)?.managed,
      lastContactTime: lastContact,
      site: obj(general.site)?.name,
      email: user.email,
      jamfId: r.id,
    },
    last_seen: lastContact,
    source: `jamf:computer/${scalarText(r.id) ?? '?'}`,
  });
}

const jamf = defineProvider({
  kind: 'jamf',
  description: 'JAMF Pro computers: host, IP or MAC → owner, OS, serial, model, site, last contact (OAuth client credentials)',
  schema: Schema,
  check: remoteUrlProblems,
  async create(cfg, deps): Promise<EnrichmentProvider> {
    const key = entryKey(cfg);
    const clientId = secretSetting(cfg.client_id, `${key}.client_id`);
    const clientSecret = secretSetting(cfg.client_secret, `${key}.client_secret`);
    // Both go in the token request's body: cut them out of any message.
    const r = openRemote(cfg, deps, { secrets: [clientId, clientSecret] });
    const tokenAt = r.where('POST', '/api/oauth/token');
    let token: { value: string; expiresAt: number } | null = null;
    let pending: Promise<string> | null = null;

    async function fetchToken(): Promise<string> {
      // Not tied to one lookup's signal: concurrent lookups share it, and the client's timeout bounds it.
      const res = await r.client.send({
        method: 'POST',
        path: '/api/oauth/token',
        form: { client_id: clientId, client_secret: clientSecret, grant_type: 'client_credentials' },
        signal: new AbortController().signal,
      });
      // Jamf answers a wrong id or secret with 401 (or 400 invalid_client, as OAuth servers may).
      if (res.status === 400 && obj(res.body)?.error === 'invalid_client') {
        throw new RemoteError(`${tokenAt} answered 400 invalid_client (the client id or secret was refused)`, 'auth', 400);
      }
      if (res.status < 200 || res.status >= 300) throw vendorError(res, tokenAt, r.scrub);
      const b = obj(res.body);
      const value = str(b?.access_token);
      if (!value) throw malformedAnswer(tokenAt, 'has no access_token', res.status);
      const expiresIn = num(b?.expires_in);
      const ttlMs = expiresIn !== null && expiresIn > 0 ? expiresIn * 1000 : 60_000;
      token = { value, expiresAt: deps.now() + ttlMs - Math.min(TOKEN_MARGIN_MS, ttlMs / 2) };
      return value;
    }

    /** The current token, fetched when there is none or it is about to expire; one fetch at a time. */
    function accessToken(signal: AbortSignal): Promise<string> {
      if (token && token.expiresAt > deps.now()) return Promise.resolve(token.value);
      pending ??= fetchToken().finally(() => {
        pending = null;
      });
      return untilAborted(pending, signal, tokenAt);
    }

    async function computers(filter: string, signal: AbortSignal): Promise<{ results: unknown[]; totalCount: number }> {
      let used = '';
      const ask = async () => {
        used = await accessToken(signal);
        return r.client.send({
          path: INVENTORY_PATH,
          query: { section: SECTIONS, page: 0, 'page-size': PAGE_SIZE, filter },
          headers: { authorization: `Bearer ${used}` },
          signal,
        });
      };
      let res = await ask();
      if (res.status === 401) {
        // The token expired early or was revoked: one new token (unless a concurrent lookup got one already),
        // one more try.
        if (token?.value === used) token = null;
        res = await ask();
      }
      const where = r.where('GET', INVENTORY_PATH);
      if (res.status < 200 || res.status >= 300) throw vendorError(res, where, r.scrub);
      const b = obj(res.body);
      if (!b || !Array.isArray(b.results)) throw malformedAnswer(where, 'has no results list', res.status);
      return { results: b.results as unknown[], totalCount: num(b.totalCount) ?? b.results.length };
    }

    return {
      name: cfg.name,
      kind: 'jamf',
      subjects: ['host', 'ip', 'mac'],
      local: false,
      async lookup(subject, signal): Promise<ProviderAnswer> {
        const filter = jamfFilter(subject);
        if (!filter) return { found: false, data: {} };
        const page = await computers(filter, signal);
        const assets = page.results.map(jamfAsset).filter((a): a is RemoteAsset => a !== null);
        // More matches than one page (a NAT address): say how many, the answer names the first page's.
        const extra = page.totalCount > page.results.length ? { total: page.totalCount } : {};
        return assetAnswer(subject, assets, extra);
      },
      close: () => r.client.close(),
    };
  },
});

export default jamf;
