import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { normalizeCommand, register } from '../../src/cli/commands/normalize.js';
import { register as registerDetectors } from '../../src/cli/commands/detectors.js';
import { loadDetectors } from '../../src/detectors/lib/registry.js';
import { ULID_PATTERN } from '../../src/util/ulid.js';
import { FIXTURE_SAMPLES, SAMPLES, fixtureText, sampleLine } from './helpers.js';
import { coverageOfFiles, recordFiles } from '../../src/cli/commands/detectors-test.js';

import { captureOutput } from '../support/cli.js';
const registry = await loadDetectors({ jsonMappings: [{ name: 'acme', match: { vendor: 'acme' }, fields: { title: 'msg', time: 'ts' } }] });

async function runCli(input: string, opts: Partial<{ detector: string; raw: boolean; tz: string; whole: boolean }> = {}, file?: string) {
  const dir = mkdtempSync(join(tmpdir(), 'fido-norm-'));
  const path = file ?? join(dir, 'input');
  if (!file) writeFileSync(path, input);
  const { out, err, stdout, stderr } = captureOutput();
  try {
    const code = await normalizeCommand(path, { detector: 'auto', tz: 'UTC', ...opts }, out, err, registry);
    const lines = stdout().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
    return { code, lines, stderr: stderr() };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('NDJSON and text lines in, one canonical Alert per record out', async () => {
  const before = Date.now();
  const input = [sampleLine('suricata', 'beats_eve_alerts_selected.jsonl', 1), '', sampleLine('cef', 'trend_micro_deep_security.cef', 1)].join('\n');
  const { code, lines, stderr } = await runCli(input);
  assert.equal(code, 0, stderr);
  assert.equal(lines.length, 2);
  const [eve, cef] = lines as [Record<string, unknown>, Record<string, unknown>];
  assert.deepEqual(Object.keys(eve).slice(0, 6), ['id', 'source', 'detector', 'vendor_id', 'time', 'received_at']);
  assert.match(eve.id as string, ULID_PATTERN);
  assert.notEqual(eve.id, cef.id);
  assert.equal(eve.source, 'cli');
  assert.equal(eve.detector, 'suricata');
  assert.equal(eve.title, 'ET POLICY curl User-Agent Outbound');
  assert.equal(eve.time, '2018-10-03T14:42:44.836Z');
  assert.ok(Date.parse(eve.received_at as string) >= before - 1000);
  assert.equal(eve.severity_label, 'medium');
  assert.ok(Array.isArray(eve.observables));
  assert.equal('raw' in eve, false);
  assert.equal(cef.detector, 'cef');
  assert.equal(cef.title, 'User Signed In');
});

test('--raw includes the record byte for byte; --detector forces one', async () => {
  const line = sampleLine('cef', 'elastic_vaporware.cef', 2);
  const { code, lines } = await runCli(`${line}\n`, { raw: true, detector: 'cef' });
  assert.equal(code, 0);
  assert.equal(lines[0]!.raw, line);
});

test('context events print as {"context": …} lines', async () => {
  const { code, lines } = await runCli(readFileSync(join(SAMPLES, 'suricata', 'eve_6-0_flows.jsonl'), 'utf8'));
  assert.equal(code, 0);
  assert.equal(lines.length, 2);
  const ctx = lines[0]!.context as Record<string, unknown>;
  assert.equal(ctx.detector, 'suricata');
  assert.equal(ctx.kind, 'flow');
  assert.equal(ctx.time, '2024-07-30T16:53:24.501Z');
});

test('a JSON array file: each element is a record (objects as JSON, strings as lines)', async () => {
  const eve = JSON.parse(sampleLine('suricata', 'beats_eve_alerts_selected.jsonl', 3)) as unknown;
  const input = JSON.stringify([eve, sampleLine('cef', 'trend_micro_deep_security.cef', 3), { vendor: 'acme', msg: 'hi', ts: '2026-01-01T00:00:00Z' }, { nope: 1 }], null, 2);
  const { code, lines, stderr } = await runCli(input);
  assert.equal(code, 1);
  assert.deepEqual(lines.map((l) => l.detector), ['suricata', 'cef', 'acme']);
  assert.equal(stderr, 'element 3: no detector recognised this JSON object (keys: nope)\n');
});

test('unparseable lines: "line N: reason" on stderr, the rest still printed, exit 1', async () => {
  const input = ['garbage here', sampleLine('cef', 'trend_micro_deep_security.cef', 2), '{"event_type":"alert","timestamp":"2024-01-01T00:00:00Z","alert":{}}', 'CEF:0|V|P|truncated'].join('\n');
  const { code, lines, stderr } = await runCli(input);
  assert.equal(code, 1);
  assert.equal(lines.length, 1);
  assert.equal(stderr, [
    'line 1: no detector recognised this text line (starts: garbage here)',
    'line 3: suricata: missing alert.signature',
    'line 4: cef: CEF header has 3 of 7 fields (Version|Vendor|Product|Version|Signature ID|Name|Severity); truncated?',
    '',
  ].join('\n'));
});

test('usage errors: unknown detector or time zone → exit 2; unreadable file → exit 1', async () => {
  const a = await runCli('x', { detector: 'nope' });
  assert.equal(a.code, 2);
  assert.match(a.stderr, /unknown detector "nope" \(known: acme, .*cef.*suricata.*, or auto\)/);
  const b = await runCli('x', { tz: 'Mars/Olympus' });
  assert.equal(b.code, 2);
  assert.match(b.stderr, /unknown time zone/);
  const c = await runCli('', {}, join(tmpdir(), 'fido-does-not-exist', 'x.log'));
  assert.equal(c.code, 1);
  assert.match(c.stderr, /cannot read .*ENOENT/);
});

test('--tz applies to zone-less timestamps', async () => {
  const line = '<134>Jan  2 09:00:00 dsm01 CEF:0|V|P|1|2|N|5|src=10.0.0.1';
  const { lines } = await runCli(line, { tz: 'Europe/Berlin' });
  assert.match(lines[0]!.time as string, /^\d{4}-01-02T08:00:00\.000Z$/);
});

test('the commands register with their options', () => {
  const program = new Command('fido');
  register(program);
  registerDetectors(program);
  const normalize = program.commands.find((c) => c.name() === 'normalize');
  assert.ok(normalize);
  assert.deepEqual(normalize.options.map((o) => o.long).sort(), ['--config', '--detector', '--raw', '--tz', '--whole']);
  const detectors = program.commands.find((c) => c.name() === 'detectors');
  assert.ok(detectors?.commands.some((c) => c.name() === 'list'));
});

test('the CLI registry includes the detectors.json mappings of the config file', async () => {
  const { cliRegistry } = await import('../../src/cli/detector-registry.js');
  const dir = mkdtempSync(join(tmpdir(), 'fido-cfg-'));
  try {
    const file = join(dir, 'fido.yaml');
    writeFileSync(file, 'detectors:\n  json:\n    - name: acme-edr\n      description: Acme EDR webhook\n      match: { product: Acme }\n      fields: { title: name, time: ts }\n');
    const reg = await cliRegistry(file);
    assert.equal(reg.get('acme-edr')?.description, 'Acme EDR webhook');
    writeFileSync(file, 'detectors:\n  json:\n    - name: Bad Name\n      fields: {}\n');
    await assert.rejects(cliRegistry(file), /invalid configuration/);
    await assert.rejects(cliRegistry(join(dir, 'missing.yaml')), /cannot read/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('fido normalize and fido detectors test read every fixture file alike: the same records, the same results', async () => {
  const files = [...(await recordFiles(FIXTURE_SAMPLES)), ...(await recordFiles(SAMPLES))];
  assert.ok(files.length > 50, `${files.length} files`);
  for (const file of files) {
    const report = await coverageOfFiles(registry, [file]);
    const contextEvents = report.detectors.reduce((n, d) => n + d.context_events, 0);
    const { out, err, stdout, stderr } = captureOutput();
    const code = await normalizeCommand(file, { detector: 'auto', tz: 'UTC' }, out, err, registry);
    const lines = stdout().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
    const failures = stderr().split('\n').filter(Boolean).length;
    assert.deepEqual(
      { alerts: lines.filter((l) => !('context' in l)).length, context: lines.filter((l) => 'context' in l).length, failed: failures },
      { alerts: report.totals.alerts, context: contextEvents, failed: report.totals.quarantined },
      file,
    );
    assert.equal(code, failures ? 1 : 0, file);
  }
});

test('a FireEye notification e-mail is one record to fido normalize, from a file of any name or standard input', async () => {
  const mail = fixtureText('fireeye', 'notification_text.whole.txt');
  const { code, lines, stderr } = await runCli(mail);
  assert.equal(code, 0, stderr);
  assert.equal(lines.length, 1);
  assert.equal(lines[0]!.detector, 'fireeye');
  const whole = await runCli(`${mail}\n\nSubject: this line is part of the same record`, { whole: true });
  assert.equal(whole.lines.length, 1, whole.stderr);
});
