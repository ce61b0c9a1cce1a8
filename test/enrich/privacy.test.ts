import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withheldReason } from '../../src/enrich/privacy.js';
import { createEnricher, isEnrichmentError } from '../../src/enrich/layer.js';
import type { LookupSubject } from '../../src/enrich/provider.js';
import { scripted } from './support.js';

const internal = ['corp.example.com', 'acme.test'];

test('withheld from external providers: private and reserved addresses, hosts, users, MACs, internal names', () => {
  const cases: Array<[LookupSubject, RegExp | null]> = [
    [{ type: 'ip', value: '10.20.5.21' }, /not public/],
    [{ type: 'ip', value: '192.168.1.1' }, /not public/],
    [{ type: 'ip', value: '100.64.0.1' }, /not public/],
    [{ type: 'ip', value: '169.254.169.254' }, /not public/],
    [{ type: 'ip', value: 'fd00::1' }, /not public/],
    [{ type: 'ip', value: '::ffff:10.0.0.1' }, /not public/],
    [{ type: 'ip', value: '8.8.8.8' }, null],
    [{ type: 'ip', value: '2001:4860:4860::8888' }, null],
    [{ type: 'host', value: 'ws-042.corp.example.com' }, /host names/],
    [{ type: 'user', value: 'alice' }, /user names/],
    [{ type: 'mac', value: '00:11:22:33:44:55' }, /MAC/],
    [{ type: 'domain', value: 'intranet.corp.example.com' }, /corp\.example\.com is an internal domain/],
    [{ type: 'domain', value: 'corp.example.com' }, /internal domain/],
    [{ type: 'domain', value: 'notcorp.example.com' }, null],
    [{ type: 'domain', value: 'fileserver' }, /single-label/],
    [{ type: 'domain', value: 'printer.local' }, /\.local names/],
    [{ type: 'domain', value: 'evil.example.net' }, null],
    [{ type: 'url', value: 'http://10.1.2.3/admin' }, /not public/],
    [{ type: 'url', value: 'https://wiki.acme.test/page' }, /acme\.test is an internal domain/],
    [{ type: 'url', value: 'http://[fe80::1]/x' }, /not public/],
    [{ type: 'url', value: 'https://evil.example.net/payload.exe' }, null],
    [{ type: 'email', value: 'ceo@corp.example.com' }, /internal domain/],
    [{ type: 'email', value: 'phish@evil.example.net' }, null],
    [{ type: 'sha256', value: 'a'.repeat(64) }, null],
  ];
  for (const [subject, want] of cases) {
    const got = withheldReason(subject, internal);
    if (want === null) assert.equal(got, null, `${subject.type}:${subject.value} may be shared`);
    else assert.match(got ?? '', want, `${subject.type}:${subject.value}`);
  }
});

test('layer: an external provider is never asked about internal subjects; share_internal and internal providers are', async () => {
  const answer = () => ({ found: true, data: {} });
  const subjects = ['ip', 'domain', 'host', 'user', 'url'] as const;
  const intel = { ...scripted('intel', answer, { subjects: [...subjects] }), external: true };
  const shared = { ...scripted('shared', answer, { subjects: [...subjects] }), external: true };
  const directory = scripted('directory', answer, { subjects: [...subjects] });
  const e = createEnricher({
    providers: [intel, shared, directory],
    settings: { shared: { share_internal: true } },
    internalDomains: internal,
  });
  const asked: LookupSubject[] = [
    { type: 'ip', value: '10.20.5.21' },
    { type: 'ip', value: '8.8.4.4' },
    { type: 'host', value: 'ws-042' },
    { type: 'user', value: 'alice' },
    { type: 'domain', value: 'intranet.corp.example.com' },
    { type: 'domain', value: 'evil.example.net' },
    { type: 'url', value: 'http://192.168.0.10/x' },
  ];
  const [results] = await e.lookupBatch([asked]);
  assert.deepEqual(
    intel.calls.map((s) => s.value),
    ['8.8.4.4', 'evil.example.net'],
  );
  assert.equal(shared.calls.length, asked.length);
  assert.equal(directory.calls.length, asked.length);
  // Withheld pairs are not in the result (nothing was asked), the others are.
  assert.equal(results!.filter((r) => r.provider === 'intel').length, 2);
  // Asked by hand, the refusal says why and how to allow it.
  const one = await e.lookup('intel', { type: 'ip', value: '10.20.5.21' });
  assert.ok(isEnrichmentError(one));
  assert.match(one.error, /not sent to an external provider: 10\.20\.5\.21 is not public .*share_internal/);
  assert.equal(intel.calls.length, 2);
  assert.equal(e.state('intel').external, true);
  assert.equal(e.state('shared').share_internal, true);
  await e.close();
});
