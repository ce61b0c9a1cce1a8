/**
 * nftables_block against real nftables in two throw-away network namespaces (test/support/netns.ts): traffic
 * from the client namespace to a listener in the server namespace stops when the kind adds the client's address
 * to the set and flows again after the undo or the element's timeout. What must be refused is checked with a
 * stand-in nft (a script that records being run), so that "refused before nft runs" is observable.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import nftablesBlock, { type NftablesBlockConfig } from '../../src/actions/kinds/nftables_block.js';
import { ActionError, type ActionTarget, type UndoContext } from '../../src/actions/action.js';
import { createActionExecutor } from '../../src/actions/executor.js';
import { parseConfigText } from '../../src/config/validate.js';
import type { IncidentDetail } from '../../src/model/incident.js';
import { createNetnsPair, netnsProblem, type NetnsPair } from '../support/netns.js';
import { openTestStore, tempDir } from '../support/stores.js';
import { waitFor } from '../support/wait.js';
import { actionRecord, actionRow, insertAction, sampleIncident, seedIncident } from './fixtures.js';
import { firstAttempt } from './support.js';

const deps = { configDir: '.', publicUrl: 'http://fido.test' };
const PUBLIC = '93.184.216.34';

function target(extra: Partial<NftablesBlockConfig> = {}): Promise<ActionTarget> {
  return nftablesBlock.create({ name: 'fw', kind: 'nftables_block', table: 'fido', set4: 'blocked4', set6: 'blocked6', ...extra }, deps);
}

function incidentWith(src: string | undefined, dst: string | undefined): IncidentDetail {
  const i = sampleIncident('INC-NFT');
  i.alerts = i.alerts.map((a) => ({ ...a, src: { ...a.src, ip: src }, dst: { ...a.dst, ip: dst } }));
  return i;
}

function ctx(params: Record<string, unknown> = {}, incident = incidentWith('10.1.2.3', PUBLIC), signal: AbortSignal = new AbortController().signal) {
  const action = { ...actionRecord(incident.id, 'nftables_block', 'fw'), params };
  return { action, incident, idempotencyKey: action.idempotency_key, signal, ...firstAttempt };
}
function undoCtx(originalResult: Record<string, unknown>): UndoContext {
  const c = ctx();
  return { ...c, original: c.action, originalResult };
}

async function refusal(p: Promise<unknown>, re: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof ActionError, String(e));
    assert.equal(e.retryable, false, e.message);
    assert.match(e.message, re);
    return true;
  });
}

describe('config', () => {
  test('the schema and check() name the key that is wrong', async () => {
    const yaml = `
actions:
  targets:
    - { name: ok, kind: nftables_block, table: fido, set4: blocked4, never_block: [192.0.2.53, "2001:db8::/32"] }
    - { name: bad-table, kind: nftables_block, table: "fido; flush ruleset", set4: b4 }
    - { name: no-set, kind: nftables_block, table: fido }
    - { name: v6-in-ip, kind: nftables_block, family: ip, table: fido, set4: b4, set6: b6 }
    - { name: bad-cidr, kind: nftables_block, table: fido, set4: b4, never_block: [10.0.0.0/8, "10.0.0.0/33"] }
    - { name: short, kind: nftables_block, table: fido, set4: b4, timeout: 500ms }
    - { name: bad-ns, kind: nftables_block, table: fido, set4: b4, netns: "--help" }
`;
    const { errors } = parseConfigText(yaml, { receivers: [], providers: [], actions: [nftablesBlock] });
    const keys = errors.map((e) => `${e.key}: ${e.message}`).join('\n');
    assert.doesNotMatch(keys, /targets\[0\]/);
    for (const k of ['targets[1].table', 'targets[2].set4', 'targets[3].set6', 'targets[4].never_block[1]', 'targets[5].timeout', 'targets[6].netns']) {
      assert.match(keys, new RegExp(k.replace(/[[\].]/g, '\\$&')), keys);
    }
    await assert.rejects(target({ set4: undefined, set6: undefined }), /actions\.targets\.fw\.set4: name at least one set/);
  });
});

describe('refusals, with a stand-in nft that records being run', () => {
  const dir = tempDir('fido-nft-');
  const fake = join(dir, 'nft');
  const ran = join(dir, 'ran');
  // Records its arguments, one a line; `sleep` mode hangs (for the abort case).
  writeFileSync(fake, `#!/bin/sh\n[ -f "${dir}/hang" ] && exec sleep 30\nfor a in "$@"; do printf '%s\\n' "$a" >> "${ran}"; done\n`);
  chmodSync(fake, 0o755);
  const runs = () => (existsSync(ran) ? readFileSync(ran, 'utf8').trim().split('\n') : []);
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('hostile strings, loopback, never_block and private addresses are refused before nft runs', async () => {
    const fw = await target({ nft_path: fake, never_block: ['192.0.2.0/24', '2001:db8::53'] });
    for (const hostile of ['1.2.3.4; rm -rf /', '$(id)', '`id`', '--help', '1.2.3.4 }', '1.2.3.4\n', '01.2.3.4', '', 'evil.example', '1.2.3.4/8']) {
      await refusal(fw.execute(ctx({ address: hostile })), /is not an IP address/);
    }
    await refusal(fw.execute(ctx({ address: { toString: () => '1.1.1.1' } })), /is not an IP address/);
    await refusal(fw.execute(ctx({ address: '127.0.0.1' })), /127\.0\.0\.1 \(loopback\): never blocked/);
    await refusal(fw.execute(ctx({ address: '::1' })), /loopback/);
    await refusal(fw.execute(ctx({ address: '::ffff:127.0.0.1' })), /loopback/);
    await refusal(fw.execute(ctx({ address: '0.0.0.0' })), /never blocked/);
    await refusal(fw.execute(ctx({ address: '224.0.0.1' })), /multicast/);
    await refusal(fw.execute(ctx({ address: '192.0.2.53' })), /in never_block 192\.0\.2\.0\/24/);
    await refusal(fw.execute(ctx({ address: '2001:db8::53' })), /in never_block 2001:db8::53\/128/);
    await refusal(fw.execute(ctx({ address: '10.1.2.3' })), /10\.1\.2\.3 \(private\): not a public address \(set allow_private/);
    await refusal(fw.execute(ctx({}, incidentWith('10.1.2.3', '192.168.1.1'))), /nothing to block/);
    await refusal(fw.execute(ctx({}, incidentWith(undefined, undefined))), /nothing to block/);
    await refusal(fw.execute(ctx({ address: PUBLIC, timeout: 'soon' })), /params\.timeout: "soon" is not a duration/);
    const privateOk = await target({ nft_path: fake, allow_private: true, never_block: ['10.9.0.0/16'] });
    await refusal(privateOk.execute(ctx({ address: '127.0.0.2' })), /loopback/);
    await refusal(privateOk.execute(ctx({ address: '10.9.1.1' })), /never_block 10\.9\.0\.0\/16/);
    const v4only = await target({ nft_path: fake, set6: undefined });
    await refusal(v4only.execute(ctx({ address: '2606:4700::1111' })), /no set6 configured/);
    assert.deepEqual(runs(), [], 'nft never ran');
  });

  test('what nft is asked: one JSON argument, the canonical address, the right set, a bounded timeout', async () => {
    rmSync(ran, { force: true });
    const fw = await target({ nft_path: fake, timeout: '30m', max_timeout: '1d' });
    // No params: the incident's first public address (here the destination: src is private).
    const a = await fw.execute(ctx({}, incidentWith('10.1.2.3', PUBLIC)));
    assert.deepEqual(a.detail, { address: PUBLIC, from: 'alerts[0].dst.ip', family: 'inet', table: 'fido', set: 'blocked4', timeout_s: 1800 });
    const b = await fw.execute(ctx({}, incidentWith('2606:4700:0:0::1111', PUBLIC)));
    assert.equal(b.detail.address, '2606:4700::1111');
    assert.equal(b.detail.set, 'blocked6');
    assert.equal(b.detail.from, 'alerts[0].src.ip');
    const c = await fw.execute(ctx({ address: '::ffff:93.184.216.34', timeout: '30d' }));
    assert.equal(c.detail.set, 'blocked4', 'IPv4-mapped is IPv4');
    assert.equal(c.detail.timeout_s, 86_400, 'bounded by max_timeout');
    await fw.undo!(undoCtx(a.detail));
    const lines = runs();
    assert.equal(lines.length, 8);
    assert.deepEqual([lines[0], lines[2], lines[4], lines[6]], ['-j', '-j', '-j', '-j']);
    assert.deepEqual(JSON.parse(lines[1]!), {
      nftables: [{ add: { element: { family: 'inet', table: 'fido', name: 'blocked4', elem: [{ elem: { val: PUBLIC, timeout: 1800 } }] } } }],
    });
    assert.deepEqual(JSON.parse(lines[7]!), { nftables: [{ delete: { element: { family: 'inet', table: 'fido', name: 'blocked4', elem: [PUBLIC] } } }] });
    // A stored result that is not an address is not passed on.
    await refusal(fw.undo!(undoCtx({ address: '1.2.3.4; x' })), /recorded no address/);
  });

  test('an aborted signal ends a hung nft, as a retryable failure; a missing nft is permanent', async () => {
    writeFileSync(join(dir, 'hang'), '');
    try {
      const fw = await target({ nft_path: fake });
      const ac = new AbortController();
      const p = fw.execute(ctx({ address: PUBLIC }, undefined, ac.signal));
      setImmediate(() => ac.abort());
      await assert.rejects(p, (e: unknown) => e instanceof ActionError && e.retryable && /did not finish/.test(e.message));
    } finally {
      rmSync(join(dir, 'hang'));
    }
    const missing = await target({ nft_path: join(dir, 'no-such-nft') });
    await refusal(missing.execute(ctx({ address: PUBLIC })), /cannot run .*no-such-nft: ENOENT/);
  });
});

describe('against nftables in network namespaces', () => {
  let pair: NetnsPair;
  before(async () => {
    // Provisioned by .ci/run (nftables; iproute2; root): a missing part fails the suite, it is never skipped.
    const problem = netnsProblem();
    if (problem) throw new Error(`cannot test against real nftables: ${problem}`);
    pair = await createNetnsPair();
    // The ruleset docs/actions/nftables_block.md shows, loaded by hand as an administrator would.
    pair.nft(['-f', '-'], `table inet fido {
  set blocked4 { type ipv4_addr; flags timeout; }
  set blocked6 { type ipv6_addr; flags timeout; }
  chain input {
    type filter hook input priority filter; policy accept;
    ip saddr @blocked4 counter drop
    ip6 saddr @blocked6 counter drop
  }
}
`);
  });
  after(() => pair?.close());

  const inSet = (set: string): string[] => {
    const j = JSON.parse(pair.nft(['-j', 'list', 'set', 'inet', 'fido', set])) as { nftables: Array<{ set?: { elem?: Array<{ elem: { val: string } } | string> } }> };
    return (j.nftables.find((o) => o.set)?.set?.elem ?? []).map((e) => (typeof e === 'string' ? e : e.elem.val));
  };
  const fw = () => target({ netns: pair.srv, allow_private: true });

  test('execute blocks the client, executing again is harmless, undo lets it through, undo again succeeds', async () => {
    const t = await fw();
    assert.equal(await pair.probe(), true, 'reachable before');
    const done = await t.execute(ctx({ address: pair.cliAddr, timeout: '10m' }));
    assert.equal(done.detail.address, '10.200.0.2');
    assert.equal(await pair.probe({ timeoutMs: 500 }), false, 'blocked');
    const again = await t.execute(ctx({ address: pair.cliAddr, timeout: '10m' }));
    assert.deepEqual(again.detail, done.detail);
    assert.deepEqual(inSet('blocked4'), ['10.200.0.2']);
    assert.equal((await t.undo!(undoCtx(done.detail))).detail.removed, true);
    assert.equal(await pair.probe(), true, 'reachable after the undo');
    assert.deepEqual(inSet('blocked4'), []);
    assert.equal((await t.undo!(undoCtx(done.detail))).detail.removed, false, 'nothing left to take back is success');
  });

  test('IPv6: the address goes to set6 and blocks the client over IPv6 only', async () => {
    const t = await fw();
    assert.equal(await pair.probe({ v6: true }), true);
    const done = await t.execute(ctx({ address: 'FD00:F1D0:0::2' }));
    assert.equal(done.detail.set, 'blocked6');
    assert.deepEqual(inSet('blocked6'), ['fd00:f1d0::2']);
    assert.equal(await pair.probe({ v6: true, timeoutMs: 500 }), false);
    assert.equal(await pair.probe(), true, 'IPv4 still passes');
    await t.undo!(undoCtx(done.detail));
    assert.equal(await pair.probe({ v6: true }), true);
  });

  test('the element timeout lifts the block by itself', async () => {
    const t = await fw();
    const done = await t.execute(ctx({ address: pair.cliAddr, timeout: '2s' }));
    assert.equal(done.detail.timeout_s, 2);
    assert.equal(await pair.probe({ timeoutMs: 500 }), false);
    await waitFor('the element to expire', async () => (await pair.probe({ timeoutMs: 500 })) && inSet('blocked4').length === 0, 15_000, 100);
  });

  test('a missing set is a permanent error naming it; create: true makes table, sets and chain, idempotently', async () => {
    await refusal((await target({ netns: pair.srv, allow_private: true, table: 'fidoauto' })).execute(ctx({ address: pair.cliAddr })), /set blocked4 of table inet fidoauto does not exist/);
    const auto = () => target({ netns: pair.srv, allow_private: true, table: 'fidoauto', create: true });
    const first = await (await auto()).execute(ctx({ address: pair.cliAddr }));
    assert.equal(await pair.probe({ timeoutMs: 500 }), false);
    await (await auto()).execute(ctx({ address: pair.cliAddr }));
    const chain = JSON.parse(pair.nft(['-j', 'list', 'chain', 'inet', 'fidoauto', 'fido_block'])) as { nftables: Array<{ rule?: unknown }> };
    assert.equal(chain.nftables.filter((o) => o.rule).length, 2, 'the chain was rewritten, not appended to');
    await (await auto()).undo!(undoCtx(first.detail));
    assert.equal(await pair.probe(), true);
    pair.nft(['delete', 'table', 'inet', 'fidoauto']);
  });

  test('a namespace that does not exist is a permanent error', async () => {
    await refusal((await target({ netns: `${pair.srv}-gone` })).execute(ctx({ address: PUBLIC })), /network namespace .*-gone does not exist/);
  });

  test('through the executor: the incident\'s source is blocked, and the rule\'s time limit undoes it', async () => {
    const store = await openTestStore('sqlite');
    const t = await fw();
    try {
      const T0 = 1_900_000_000_000;
      let now = T0;
      const incident = incidentWith(pair.cliAddr, pair.srvAddr);
      await seedIncident(store.store.db, incident);
      await insertAction(store.store.db, { id: 'ACT-NFT', incident_id: incident.id, kind: 'nftables_block', target: 'fw', now });
      await store.store.db.updateTable('actions').set({ undo_after_ms: 3_600_000 }).where('id', '=', 'ACT-NFT').execute();
      const ex = createActionExecutor({ store: store.store, targets: new Map([['fw', t]]), maxAttempts: 3, backoffBaseMs: 1000, backoffMaxMs: 60_000, leaseMs: 30_000, owner: 'ex', now: () => now });
      assert.equal((await ex.runOnce()).succeeded, 1);
      const row = await actionRow(store.store.db, 'ACT-NFT');
      assert.equal(row.state, 'succeeded', row.last_error ?? '');
      assert.deepEqual(JSON.parse(row.result!), { address: '10.200.0.2', from: 'alerts[0].src.ip', family: 'inet', table: 'fido', set: 'blocked4', timeout_s: 3600, netns: pair.srv });
      assert.equal(await pair.probe({ timeoutMs: 500 }), false, 'blocked');
      now = T0 + 3_600_000;
      const round = await ex.runOnce();
      assert.equal(round.undosQueued, 1);
      assert.equal(round.succeeded, 1);
      const undo = await store.store.db.selectFrom('actions').selectAll().where('undo_of', '=', 'ACT-NFT').executeTakeFirstOrThrow();
      assert.equal(undo.state, 'succeeded');
      assert.equal((JSON.parse(undo.result!) as { removed: boolean }).removed, true);
      assert.equal(await pair.probe(), true, 'reachable after the undo');
    } finally {
      await t.close?.();
      await store.cleanup();
    }
  });
});
