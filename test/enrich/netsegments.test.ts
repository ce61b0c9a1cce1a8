import { test } from 'node:test';
import assert from 'node:assert/strict';
import netsegments, { parseSegmentsFile } from '../../src/enrich/providers/netsegments.js';
import { dataDir, fileDeps } from './support.js';

const ip = (value: string) => ({ type: 'ip' as const, value });
const signal = new AbortController().signal;

test('netsegments: longest-prefix match over IPv4 and IPv6, inline and file segments together', async () => {
  const dir = dataDir({
    'segments.yaml': [
      'segments:',
      '  - { name: corp, cidr: 10.0.0.0/8, zone: internal, criticality: medium }',
      '  - { name: servers, cidr: [10.20.0.0/16, "2001:db8:20::/48"], zone: datacenter, criticality: high }',
      '  - { name: v6-db, cidr: "2001:db8:20:5::/64", criticality: critical }',
    ].join('\n'),
  });
  const p = await netsegments.create(
    { name: 'seg', kind: 'netsegments', file: 'segments.yaml', segments: [{ name: 'pci-db', cidr: '10.20.5.0/24', criticality: 'critical', tags: ['pci'] }] },
    fileDeps(dir),
  );
  const a = await p.lookup(ip('10.20.5.21'), signal);
  assert.equal(a.found, true);
  assert.equal(a.data.segment, 'pci-db');
  assert.deepEqual(a.data.tags, ['pci']);
  assert.deepEqual(a.data.within, [
    { segment: 'servers', cidr: '10.20.0.0/16' },
    { segment: 'corp', cidr: '10.0.0.0/8' },
  ]);
  assert.equal((await p.lookup(ip('10.20.9.9'), signal)).data.segment, 'servers');
  assert.equal((await p.lookup(ip('10.1.2.3'), signal)).data.segment, 'corp');
  assert.equal((await p.lookup(ip('2001:db8:20:5::10'), signal)).data.segment, 'v6-db');
  assert.equal((await p.lookup(ip('2001:db8:20:6::10'), signal)).data.segment, 'servers');
  assert.equal((await p.lookup(ip('2001:DB8:20:0000::1'), signal)).data.cidr, '2001:db8:20::/48');
  // IPv4-mapped IPv6 is the IPv4 address.
  assert.equal((await p.lookup(ip('::ffff:10.20.5.1'), signal)).data.segment, 'pci-db');
  assert.equal((await p.lookup(ip('203.0.113.7'), signal)).found, false);
  assert.equal((await p.lookup(ip('2001:db8:99::1'), signal)).found, false);
});

test('netsegments: CSV files, host bits masked, and errors that name file and line', () => {
  const segs = parseSegmentsFile('cidr,name,zone,criticality\n10.1.2.3/16,workstations,corporate,medium\n"2001:db8::/32;198.51.100.0/24",lab,,low\n', 'segs.csv');
  assert.deepEqual(segs.map((s) => s.cidr), ['10.1.0.0/16', '2001:db8::/32', '198.51.100.0/24']);
  assert.throws(() => parseSegmentsFile('cidr,name\n10.0.0.0/33,bad\n', 'segs.csv'), /^DataFileError: segs\.csv:2: "10\.0\.0\.0\/33" is not a network in CIDR notation/);
  assert.throws(() => parseSegmentsFile('cidr,name,criticality\n10.0.0.0/8,x,extreme\n', 'segs.csv'), /segs\.csv:2: criticality "extreme" must be one of/);
  assert.throws(() => parseSegmentsFile('segments:\n  - name: a\n    cidr: 10.0.0.0/8\n  - name: b\n', 'segs.yaml'), /segs\.yaml:4: segment "b" needs a "cidr"/);
  assert.throws(() => parseSegmentsFile('segments: [\n', 'segs.yaml'), /segs\.yaml:\d+: /);
});
