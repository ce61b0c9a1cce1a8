/**
 * Mutual TLS for HTTP intake (issue 19 item 6): the API over HTTPS (server.tls) with a client CA, and a source
 * that takes intake only from listed client certificates (sources[].intake.client_certs). Real TLS on
 * 127.0.0.1 with a private PKI made by openssl; the real intake writer and SQLite store.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { Agent, request } from 'undici';
import { auth, testApi } from '../support/api.js';
import { makePki } from '../support/pki.js';
import { tempDir } from '../support/stores.js';
import { parseConfigText } from '../../src/config/validate.js';
import { configKinds } from '../../src/config/load.js';

const BODY = '{"event_type":"alert","src_ip":"10.0.0.5"}';

test('mutual TLS: a source with client_certs takes intake only from a verified, listed client certificate', async () => {
  const dir = tempDir('fido-mtls-');
  const otherDir = tempDir('fido-mtls-other-');
  const pki = makePki(dir, ['edr-forwarder', 'intruder']);
  const foreign = makePki(otherDir, ['edr-forwarder'], 'Another CA');
  const api = await testApi('sqlite', {
    sources: [
      { name: 'edr', detector: 'auto', intake: { client_certs: ['EDR-Forwarder'] } },
      { name: 'open', detector: 'auto' },
    ],
    allowUndeclared: false,
    tls: { cert: pki.server.cert, key: pki.server.key, clientCa: pki.ca, clientAuth: 'optional' },
  });
  const agents: Agent[] = [];
  try {
    const url = await api.app.listen({ host: '127.0.0.1', port: 0 });
    assert.match(url, /^https:\/\//, 'the API speaks HTTPS');
    const as = (client?: { cert: string; key: string }) => {
      const a = new Agent({ connect: { ca: pki.ca, servername: 'localhost', ...(client ?? {}) } });
      agents.push(a);
      return a;
    };
    const post = async (source: string, dispatcher: Agent) => {
      const res = await request(`${url}/api/v1/alerts/${source}`, { method: 'POST', dispatcher, headers: { ...auth('analyst'), 'content-type': 'application/json' }, body: BODY });
      return { status: res.statusCode, body: (await res.body.json()) as { error?: string; message?: string } };
    };
    const stored = async (source: string) => (await api.t.store.db.selectFrom('intake').select('raw').where('source', '=', source).execute()).length;

    const listed = await post('edr', as(pki.clients['edr-forwarder']));
    assert.equal(listed.status, 202, `the listed certificate (names compared case-insensitively) posts: ${JSON.stringify(listed.body)}`);
    const none = await post('edr', as());
    assert.equal(none.status, 401, 'no client certificate: refused');
    assert.match(none.body.message ?? '', /mutual TLS/);
    const other = await post('edr', as(pki.clients['intruder']));
    assert.equal(other.status, 403, 'a certificate of the right CA with another name: refused');
    assert.match(other.body.message ?? '', /client_certs/);
    const forged = await post('edr', as(foreign.clients['edr-forwarder']));
    assert.equal(forged.status, 401, 'the listed name from another CA: refused');
    assert.match(forged.body.message ?? '', /not signed by server\.tls\.client_ca/);
    assert.equal(await stored('edr'), 1, 'only the listed client stored a record');
    const open = await post('open', as());
    assert.equal(open.status, 202, 'a source without client_certs takes a token over TLS as before');
    const noToken = await request(`${url}/api/v1/alerts/edr`, { method: 'POST', dispatcher: as(pki.clients['edr-forwarder']), headers: { 'content-type': 'application/json' }, body: BODY });
    await noToken.body.dump();
    assert.equal(noToken.statusCode, 401, 'the certificate does not replace the token');
  } finally {
    for (const a of agents) await a.close();
    await api.close();
    rmSync(dir, { recursive: true, force: true });
    rmSync(otherDir, { recursive: true, force: true });
  }
});

test('mutual TLS settings are checked: client_certs needs a client CA, client_auth needs client_ca', () => {
  const parsed = parseConfigText(
    ['server:', '  tls: { cert: s.crt, key: s.key, client_auth: required }', 'sources:', '  - name: edr', '    intake: { client_certs: [edr-forwarder] }', ''].join('\n'),
    configKinds,
  );
  const keys = parsed.errors.map((e) => `${e.key}: ${e.message}`);
  assert.ok(keys.some((k) => k.startsWith('server.tls.client_auth: needs client_ca')), keys.join('\n'));
  assert.ok(keys.some((k) => k.includes('client_certs: needs mutual TLS')), keys.join('\n'));
});

test('client_auth: required refuses a connection without a valid client certificate before any request', async () => {
  const dir = tempDir('fido-mtls-req-');
  const pki = makePki(dir, ['analyst-laptop']);
  const api = await testApi('sqlite', { tls: { cert: pki.server.cert, key: pki.server.key, clientCa: pki.ca, clientAuth: 'required' } });
  const agents = [new Agent({ connect: { ca: pki.ca, servername: 'localhost' } }), new Agent({ connect: { ca: pki.ca, servername: 'localhost', ...pki.clients['analyst-laptop']! } })];
  try {
    const url = await api.app.listen({ host: '127.0.0.1', port: 0 });
    await assert.rejects(request(`${url}/healthz`, { dispatcher: agents[0] }), 'no certificate: the handshake fails');
    const ok = await request(`${url}/healthz`, { dispatcher: agents[1] });
    await ok.body.dump();
    assert.equal(ok.statusCode, 200, 'with one, the server answers');
  } finally {
    for (const a of agents) await a.close();
    await api.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
