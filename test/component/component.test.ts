import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Type } from 'typebox';
import type { Component } from '../../src/component/component.js';
import { discoverComponents } from '../../src/component/discover.js';
import { instantiate, markChecked } from '../../src/component/instantiate.js';
import { providerKinds } from '../../src/enrich/registry.js';
import { actionKinds } from '../../src/actions/registry.js';
import { receiverKinds } from '../../src/intake/registry.js';
import { scoringEngines } from '../../src/score/engines.js';
import { Value } from 'typebox/value';

/** A folder of component modules (plain ESM), removed after `fn`. */
async function withFolder(files: Record<string, string>, fn: (dir: URL) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'fido-components-'));
  try {
    for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
    await fn(pathToFileURL(`${dir}/`));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const moduleOf = (kind: string) =>
  `export default { kind: '${kind}', description: 'the ${kind} kind', schema: { type: 'object' }, create: async (c) => ({ built: c.name }) };\n`;

test('discovery: every module of the folder, sorted by kind; tests and declarations are not components', async () => {
  await withFolder({ 'b.js': moduleOf('zeta'), 'a.js': moduleOf('alpha'), 'a.test.js': 'throw new Error("not imported")', 'a.d.ts': 'x' }, async (dir) => {
    const found = await discoverComponents<{ kind: string }>(dir, 'widget');
    assert.deepEqual(found.map((c) => c.kind), ['alpha', 'zeta']);
  });
});

test('discovery: a module that fails to load, exports no component, or repeats a kind is an error naming the file', async () => {
  await withFolder({ 'helpers.js': 'export const x = 1;\n' }, async (dir) => {
    await assert.rejects(discoverComponents(dir, 'widget'), /widget file helpers\.js: default export is not an object/);
  });
  await withFolder({ 'half.js': 'export default { kind: "half" };\n' }, async (dir) => {
    await assert.rejects(discoverComponents(dir, 'widget'), /widget file half\.js: default export has no description, schema, create/);
  });
  await withFolder({ 'broken.js': 'export default {\n' }, async (dir) => {
    await assert.rejects(discoverComponents(dir, 'widget'), /widget file broken\.js failed to load/);
  });
  await withFolder({ 'one.js': moduleOf('same'), 'two.js': moduleOf('same') }, async (dir) => {
    await assert.rejects(discoverComponents(dir, 'widget'), /widget file two\.js: name "same" is already used by one\.js/);
  });
});

test("the shipped plug-in points are found by their folders, and each kind's schema requires its own kind", async () => {
  assert.deepEqual(
    providerKinds.map((k) => k.kind),
    [
      'abuseipdb', 'address_history', 'allowlist', 'feed', 'geoip', 'greynoise', 'history', 'http_inventory', 'indicators', 'inventory',
      'jamf', 'ldap', 'malwarebazaar', 'misp', 'netsegments', 'otx', 'sql_inventory', 'threatfox', 'threatgrid', 'urlhaus', 'virustotal',
    ],
  );
  // One kind per file of actions/kinds/, named by it (test/actions/registry.test.ts lists them by name).
  const kindFiles = readdirSync(new URL('../../src/actions/kinds/', import.meta.url)).filter((f) => f.endsWith('.ts')).map((f) => f.slice(0, -3));
  assert.deepEqual(actionKinds.map((k) => k.kind), kindFiles.sort());
  for (const k of ['email', 'ldap_account', 'servicenow_ticket']) assert.ok(kindFiles.includes(k), `${k} among ${kindFiles.join(', ')}`);
  assert.deepEqual(receiverKinds.map((k) => k.kind), ['file', 'http', 'imap', 'kafka', 'nats', 'pull', 'rabbitmq', 'sql', 'syslog']);
  for (const k of [...providerKinds, ...actionKinds, ...receiverKinds]) {
    assert.equal((k.schema as { properties?: Record<string, { const?: string }> }).properties?.kind?.const, k.kind, k.kind);
  }
  // Scoring engines: each built-in profile names its engine and passes its engine's schema.
  assert.deepEqual(scoringEngines.map((e) => e.kind), ['default', 'fido-classic']);
  for (const e of scoringEngines) {
    assert.equal((e.builtin as { engine?: string }).engine, e.kind);
    assert.equal(Value.Check(e.schema, e.builtin), true, e.kind);
  }
});

// ─── instantiate ───

const Schema = Type.Object({ name: Type.String(), kind: Type.Literal('gauge'), limit: Type.Integer({ minimum: 1 }) }, { additionalProperties: false });
interface Built {
  name: string;
  limit: number;
  closed: boolean;
}

function gauge(calls: string[]): Component<typeof Schema, { prefix: string }, Built> {
  return {
    kind: 'gauge',
    description: 'a test kind',
    schema: Schema,
    check: (config) => (config.limit > 100 ? [{ key: 'limit', message: 'at most 100' }] : []),
    async create(config, deps) {
      calls.push(`${deps.prefix}${config.name}`);
      // The config is typed by the schema: no cast.
      if (config.name === 'boom') throw new Error('the file is unreadable');
      return { name: config.name, limit: config.limit, closed: false };
    },
  };
}

const at = { path: 'gauges', what: 'gauge', close: (b: Built) => void (b.closed = true) };

test('instantiate builds each entry with its typed config and the same deps, in order', async () => {
  const calls: string[] = [];
  const built = await instantiate(at, [gauge(calls)], [{ name: 'a', kind: 'gauge', limit: 2 }, { name: 'b', kind: 'gauge', limit: 3 }], { prefix: '>' });
  assert.deepEqual(built.map((b) => [b.entry.name, b.instance.limit]), [['a', 2], ['b', 3]]);
  assert.deepEqual(calls, ['>a', '>b']);
});

test('instantiate refuses, naming the key: an unknown kind, a duplicate name, a schema error, a failed check, a failed create', async () => {
  const calls: string[] = [];
  const kinds = [gauge(calls)];
  const deps = { prefix: '' };
  await assert.rejects(instantiate(at, kinds, [{ name: 'a', kind: 'meter' }], deps), /^Error: gauges\.a\.kind: unknown gauge kind "meter" \(known: gauge\)$/);
  await assert.rejects(
    instantiate(at, kinds, [{ name: 'a', kind: 'gauge', limit: 1 }, { name: 'a', kind: 'gauge', limit: 1 }], deps),
    /^Error: gauges\.a: duplicate gauge name$/,
  );
  await assert.rejects(instantiate(at, kinds, [{ name: 'a', kind: 'gauge', limit: 0 }], deps), /^Error: gauges\.a\.limit: /);
  await assert.rejects(instantiate(at, kinds, [{ name: 'a', kind: 'gauge', limit: 1, extra: true }], deps), /^Error: gauges\.a/);
  await assert.rejects(instantiate(at, kinds, [{ name: 'a', kind: 'gauge', limit: 101 }], deps), /^Error: gauges\.a\.limit: at most 100$/);
  await assert.rejects(instantiate(at, kinds, [{ name: 'boom', kind: 'gauge', limit: 1 }], deps), /^Error: gauges\.boom: the file is unreadable$/);
  // Only the first of the two named alike, and the one whose create failed, reached create.
  assert.deepEqual(calls, ['a', 'boom']);
});

test('instantiate closes what it built when a later entry fails', async () => {
  const calls: string[] = [];
  const closed: string[] = [];
  const place = { ...at, close: (b: Built) => void closed.push(b.name) };
  await assert.rejects(
    instantiate(place, [gauge(calls)], [{ name: 'a', kind: 'gauge', limit: 1 }, { name: 'b', kind: 'gauge', limit: 1 }, { name: 'boom', kind: 'gauge', limit: 1 }], { prefix: '' }),
    /gauges\.boom/,
  );
  assert.deepEqual(closed, ['a', 'b']);
});

test('an entry the configuration loader checked is not checked again', async () => {
  const calls: string[] = [];
  // Past its check (limit > 100) but marked as checked: the loader's check is the one that counts.
  const entry = { name: 'c', kind: 'gauge', limit: 500 };
  markChecked(entry);
  const [built] = await instantiate(at, [gauge(calls)], [entry], { prefix: '' });
  assert.equal(built?.instance.limit, 500);
  // An equal entry that was not marked is checked.
  await assert.rejects(instantiate(at, [gauge(calls)], [{ ...entry }], { prefix: '' }), /at most 100/);
});
