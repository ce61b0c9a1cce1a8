import { test } from 'node:test';
import assert from 'node:assert/strict';
import indicators, { parseIndicatorList } from '../../src/enrich/providers/indicators.js';
import { dataDir, fileDeps } from './support.js';

const signal = new AbortController().signal;
type Match = { indicator: string; match: string; verdict: string; source: string; origin: string };

test('indicators: IP in CIDR, domain and parent domains, exact URL and URL domain, e-mail domain, hashes', async () => {
  const dir = dataDir({
    'intel.csv': [
      'indicator,type,verdict,source',
      '203.0.113.7,,malicious,feed-a',
      '203.0.113.0/24,cidr,suspicious,feed-b',
      '2001:db8:bad::/48,,malicious,',
      'evil.example,domain,malicious,feed-a',
      'hxxp://dropper[.]example/stage2.ps1,url,,',
      '# a comment line',
      'E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855,,suspicious,feed-a',
    ].join('\n'),
    'block.txt': '# one per line\nbad-updates.example\n198.51.100.0/24  # whole range\n',
  });
  const p = await indicators.create({ name: 'intel', kind: 'indicators', file: ['intel.csv', 'block.txt'], source: 'soc' }, fileDeps(dir));

  const exact = await p.lookup({ type: 'ip', value: '203.0.113.7' }, signal);
  assert.equal(exact.data.verdict, 'malicious');
  assert.deepEqual((exact.data.matches as Match[]).map((m) => [m.match, m.source]), [['exact', 'feed-a'], ['cidr', 'feed-b']]);
  const inRange = await p.lookup({ type: 'ip', value: '203.0.113.99' }, signal);
  assert.equal(inRange.data.verdict, 'suspicious');
  assert.equal((await p.lookup({ type: 'ip', value: '2001:db8:bad:1::5' }, signal)).data.verdict, 'malicious');
  const text = await p.lookup({ type: 'ip', value: '198.51.100.4' }, signal);
  assert.deepEqual((text.data.matches as Match[]).map((m) => [m.match, m.source, m.origin]), [['cidr', 'soc', 'block.txt:3']]);

  const parent = await p.lookup({ type: 'domain', value: 'cdn.a.evil.example' }, signal);
  assert.equal((parent.data.matches as Match[])[0]!.match, 'parent_domain');
  assert.equal((await p.lookup({ type: 'domain', value: 'EVIL.example' }, signal)).found, true);
  assert.equal((await p.lookup({ type: 'domain', value: 'notevil.example' }, signal)).found, false);

  const url = await p.lookup({ type: 'url', value: 'http://dropper.example/stage2.ps1' }, signal);
  assert.equal((url.data.matches as Match[])[0]!.match, 'exact');
  assert.equal((url.data.matches as Match[])[0]!.verdict, 'malicious', 'default verdict');
  assert.equal((await p.lookup({ type: 'url', value: 'http://dropper.example/other' }, signal)).found, false);
  const viaHost = await p.lookup({ type: 'url', value: 'https://x.bad-updates.example/u.bin' }, signal);
  assert.deepEqual((viaHost.data.matches as Match[]).map((m) => m.match), ['url_domain']);
  assert.equal((await p.lookup({ type: 'url', value: 'http://203.0.113.7:8080/a' }, signal)).data.verdict, 'malicious');
  assert.equal((await p.lookup({ type: 'email', value: 'ceo@evil.example' }, signal)).found, true);

  const hash = await p.lookup({ type: 'sha256', value: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855' }, signal);
  assert.equal(hash.data.verdict, 'suspicious');
  assert.equal((await p.lookup({ type: 'md5', value: 'e3b0c44298fc1c149afbf4c8996fb924' }, signal)).found, false);
});

test('indicators: CSV without header, defaults for source and verdict; bad lines name file and line', () => {
  const opts = { format: 'auto' as const, verdict: 'malicious' as const };
  const rows = parseIndicatorList('evil.example\n"evil.example",domain,benign,allow-feed\n', 'list.csv', opts);
  assert.deepEqual(rows.map((r) => [r.indicator, r.verdict, r.source]), [
    ['evil.example', 'malicious', 'list'],
    ['evil.example', 'benign', 'allow-feed'],
  ]);
  assert.throws(() => parseIndicatorList('indicator,type\n1.2.3.4,ip\nnot a thing,\n', 'l.csv', opts), /^DataFileError: l\.csv:3: cannot tell what kind of indicator "not a thing" is/);
  assert.throws(() => parseIndicatorList('indicator,type\n1.2.3.4,domain\n', 'l.csv', opts), /l\.csv:2: "1\.2\.3\.4" is not a valid domain/);
  assert.throws(() => parseIndicatorList('indicator,verdict\n1.2.3.4,evil\n', 'l.csv', opts), /l\.csv:2: verdict "evil" must be one of malicious, suspicious, benign/);
  assert.throws(() => parseIndicatorList('indicator,type\n1.2.3.4,fqdn\n', 'l.csv', opts), /l\.csv:2: type "fqdn" must be one of/);
  assert.throws(() => parseIndicatorList('good.example\n\n  # c\n10.0.0.0/99\n', 'l.txt', opts), /l\.txt:4: cannot tell/);
});
