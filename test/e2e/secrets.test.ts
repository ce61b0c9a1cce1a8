/**
 * Secrets never leak (issue 16, item 9): a real `fido start` configured with every kind of credential Fido's
 * providers take (API keys, a directory bind password, a database password, OAuth client secrets, a feed
 * token), each a secret reference, against local services that refuse them, throttle, fail and echo them back
 * in their error bodies (the worst a service can do). Then the whole run is searched for the secret values:
 * the server's output at debug level, the API's answers (incidents, lookups, provider state), `fido lookup`'s
 * output, and every byte of the store. The services' own request logs show the secrets were sent (so they had
 * every chance to leak).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FIDO_BIN, startFidoProcess, waitFor } from '../support/fido-process.js';
import { startContract } from '../support/contract.js';
import { freePort } from '../support/servers.js';
import { tempDir } from '../support/stores.js';

const SECRETS = {
  VT: 'vt-key-7f3a9c1e55d04b2e8a6f',
  OTX: 'otx-key-2b8e4d6f0a1c3e5g7i9k',
  ABUSEIPDB: 'aipdb-key-93kd02mfq83nvz71',
  GREYNOISE: 'gn-key-4hd82kf0s9dm2nq6',
  MISP: 'misp-key-k2j4h6g8f0d1s3a5',
  URLHAUS: 'abusech-key-p0o9i8u7y6t5r4e3',
  THREATGRID: 'tg-key-m1n2b3v4c5x6z7l8',
  LDAP: 'ldap-bind-pw-Qw8#rT5!yU2',
  PG: 'pg-pw-Zx9Cv8Bn7Mm6',
  JAMF: 'jamf-secret-Lk4Jh3Gf2Ds1',
  TAXII: 'taxii-pw-Po9Iu8Yt7Re6',
  HTTPINV: 'snipe-token-Aa1Ss2Dd3Ff4',
};
const TOKEN = 'e2e-secrets-admin-token-0123456789';
const SHA = '9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08';

test('no secret appears in logs, errors, answers or the store, whatever the services say', { timeout: 180_000 }, async () => {
  // Every request is answered with a failure that quotes back every header it carried.
  let n = 0;
  const service = await startContract((req) => {
    const echo = `denied: ${JSON.stringify(req.headers)} ${req.body}`;
    const kinds = [
      { status: 401, json: { error: { code: 'WrongCredentialsError', message: echo } } },
      { status: 429, headers: { 'retry-after': '1' }, json: { message: echo } },
      { status: 500, body: echo },
      { status: 200, body: `not json ${echo}` },
      { status: 403, json: { name: 'Authentication failed', message: echo } },
    ];
    return kinds[n++ % kinds.length]!;
  });
  const dir = tempDir('fido-secrets-');
  const ldapPort = await freePort(); // nothing listens: the bind fails to connect
  const base = service.url;
  const remote = (name: string, kind: string, path: string, key: string) =>
    `    - { name: ${name}, kind: ${kind}, url: "${base}${path}", allow_private: true, api_key: "\${env:T_${key}}", ttl: 1s, negative_ttl: 1s }`;
  writeFileSync(
    join(dir, 'fido.yaml'),
    [
      'sources:',
      '  - { name: edge, detector: cef }',
      'enrichment:',
      '  providers:',
      remote('vt', 'virustotal', '/vt', 'VT'),
      remote('otx', 'otx', '/otx', 'OTX'),
      remote('aipdb', 'abuseipdb', '/aipdb', 'ABUSEIPDB'),
      remote('gn', 'greynoise', '/gn', 'GREYNOISE'),
      remote('misp', 'misp', '/misp', 'MISP'),
      remote('urlhaus', 'urlhaus', '/urlhaus', 'URLHAUS'),
      remote('tg', 'threatgrid', '/tg', 'THREATGRID'),
      `    - { name: dir, kind: ldap, url: "ldap://127.0.0.1:${ldapPort}", bind_dn: "cn=svc,dc=example,dc=test", bind_password: "\${env:T_LDAP}", base_dn: "dc=example,dc=test" }`,
      `    - { name: cmdb, kind: sql_inventory, driver: postgres, connection: "postgres://fido_no_such_role:\${env:T_PG}@127.0.0.1:5432/test", query: "select host from assets where host = :value" }`,
      `    - { name: jamf, kind: jamf, url: "${base}/jamf", allow_private: true, client_id: jamf-client, client_secret: "\${env:T_JAMF}" }`,
      `    - { name: snipe, kind: http_inventory, url: "${base}/snipe", allow_private: true, bearer_token: "\${env:T_HTTPINV}", lookup: { ip: { search: "{value}" } }, fields: { records: rows, host: name } }`,
      `    - { name: isac, kind: feed, format: taxii, url: "${base}/taxii2/", allow_private: true, username: fido, password: "\${env:T_TAXII}", collection: x, interval: 1h }`,
      'policy:',
      '  rules:',
      '    - { name: all, when: "true", outcome: log }',
    ].join('\n'),
  );
  const env: Record<string, string> = {
    FIDO_CONFIG: join(dir, 'fido.yaml'),
    FIDO_DATA_DIR: join(dir, 'data'),
    FIDO_BOOTSTRAP_TOKEN: TOKEN,
    FIDO_LOG_LEVEL: 'debug',
    ...Object.fromEntries(Object.entries(SECRETS).map(([k, v]) => [`T_${k}`, v])),
  };
  const seen: string[] = [];
  const proc = await startFidoProcess(env);
  try {
    const api = async (path: string, init: RequestInit = {}) => {
      const res = await fetch(`${proc.url}/api/v1${path}`, { ...init, headers: { authorization: `Bearer ${TOKEN}`, ...(init.headers ?? {}) } });
      const text = await res.text();
      seen.push(text);
      return { status: res.status, text };
    };
    const lines = [
      `CEF:0|Acme|AV|1|1|Malware|8|src=10.1.2.3 dst=8.8.8.8 fileHash=${SHA} request=http://evil.example.net/x`,
      `CEF:0|Acme|AV|1|2|Scan|5|src=1.1.1.1 dst=10.1.2.3 shost=ws-042`,
    ];
    const posted = await api('/alerts/edge', { method: 'POST', headers: { 'content-type': 'text/plain' }, body: lines.join('\n') });
    assert.equal(posted.status, 202, posted.text);
    const incidents = await waitFor(
      'both incidents decided',
      async () => {
        const r = await api('/incidents?limit=10');
        const items = (JSON.parse(r.text) as { items: Array<{ id: string; decision: unknown }> }).items;
        return items.length === 2 && items.every((i) => i.decision) ? items : undefined;
      },
      120_000,
    );
    for (const i of incidents) {
      const detail = await api(`/incidents/${i.id}`);
      assert.equal(detail.status, 200);
      assert.match(detail.text, /"error":/, 'the failures are there to be read');
    }
    for (let round = 0; round < 2; round++) await api(`/lookup?q=ip:8.8.8.8&q=sha256:${SHA}&q=user:alice&q=host:ws-042&q=url:http://evil.example.net/x`);
    await api('/enrichment/providers');
    const cli = spawnSync(process.execPath, [FIDO_BIN, 'lookup', 'ip:8.8.4.4', `sha256:${SHA}`, 'user:bob', 'host:ws-042'], {
      env: { ...process.env, ...env },
      encoding: 'utf8',
      timeout: 60_000,
    });
    seen.push(cli.stdout, cli.stderr);
    assert.match(cli.stdout, /"provider": "vt"/);
  } finally {
    await proc.kill('SIGTERM');
    await service.close();
  }
  seen.push(proc.output());
  const store = join(dir, 'data');
  for (const f of readdirSync(store)) seen.push(readFileSync(join(store, f)).toString('latin1'));
  const everything = seen.join('\n');
  assert.ok(everything.length > 10_000, `a whole run's worth of output (${everything.length} chars)`);
  for (const [name, secret] of Object.entries(SECRETS)) {
    assert.equal(everything.includes(secret), false, `the ${name} secret appears in the run's output`);
  }
  // Proof the secrets were sent, each where its service expects it (so each had its chance to leak).
  const sent = service.requests.map((r) => JSON.stringify(r.headers) + r.body).join('\n');
  for (const name of ['VT', 'OTX', 'ABUSEIPDB', 'GREYNOISE', 'MISP', 'URLHAUS', 'THREATGRID', 'JAMF', 'HTTPINV', 'TAXII'] as const) {
    const secret = SECRETS[name];
    const inBasicAuth = Buffer.from(`fido:${secret}`).toString('base64');
    assert.ok(sent.includes(secret) || sent.includes(inBasicAuth), `${name} was sent to its service`);
  }
});
