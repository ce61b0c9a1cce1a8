import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import allowlist, { parseAllowlistFile } from '../../src/enrich/providers/allowlist.js';
import { dataDir, fileDeps } from './support.js';

const signal = new AbortController().signal;
const NOW = Date.parse('2026-11-27T12:00:00Z');

test('allowlist: domains with subdomains, CIDRs, URLs by host, hashes, hosts and users; reasons and rule scopes', async () => {
  const dir = dataDir({
    'allow.yaml': [
      'entries:',
      '  - { domain: corp.example, reason: own domain }',
      '  - { cidr: 10.20.9.0/29, reason: scanners, rule: [2010935, "2010936"] }',
      '  - { sha256: 50BC1E9595BC8CBAA017A8A56CE549C771BE0FE851263390EDD3248D7DA590C4, reason: admin tool }',
      '  - { host: vulnscan-01, reason: scanner host, rule: "2010935" }',
      '  - { user: svc-backup, reason: backup account }',
    ].join('\n'),
  });
  const p = await allowlist.create(
    { name: 'allow', kind: 'allowlist', file: 'allow.yaml', entries: [{ url: 'https://updates.vendor.example/agent.msi', reason: 'vendor updater' }] },
    fileDeps(dir, () => NOW),
  );
  const sub = await p.lookup({ type: 'domain', value: 'mail.corp.example' }, signal);
  assert.equal(sub.found, true);
  assert.equal(sub.data.unconditional, true);
  assert.deepEqual((sub.data.entries as Array<{ match: string; reason: string }>).map((e) => [e.match, e.reason]), [['domain:corp.example', 'own domain']]);
  assert.equal((await p.lookup({ type: 'domain', value: 'notcorp.example' }, signal)).found, false);
  assert.equal((await p.lookup({ type: 'url', value: 'http://intranet.corp.example/login' }, signal)).found, true);
  assert.equal((await p.lookup({ type: 'url', value: 'https://updates.vendor.example/agent.msi' }, signal)).found, true);
  assert.equal((await p.lookup({ type: 'url', value: 'https://updates.vendor.example/other.msi' }, signal)).found, false);

  const scanner = await p.lookup({ type: 'ip', value: '10.20.9.3' }, signal);
  assert.equal(scanner.data.unconditional, false);
  assert.deepEqual((scanner.data.entries as Array<{ rules: string[] }>)[0]!.rules, ['2010935', '2010936']);
  assert.equal((await p.lookup({ type: 'ip', value: '10.20.9.8' }, signal)).found, false);
  assert.equal((await p.lookup({ type: 'sha256', value: '50bc1e9595bc8cbaa017a8a56ce549c771be0fe851263390edd3248d7da590c4' }, signal)).found, true);
  assert.equal((await p.lookup({ type: 'host', value: 'VULNSCAN-01.corp.example' }, signal)).found, true);
  assert.equal((await p.lookup({ type: 'user', value: 'CORP\\svc-backup' }, signal)).found, true);
  assert.equal((await p.lookup({ type: 'user', value: 'svc-backup@corp.example' }, signal)).found, true);
  assert.equal((await p.lookup({ type: 'user', value: 'alice' }, signal)).found, false);
});

test('allowlist: expired entries are ignored, and a match is never cached past its expiry', async () => {
  let now = NOW;
  const p = await allowlist.create(
    {
      name: 'allow',
      kind: 'allowlist',
      ttl: '1h',
      entries: [
        { ip: '198.51.100.77', reason: 'pen test', expires: '2026-03-31' },
        { ip: '198.51.100.78', reason: 'pen test 2', expires: '2026-11-27T12:30:00Z' },
        { ip: '198.51.100.79', reason: 'through today', expires: '2026-11-27' },
      ],
    },
    fileDeps('/', () => now),
  );
  assert.equal((await p.lookup({ type: 'ip', value: '198.51.100.77' }, signal)).found, false);
  const live = await p.lookup({ type: 'ip', value: '198.51.100.78' }, signal);
  assert.equal(live.found, true);
  assert.equal(live.ttlMs, 30 * 60_000);
  assert.equal((await p.lookup({ type: 'ip', value: '198.51.100.79' }, signal)).found, true, 'a date means through that day');
  now = Date.parse('2026-11-27T12:30:00Z');
  assert.equal((await p.lookup({ type: 'ip', value: '198.51.100.78' }, signal)).found, false);
  now = Date.parse('2026-11-28T00:00:00Z');
  assert.equal((await p.lookup({ type: 'ip', value: '198.51.100.79' }, signal)).found, false);
});

test('allowlist: the revision moves with the entries and when an entry expires, and is the same for the same data', async () => {
  let now = NOW;
  const dir = dataDir({ 'allow.yaml': 'entries:\n  - { ip: 198.51.100.78, reason: pen test, expires: "2026-11-27T12:30:00Z" }\n' });
  const make = (entries: Array<{ ip: string; reason: string }> = []) =>
    allowlist.create({ name: 'allow', kind: 'allowlist', file: 'allow.yaml', entries }, fileDeps(dir, () => now));
  const [a, b] = [await make(), await make()];
  const first = await a.revision!();
  assert.equal(await b.revision!(), first, 'another process with the same file and config');
  assert.notEqual(await (await make([{ ip: '192.0.2.1', reason: 'lab' }])).revision!(), first, 'inline entries count');
  now = Date.parse('2026-11-27T12:29:59Z');
  assert.equal(await a.revision!(), first);
  // The entry expires: its answer changes, so the revision must too (stored answers are asked again).
  now = Date.parse('2026-11-27T12:30:00Z');
  const expired = await a.revision!();
  assert.notEqual(expired, first);
  writeFileSync(join(dir, 'allow.yaml'), 'entries:\n  - { ip: 198.51.100.79, reason: scanner }\n');
  now += 60_000; // past the once-a-second look at the file
  assert.notEqual(await a.revision!(), expired);
});

test('allowlist: bad entries name file and line', () => {
  assert.throws(() => parseAllowlistFile('- { domain: a.example }\n', 'al.yaml'), /^DataFileError: al\.yaml:1: an entry needs a "reason"/);
  assert.throws(() => parseAllowlistFile('- { reason: x }\n- { rule: "1", reason: y }\n', 'al.yaml'), /al\.yaml:1: an entry names exactly one of/);
  assert.throws(() => parseAllowlistFile('- { rule: "1", reason: y }\n', 'al.yaml'), /al\.yaml:1: a rule entry needs a subject/);
  assert.throws(() => parseAllowlistFile('- { ip: 1.2.3, reason: y }\n', 'al.yaml'), /al\.yaml:1: ip "1\.2\.3" is not an IP address/);
  assert.throws(() => parseAllowlistFile('entries:\n  - { ip: 1.2.3.4, reason: y }\n  - { md5: abc, reason: y }\n', 'al.yaml'), /al\.yaml:3: md5 "abc" is not a md5 hash/);
  assert.throws(() => parseAllowlistFile('- { ip: 1.2.3.4, reason: y, expires: someday }\n', 'al.yaml'), /al\.yaml:1: expires "someday"/);
});
