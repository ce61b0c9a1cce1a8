/** The demo data files: valid, and holding the facts the demo alerts rely on. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseConfigText } from '../../src/config/validate.js';
import type { ComponentEntry } from '../../src/config/schema.js';
import { createProviders, providerKinds } from '../../src/enrich/registry.js';
import { createEnricher, isEnrichmentError } from '../../src/enrich/layer.js';
import { lookupAll } from '../../src/pipeline/stages/enrich.js';
import type { LookupSubject } from '../../src/enrich/provider.js';
import { openTestStore } from '../support/stores.js';

const DEMO = resolve('demo');

test('every provider schema accepts the common settings and rejects unknown keys', () => {
  const text = [
    'enrichment:',
    '  providers:',
    '    - { name: s, kind: netsegments, ttl: 5m, negative_ttl: 30s, timeout: 2s, concurrency: 4, rate_per_second: 10, rate_burst: 20, max_wait: 1s, queue_wait: 5s, breaker_failures: 3, breaker_cooldown: 1m, segments: [] }',
    '    - { name: i, kind: inventory, file: x.csv, ttl: 10m }',
    '    - { name: a, kind: allowlist, entries: [{ domain: corp.example, reason: own }] }',
    '    - { name: h, kind: history, window: 7d, max_incidents: 20 }',
    '    - { name: n, kind: indicators, file: [a.csv, b.txt], verdict: suspicious }',
    '    - { name: bad, kind: inventory, file: x.csv, tll: 5m }',
  ].join('\n');
  const r = parseConfigText(text, { receivers: [], providers: providerKinds, actions: [] });
  assert.deepEqual(r.errors.map((e) => `${e.key}@${e.line}: ${e.message}`), ['enrichment.providers[5].tll@8: unknown key; did you mean "ttl"?']);
});

test("the demo configuration's enrichment section validates", () => {
  const r = parseConfigText(readFileSync(resolve(DEMO, 'fido.yaml'), 'utf8'), { receivers: [], providers: providerKinds, actions: [] });
  assert.deepEqual(r.errors.filter((e) => e.key.startsWith('enrichment')), []);
});

test('demo data: the hosts, segments, indicators and allowlist entries the demo alerts use', async () => {
  const t = await openTestStore('sqlite');
  try {
    const entries: ComponentEntry[] = [
      { name: 'netsegments', kind: 'netsegments', file: 'netsegments.yaml' },
      { name: 'inventory', kind: 'inventory', file: 'inventory.csv' },
      { name: 'allowlist', kind: 'allowlist', file: 'allowlist.yaml' },
      { name: 'indicators', kind: 'indicators', file: 'indicators.csv' },
    ];
    const providers = await createProviders(entries, { store: t.store, configDir: DEMO });
    const e = createEnricher({ providers });
    const ask = async (s: LookupSubject, provider: string) => {
      const r = (await lookupAll(e, [s])).find((x) => x.provider === provider)!;
      assert.ok(r && !isEnrichmentError(r), `${provider} failed for ${s.type}:${s.value}`);
      return r;
    };
    assert.equal((await ask({ type: 'host', value: 'ws-042' }, 'inventory')).data.owner, 'alice');
    assert.equal((await ask({ type: 'ip', value: '10.20.5.21' }, 'inventory')).data.criticality, 'critical');
    assert.equal((await ask({ type: 'ip', value: '2001:db8:10::20' }, 'inventory')).data.host, 'web-01.corp.example');
    assert.equal((await ask({ type: 'ip', value: '10.20.5.21' }, 'netsegments')).data.segment, 'pci-db');
    assert.equal((await ask({ type: 'ip', value: '10.1.2.3' }, 'netsegments')).data.segment, 'workstations');
    assert.equal((await ask({ type: 'ip', value: '172.16.10.20' }, 'netsegments')).data.zone, 'dmz');
    assert.equal((await ask({ type: 'ip', value: '10.99.3.4' }, 'netsegments')).data.segment, 'vpn-pool');
    assert.equal((await ask({ type: 'ip', value: '192.168.200.50' }, 'netsegments')).data.segment, 'guest');
    assert.equal((await ask({ type: 'ip', value: '203.0.113.7' }, 'indicators')).data.verdict, 'malicious');
    assert.equal((await ask({ type: 'ip', value: '203.0.113.50' }, 'indicators')).data.verdict, 'suspicious');
    assert.equal((await ask({ type: 'domain', value: 'cdn.evil.example' }, 'indicators')).data.verdict, 'malicious');
    assert.equal((await ask({ type: 'url', value: 'http://evil.example/payload.exe' }, 'indicators')).found, true);
    assert.equal(
      (await ask({ type: 'sha256', value: '2da3a3a1b63431feef4eb46ed6243ba18deab63183665e9ae8bb72b3460f5d1a' }, 'indicators')).data.verdict,
      'malicious',
    );
    assert.equal((await ask({ type: 'domain', value: 'cdn.updates.vendor.example' }, 'allowlist')).found, true, 'subdomains of an allowlisted domain');
    assert.equal((await ask({ type: 'domain', value: 'shop.corp.example' }, 'allowlist')).found, false, 'our own domain is not blanket-allowlisted');
    assert.equal((await ask({ type: 'ip', value: '10.20.9.9' }, 'allowlist')).data.unconditional, false, 'the scanner by address, for its rules only');
    assert.equal((await ask({ type: 'host', value: 'vulnscan-01.corp.example' }, 'allowlist')).data.unconditional, false);
    assert.equal((await ask({ type: 'ip', value: '198.51.100.77' }, 'allowlist')).found, false, 'the pen-test entry has expired');
    await e.close();
  } finally {
    await t.cleanup();
  }
});
