import { test } from 'node:test';
import assert from 'node:assert/strict';
import { utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import inventory, { parseInventory } from '../../src/enrich/providers/inventory.js';
import { dataDir, fileDeps } from './support.js';

const signal = new AbortController().signal;
const CSV = [
  'host,ip,mac,owner,os,criticality,tags,location',
  'ws-042.corp.example,10.1.2.3,3C-52-82-0A-42-01,alice,Windows 11,medium,workstation,"Floor 3, desk 12"',
  'DB-PAY-01.corp.example,"10.20.5.21;2001:db8:20::21",,payments,"Ubuntu 22.04",critical,"pci;database",DC1',
  'kiosk,192.168.200.50,,facilities,,low,,',
  'ws-050.corp.example,10.1.2.50,,bob,,,,',
  'ws-050.lab.example,10.9.2.50,,lab,,,,',
].join('\n');

test('inventory: host names case-insensitive, short name vs FQDN, IPs (v4 and v6) and MACs', async () => {
  const dir = dataDir({ 'inv.csv': CSV });
  const p = await inventory.create({ name: 'inv', kind: 'inventory', file: 'inv.csv' }, fileDeps(dir));
  const host = await p.lookup({ type: 'host', value: 'WS-042' }, signal);
  assert.equal(host.found, true);
  assert.equal(host.data.host, 'ws-042.corp.example');
  assert.equal(host.data.matched_by, 'short_name');
  assert.equal(host.data.owner, 'alice');
  assert.deepEqual(host.data.attributes, { location: 'Floor 3, desk 12' });
  assert.equal((await p.lookup({ type: 'host', value: 'db-pay-01.CORP.example' }, signal)).data.matched_by, 'host');
  assert.equal((await p.lookup({ type: 'host', value: 'kiosk.corp.example' }, signal)).data.host, 'kiosk', 'FQDN finds a short inventory name');
  assert.equal((await p.lookup({ type: 'host', value: 'ws-042.other.example' }, signal)).found, false, 'another domain is another host');
  const amb = await p.lookup({ type: 'host', value: 'ws-050' }, signal);
  assert.equal(amb.found, false);
  assert.deepEqual(amb.data.ambiguous, ['ws-050.corp.example', 'ws-050.lab.example']);

  const v6 = await p.lookup({ type: 'ip', value: '2001:DB8:20:0::21' }, signal);
  assert.equal(v6.data.host, 'DB-PAY-01.corp.example');
  assert.equal(v6.data.criticality, 'critical');
  assert.deepEqual(v6.data.tags, ['pci', 'database']);
  assert.equal((await p.lookup({ type: 'mac', value: '3c:52:82:0a:42:01' }, signal)).data.host, 'ws-042.corp.example');
  assert.equal((await p.lookup({ type: 'ip', value: '10.1.2.99' }, signal)).found, false);
});

test('inventory: reloads when the file changes (mtime), keeps the old data if the new file is bad', async () => {
  const dir = dataDir({ 'inv.csv': 'host,ip\nws-1,10.0.0.1\n' });
  let now = 1_000_000;
  const p = await inventory.create({ name: 'inv', kind: 'inventory', file: 'inv.csv' }, fileDeps(dir, () => now));
  assert.equal((await p.lookup({ type: 'ip', value: '10.0.0.1' }, signal)).data.host, 'ws-1');
  const file = join(dir, 'inv.csv');
  writeFileSync(file, 'host,ip\nws-2,10.0.0.1\n');
  utimesSync(file, new Date(), new Date(Date.now() + 5000));
  now += 2000;
  assert.equal((await p.lookup({ type: 'ip', value: '10.0.0.1' }, signal)).data.host, 'ws-2');
  writeFileSync(file, 'host,ip\nws-3,not-an-ip\n');
  utimesSync(file, new Date(), new Date(Date.now() + 10_000));
  now += 2000;
  assert.equal((await p.lookup({ type: 'ip', value: '10.0.0.1' }, signal)).data.host, 'ws-2');
});

test('inventory: bad rows name file and line', async () => {
  assert.throws(() => parseInventory('host,ip\nws-1,10.0.0.1\nws-2,10.0.0.300\n', 'inv.csv'), /^DataFileError: inv\.csv:3: ip "10\.0\.0\.300" is not an IP address/);
  assert.throws(() => parseInventory('host,ip,mac\nws-1,10.0.0.1,zz:zz\n', 'inv.csv'), /inv\.csv:2: mac "zz:zz" is not a MAC address/);
  assert.throws(() => parseInventory('host,ip\n"ws-1",10.0.0.1,extra\n', 'inv.csv'), /inv\.csv:2: expected 2 fields/);
  assert.throws(() => parseInventory('host,criticality\nws-1,huge\n', 'inv.csv'), /inv\.csv:2: criticality "huge"/);
  assert.throws(() => parseInventory('host\nws-1\nWS-1\n', 'inv.csv'), /inv\.csv:3: host "WS-1" is listed twice \(first on line 2\)/);
  const dir = dataDir({});
  await assert.rejects(
    () => inventory.create({ name: 'inv', kind: 'inventory', file: 'missing.csv' }, fileDeps(dir)),
    new RegExp(`${join(dir, 'missing.csv').replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: cannot read: ENOENT`),
  );
});

// JSON exports of the same inventory: a list, { "assets": [...] }, and NDJSON (one object per line).
const ASSETS = [
  { host: 'ws-042.corp.example', ip: '10.1.2.3', mac: '3C-52-82-0A-42-01', owner: 'alice', os: 'Windows 11', criticality: 'medium', tags: 'workstation', location: 'Floor 3, desk 12' },
  { host: 'DB-PAY-01.corp.example', ips: ['10.20.5.21', '2001:db8:20::21'], owner: 'payments', criticality: 'Critical', tags: ['pci', 'database'], attributes: { dc: 'DC1', rack: 12 } },
  { host: 'kiosk', ip: ['192.168.200.50'], owner: 'facilities', criticality: null, retired: false },
];

test('inventory JSON: a list or { assets }, arrays for ip/mac/tags, other keys as attributes; same answers as the CSV', async () => {
  const ndjson = ASSETS.map((a) => JSON.stringify(a)).join('\n') + '\n\n';
  const dir = dataDir({ 'inv.json': JSON.stringify(ASSETS, null, 2), 'wrapped.json': JSON.stringify({ assets: ASSETS }), 'inv.ndjson': ndjson, 'inv.jsonl': ndjson });
  for (const file of ['inv.json', 'wrapped.json', 'inv.ndjson', 'inv.jsonl']) {
    const p = await inventory.create({ name: 'inv', kind: 'inventory', file }, fileDeps(dir));
    const host = await p.lookup({ type: 'host', value: 'WS-042' }, signal);
    assert.equal(host.data.host, 'ws-042.corp.example', file);
    assert.equal(host.data.matched_by, 'short_name');
    assert.deepEqual(host.data.macs, ['3c:52:82:0a:42:01']);
    assert.deepEqual(host.data.attributes, { location: 'Floor 3, desk 12' });
    const v6 = await p.lookup({ type: 'ip', value: '2001:DB8:20:0::21' }, signal);
    assert.equal(v6.data.host, 'DB-PAY-01.corp.example', file);
    assert.equal(v6.data.criticality, 'critical');
    assert.deepEqual(v6.data.tags, ['pci', 'database']);
    assert.deepEqual(v6.data.attributes, { dc: 'DC1', rack: '12' });
    const kiosk = await p.lookup({ type: 'host', value: 'kiosk.corp.example' }, signal);
    assert.equal(kiosk.data.criticality, null);
    assert.deepEqual(kiosk.data.attributes, { retired: 'false' });
    // Where the answer came from: a line for NDJSON, an item number for a JSON list.
    assert.equal(kiosk.data.source, file.endsWith('.json') ? `${file}#3` : `${file}:3`);
  }
});

test('inventory JSON: bad items name "file: item N" (JSON list) or "file:line" (NDJSON)', () => {
  const json = (items: unknown) => JSON.stringify(items);
  assert.throws(() => parseInventory(json([{ host: 'ws-1', ip: '10.0.0.1' }, { host: 'ws-2', ip: ['10.0.0.2', '10.0.0.300'] }]), 'inv.json'), /^DataFileError: inv\.json: item 2: ip "10\.0\.0\.300" is not an IP address/);
  assert.throws(() => parseInventory(json([{ host: 'ws-1', mac: 'zz:zz' }]), 'inv.json'), /inv\.json: item 1: mac "zz:zz" is not a MAC address/);
  assert.throws(() => parseInventory(json([{ host: 'ws-1', criticality: 'huge' }]), 'inv.json'), /inv\.json: item 1: criticality "huge" must be one of/);
  assert.throws(() => parseInventory(json([{ host: 'ws-1' }, { host: 'WS-1' }]), 'inv.json'), /inv\.json: item 2: host "WS-1" is listed twice \(first on item 1\)/);
  assert.throws(() => parseInventory(json([{ ip: '10.0.0.1' }]), 'inv.json'), /inv\.json: item 1: empty "host"/);
  assert.throws(() => parseInventory(json(['ws-1']), 'inv.json'), /inv\.json: item 1: expected an object/);
  assert.throws(() => parseInventory(json([{ host: ['a', 'b'] }]), 'inv.json'), /inv\.json: item 1: "host" must be a string, a number or a boolean/);
  assert.throws(() => parseInventory(json([{ host: 'ws-1', owner: { name: 'x' } }]), 'inv.json'), /inv\.json: item 1: "owner" must be a string/);
  assert.throws(() => parseInventory(json([{ host: 'ws-1', site: { dc: 1 } }]), 'inv.json'), /inv\.json: item 1: attribute "site" must be a string/);
  assert.throws(() => parseInventory(json({ hosts: [] }), 'inv.json'), /^DataFileError: inv\.json: expected a list of assets, or an object with an "assets" list/);
  assert.throws(() => parseInventory('[\n{"host": "ws-1"},\n{"host": }\n]', 'inv.json'), /^DataFileError: inv\.json(:3)?: invalid JSON/);
  assert.equal(parseInventory('', 'inv.json').assets.length, 0);

  const nd = '{"host":"ws-1","ip":"10.0.0.1"}\n\n{"host":"ws-2","ip":"10.0.0.300"}\n';
  assert.throws(() => parseInventory(nd, 'inv.ndjson'), /^DataFileError: inv\.ndjson:3: ip "10\.0\.0\.300" is not an IP address/);
  assert.throws(() => parseInventory('{"host":"ws-1"}\n{"host":"ws-1"}\n', 'inv.jsonl'), /inv\.jsonl:2: host "ws-1" is listed twice \(first on line 1\)/);
  assert.throws(() => parseInventory('{"host":"ws-1"}\n{"host": \n', 'inv.ndjson'), /inv\.ndjson:2: invalid JSON/);
});

test('inventory JSON: reloads on change, keeps the last good data on a bad file, revision follows the content', async () => {
  const dir = dataDir({ 'inv.json': JSON.stringify([{ host: 'ws-1', ip: '10.0.0.1' }]) });
  let now = 1_000_000;
  const p = await inventory.create({ name: 'inv', kind: 'inventory', file: 'inv.json' }, fileDeps(dir, () => now));
  const rev1 = await p.revision!();
  assert.equal((await p.lookup({ type: 'ip', value: '10.0.0.1' }, signal)).data.host, 'ws-1');
  const file = join(dir, 'inv.json');
  writeFileSync(file, JSON.stringify({ assets: [{ host: 'ws-2', ip: ['10.0.0.1'] }] }));
  utimesSync(file, new Date(), new Date(Date.now() + 5000));
  now += 2000;
  assert.equal((await p.lookup({ type: 'ip', value: '10.0.0.1' }, signal)).data.host, 'ws-2');
  const rev2 = await p.revision!();
  assert.notEqual(rev2, rev1);
  writeFileSync(file, '[{"host": "ws-3", "ip": "10.0.0.1"'); // half-written export
  utimesSync(file, new Date(), new Date(Date.now() + 10_000));
  now += 2000;
  assert.equal((await p.lookup({ type: 'ip', value: '10.0.0.1' }, signal)).data.host, 'ws-2');
  assert.equal(await p.revision!(), rev2, 'a failed reload keeps the revision of the data still served');
});
