/**
 * Address history (issue 16, item 3): lease and status files and context events become who-held-which-address-
 * when, and an alert resolves to the holder at its time, not to whoever holds the address now.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseIscDhcpdLeases, parseKeaLeases, parseOpenVpnStatus } from '../../src/enrich/lease-files.js';
import { bindingsAt, bindingsOfContext, recordBindings } from '../../src/enrich/address-bindings.js';
import addressHistory from '../../src/enrich/providers/address_history.js';
import type { ContextEvent } from '../../src/model/context.js';
import type { EnrichmentProvider } from '../../src/enrich/provider.js';
import { DIALECTS, openTestStore, tempDir } from '../support/stores.js';
import { waitFor } from '../support/wait.js';

const FIXTURES = new URL('../fixtures/leases/', import.meta.url);
const fixture = (name: string) => readFileSync(new URL(name, FIXTURES), 'utf8');
const at = (text: string) => Date.parse(text);
const signal = new AbortController().signal;

test('ISC dhcpd.leases: each holding with its span; later blocks for a lease replace earlier ones; pool entries and bad dates skipped', () => {
  const { holdings, skipped } = parseIscDhcpdLeases(fixture('dhcpd.leases'));
  assert.equal(skipped, 1, 'the block with month 13');
  const byIp = (ip: string) => holdings.filter((h) => h.ip === ip);
  assert.deepEqual(byIp('10.1.2.3'), [
    { ip: '10.1.2.3', start: at('2026-12-07T08:00:00Z'), end: at('2026-12-07T20:00:00Z'), host: 'WS-042', user: null, mac: '52:54:00:12:34:56', id: `10.1.2.3@${at('2026-12-07T08:00:00Z')}` },
  ]);
  assert.deepEqual(
    byIp('10.1.2.50').map((h) => [h.host, new Date(h.start).toISOString(), new Date(h.end!).toISOString()]),
    [
      ['laptop-bob', '2026-12-07T06:00:00.000Z', '2026-12-07T09:00:00.000Z'],
      ['kiosk-7', '2026-12-07T09:30:00.000Z', '2026-12-07T21:30:00.000Z'],
    ],
  );
  assert.equal(byIp('10.1.2.60')[0]!.end, null, 'ends never');
  assert.equal(byIp('10.1.2.99').length, 0, 'a backup pool entry is nobody');
});

test('Kea lease CSVs (v4 and v6): start is expire - valid_lifetime; declined leases and unreadable rows are not holdings', () => {
  const v4 = parseKeaLeases(fixture('kea-leases4.csv'));
  assert.equal(v4.skipped, 1);
  assert.deepEqual(v4.holdings.map((h) => [h.ip, h.host, h.mac, new Date(h.start).toISOString(), new Date(h.end!).toISOString()]), [
    ['10.2.0.10', 'printer-3.corp.example', '52:54:00:10:00:01', '2026-12-07T09:00:00.000Z', '2026-12-07T10:00:00.000Z'],
  ]);
  const v6 = parseKeaLeases(fixture('kea-leases6.csv'));
  assert.deepEqual(v6.holdings.map((h) => [h.ip, h.host, h.mac]), [['2001:db8:1::10', 'ws-042', '52:54:00:12:34:56']]);
});

test('OpenVPN status files, versions 1, 2 and 3: tunnel addresses held by the username (the common name when UNDEF), open-ended', () => {
  for (const v of ['v2', 'v3']) {
    const { holdings, skipped } = parseOpenVpnStatus(fixture(`openvpn-status-${v}.log`));
    assert.equal(skipped, 0, v);
    assert.deepEqual(
      holdings.map((h) => [h.ip, h.user, new Date(h.start).toISOString(), h.end]),
      [
        ['10.8.0.6', 'alice', '2026-12-07T08:00:00.000Z', null],
        ['fd00:8::1000', 'alice', '2026-12-07T08:00:00.000Z', null],
        ['10.8.0.7', 'bob-phone', '2026-12-07T09:10:00.000Z', null],
      ],
      v,
    );
  }
  // Version 1 writes the server's local time.
  const v1 = parseOpenVpnStatus(fixture('openvpn-status-v1.log'), 'Europe/Berlin');
  assert.deepEqual(v1.holdings.map((h) => [h.ip, h.user, new Date(h.start).toISOString()]), [['10.8.0.6', 'alice', '2026-12-07T08:00:00.000Z']]);
});

const vpnEvent = (over: Partial<ContextEvent>): ContextEvent => ({
  kind: 'vpn',
  time: '2026-12-07T08:00:00Z',
  user: { name: 'Alice' },
  src: { ip: '198.51.100.7' },
  assigned_ip: '10.8.0.6',
  session_id: 'S1',
  data: {},
  observables: [],
  ...over,
});

test('context events: VPN sessions and leases bind their assigned address, sign-ons their client address; failures and other kinds bind nothing', () => {
  const rows = bindingsOfContext(
    [
      vpnEvent({}),
      vpnEvent({ time: '2026-12-07T09:30:00Z', end: '2026-12-07T09:30:00Z', user: undefined }), // the same session's end
      vpnEvent({ outcome: 'failure', session_id: 'S2', assigned_ip: '10.8.0.9' }),
      { kind: 'dhcp', time: '2026-12-07T07:00:00Z', assigned_ip: '10.1.2.3', host: { name: 'WS-042', mac: '52-54-00-12-34-56' }, data: {}, observables: [] },
      { kind: 'auth', time: '2026-12-07T07:30:00Z', user: { name: 'bob' }, src: { ip: '10.1.9.9' }, outcome: 'success', data: {}, observables: [] },
      { kind: 'flow', time: '2026-12-07T07:30:00Z', src: { ip: '10.1.9.9' }, data: {}, observables: [] },
    ].map((event) => ({ event: event as ContextEvent, source: 'gp', detector: 'panos_globalprotect' })),
  );
  assert.deepEqual(
    rows.map((r) => [r.kind, r.ip, r.user_name, r.host, r.mac, r.end_at === null ? null : new Date(r.end_at).toISOString()]),
    [
      ['vpn', '10.8.0.6', 'alice', null, null, null],
      ['vpn', '10.8.0.6', null, null, null, '2026-12-07T09:30:00.000Z'],
      ['dhcp', '10.1.2.3', null, 'ws-042', '52:54:00:12:34:56', null],
      ['auth', '10.1.9.9', 'bob', null, null, null],
    ],
  );
  assert.equal(rows[0]!.key, rows[1]!.key, 'one session, one binding');
});

for (const dialect of DIALECTS) {
  test(`${dialect}: a session's events make one binding that ends; open bindings hold for their kind's bound`, async () => {
    const ts = await openTestStore(dialect);
    try {
      const db = ts.store.db;
      const start = vpnEvent({ time: '2026-12-07T08:00:00Z' });
      await recordBindings(db, bindingsOfContext([{ event: start, source: 'gp', detector: 'd' }]), Date.now());
      assert.equal((await bindingsAt(db, '10.8.0.6', at('2026-12-07T20:00:00Z')))[0]?.user, 'alice', 'open: held');
      assert.equal((await bindingsAt(db, '10.8.0.6', at('2026-12-08T09:00:00Z'))).length, 0, 'beyond 24 h an open VPN binding says nothing');
      // The end comes without the user name: the binding keeps it.
      const end = vpnEvent({ time: '2026-12-07T09:30:00Z', end: '2026-12-07T09:30:00Z', user: undefined });
      await recordBindings(db, bindingsOfContext([{ event: end, source: 'gp', detector: 'd' }]), Date.now());
      assert.equal((await bindingsAt(db, '10.8.0.6', at('2026-12-07T09:14:00Z')))[0]?.user, 'alice');
      assert.equal((await bindingsAt(db, '10.8.0.6', at('2026-12-07T09:31:00Z'))).length, 0, 'ended');
      assert.equal((await db.selectFrom('address_bindings').select('key').execute()).length, 1);
      const signOn = { kind: 'auth', time: '2026-12-07T07:00:00Z', user: { name: 'bob' }, src: { ip: '10.1.9.9' }, data: {}, observables: [] } as ContextEvent;
      await recordBindings(db, bindingsOfContext([{ event: signOn, source: 'okta', detector: 'okta' }]), Date.now());
      assert.equal((await bindingsAt(db, '10.1.9.9', at('2026-12-07T14:59:00Z')))[0]?.user, 'bob');
      assert.equal((await bindingsAt(db, '10.1.9.9', at('2026-12-07T15:01:00Z'))).length, 0, 'a sign-on holds 8 h');
    } finally {
      await ts.cleanup();
    }
  });
}

async function withProvider(files: Array<{ path: string; format: 'isc_dhcpd' | 'kea_csv' | 'openvpn_status' }>, fn: (p: EnrichmentProvider, store: Awaited<ReturnType<typeof openTestStore>>) => Promise<void>) {
  const ts = await openTestStore('sqlite');
  const p = await addressHistory.create({ name: 'addresses', kind: 'address_history', files, poll: '1h' }, { store: ts.store, configDir: '/', now: () => at('2026-12-07T12:00:00Z') });
  try {
    await fn(p, ts);
  } finally {
    await p.close?.();
    await ts.cleanup();
  }
}

test('the provider answers who held an address at the alert time, not who holds it now', async () => {
  const dir = tempDir();
  const leases = join(dir, 'dhcpd.leases');
  copyFileSync(new URL('dhcpd.leases', FIXTURES), leases);
  await withProvider([{ path: leases, format: 'isc_dhcpd' }], async (p) => {
    assert.equal(p.timed, true);
    const ask = (t: string) => p.lookup({ type: 'ip', value: '10.1.2.50', at: at(t) }, signal);
    const earlier = await ask('2026-12-07T08:59:00Z');
    assert.equal(earlier.data.host, 'laptop-bob');
    assert.equal(earlier.data.mac, '52:54:00:aa:bb:01');
    const bindings = earlier.data.bindings as Array<{ kind: string; source: string; start: string; end: string }>;
    assert.deepEqual([bindings[0]!.kind, bindings[0]!.source, bindings[0]!.start, bindings[0]!.end], ['dhcp', `isc_dhcpd:${leases}`, '2026-12-07T06:00:00.000Z', '2026-12-07T09:00:00.000Z']);
    assert.equal((await ask('2026-12-07T10:00:00Z')).data.host, 'kiosk-7');
    assert.equal((await ask('2026-12-07T09:15:00Z')).found, false, 'between two leases nobody held it');
    // Without a time: now (12:00).
    assert.equal((await p.lookup({ type: 'ip', value: '10.1.2.50' }, signal)).data.host, 'kiosk-7');
  });
});

test('an OpenVPN client gone from the status file has its session ended when the file was written', async () => {
  const dir = tempDir();
  const status = join(dir, 'server.status');
  copyFileSync(new URL('openvpn-status-v2.log', FIXTURES), status);
  await withProvider([{ path: status, format: 'openvpn_status' }], async (p, ts) => {
    const user = async (ip: string, t: string) => (await p.lookup({ type: 'ip', value: ip, at: at(t) }, signal)).data.user;
    assert.equal(await user('10.8.0.7', '2026-12-07T09:20:00Z'), 'bob-phone');
    // bob-phone disconnects: the daemon rewrites the file without it at 09:40.
    writeFileSync(status, fixture('openvpn-status-v2.log').split('\n').filter((l) => !l.includes('bob-phone')).join('\n'));
    utimesSync(status, new Date('2026-12-07T09:40:00Z'), new Date('2026-12-07T09:40:00Z'));
    // The poll is an hour here: close() waits for a sync, so trigger one by re-creating (as a restart would).
    const again = await addressHistory.create(
      { name: 'addresses', kind: 'address_history', files: [{ path: status, format: 'openvpn_status' }], poll: '1h' },
      { store: ts.store, configDir: '/', now: () => at('2026-12-07T12:00:00Z') },
    );
    try {
      assert.equal((await again.lookup({ type: 'ip', value: '10.8.0.7', at: at('2026-12-07T09:20:00Z') }, signal)).data.user, 'bob-phone', 'still true then');
      assert.equal((await again.lookup({ type: 'ip', value: '10.8.0.7', at: at('2026-12-07T09:45:00Z') }, signal)).found, false, 'ended at 09:40');
      assert.equal((await again.lookup({ type: 'ip', value: '10.8.0.6', at: at('2026-12-07T09:45:00Z') }, signal)).data.user, 'alice', 'alice is still on');
    } finally {
      await again.close?.();
    }
  });
});

test('the files are watched: a lease written after start is answered without a restart', async () => {
  const dir = tempDir();
  const leases = join(dir, 'dhcpd.leases');
  writeFileSync(leases, '# empty at start\n');
  const ts = await openTestStore('sqlite');
  const p = await addressHistory.create(
    { name: 'addresses', kind: 'address_history', files: [{ path: leases, format: 'isc_dhcpd' }], poll: 0.02 },
    { store: ts.store, configDir: '/', now: () => at('2026-12-07T12:00:00Z') },
  );
  try {
    const ask = () => p.lookup({ type: 'ip', value: '10.1.2.3', at: at('2026-12-07T09:00:00Z') }, signal);
    assert.equal((await ask()).found, false);
    // dhcpd appends the lease (the file is a log).
    writeFileSync(leases, fixture('dhcpd.leases'));
    const answer = await waitFor('the poll to read the new lease', async () => ((await ask()).found ? ask() : undefined), 30_000);
    assert.equal(answer.data.host, 'ws-042');
  } finally {
    await p.close?.();
    await ts.cleanup();
  }
});
