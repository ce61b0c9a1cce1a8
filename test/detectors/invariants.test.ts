/**
 * One convention per canonical field, across every detector (docs/model.md, "One convention per field"):
 * every record of every fixture folder — the vendors' own output in test/fixtures/vendor-samples and the
 * documentation-based records in test/fixtures/samples — is parsed by its detector, and what comes out holds
 * the shared invariants below. A detector that reports a placeholder as a fact, a revision inside a rule id,
 * a domain-prefixed user name or a context event without its canonical facts fails here, naming the record.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { AlertDraft } from '../../src/model/alert.js';
import { SEVERITY_LABELS, severityLabel } from '../../src/model/alert.js';
import { CONTEXT_KINDS, type ContextEvent, type ContextKind } from '../../src/model/context.js';
import { loadDetectors, normalizeRecord } from '../../src/detectors/lib/registry.js';
import { isPlaceholderText } from '../../src/detectors/lib/placeholders.js';
import { canonicalIp } from '../../src/detectors/lib/observables.js';
import { isWholeRecordFile } from '../../src/cli/records.js';
import { FIXTURE_SAMPLES, SAMPLES, fixtureRecords } from './helpers.js';

const reg = await loadDetectors();
const RECEIVED_AT = new Date('2026-01-01T00:00:00Z');

/** test/fixtures/vendor-samples folders are named as the products' integrations; the detector that reads each. */
const VENDOR_FOLDER_DETECTOR: Record<string, string> = {
  fireeye_nx: 'fireeye',
  fortinet_fortigate: 'fortigate',
  panw_globalprotect_vpn: 'panos_globalprotect',
  panw_panos_threat: 'panos',
};

interface FixtureRecord {
  where: string;
  detector: string;
  text: string;
}

function vendorRecords(): FixtureRecord[] {
  const folders = readdirSync(SAMPLES, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name);
  return folders.flatMap((folder) =>
    readdirSync(join(SAMPLES, folder))
      .filter((f) => !f.endsWith('.md'))
      .sort()
      .flatMap((file) => {
        const detector = VENDOR_FOLDER_DETECTOR[folder] ?? folder;
        const path = join(SAMPLES, folder, file);
        if (isWholeRecordFile(file)) return [{ where: `vendor-samples/${folder}/${file}`, detector, text: readText(path) }];
        return readText(path)
          .split('\n')
          .map((text, i) => ({ where: `vendor-samples/${folder}/${file}:${i + 1}`, detector, text: text.replace(/\r$/, '') }))
          .filter((r) => r.text.trim() !== '');
      }),
  );
}

function docRecords(): FixtureRecord[] {
  const folders = readdirSync(FIXTURE_SAMPLES, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name);
  return folders.flatMap((detector) => fixtureRecords(detector).map((r) => ({ where: `samples/${r.where}`, detector, text: r.text })));
}

const readText = (path: string) => readFileSync(path, 'utf8');

const ALL = [...vendorRecords(), ...docRecords()];

/** The canonical name fields of an alert or context event, with their path for the message. */
function nameFields(x: AlertDraft | ContextEvent): Array<[string, string | undefined]> {
  return [
    ['user.name', x.user?.name],
    ['user.domain', x.user?.domain],
    ['host.name', x.host?.name],
    ['host.id', x.host?.id],
    ['src.host', x.src?.host],
    ['src.user', x.src?.user],
    ['dst.host', x.dst?.host],
    ['dst.user', x.dst?.user],
    ['device.name', x.device?.name],
    ['file.name', x.file?.name],
    ['file.path', x.file?.path],
    ['process.name', x.process?.name],
  ];
}

/** What every alert and every context event must hold; returns the broken rules. */
function sharedProblems(x: AlertDraft | ContextEvent): string[] {
  const problems: string[] = [];
  if (typeof x.event_type !== 'string' || x.event_type.trim() === '') problems.push('no event_type');
  const ms = Date.parse(x.time);
  if (!(ms > Date.parse('1995-01-01') && ms < Date.parse('2100-01-01'))) problems.push(`time ${x.time} is not a plausible event time`);
  for (const [path, value] of nameFields(x)) {
    if (value === undefined) continue;
    if (isPlaceholderText(value)) problems.push(`${path} "${value}" is a placeholder`);
  }
  for (const [path, value] of [['host.name', x.host?.name], ['device.name', x.device?.name], ['src.host', x.src?.host], ['dst.host', x.dst?.host]] as const) {
    if (value !== undefined && canonicalIp(value)) problems.push(`${path} "${value}" is an address (it belongs in the ip beside it)`);
  }
  for (const path of ['user.name', 'src.user', 'dst.user'] as const) {
    const value = path === 'user.name' ? x.user?.name : path === 'src.user' ? x.src?.user : x.dst?.user;
    if (value !== undefined && /^[^\\@]+\\[^\\]+$/.test(value)) problems.push(`${path} "${value}" keeps its domain prefix (name and domain apart)`);
  }
  if (x.user?.email !== undefined && !x.user.email.includes('@')) problems.push(`user.email "${x.user.email}" is not an address`);
  if (x.domain !== undefined && canonicalIp(x.domain)) problems.push(`domain "${x.domain}" is an address`);
  for (const o of x.observables) {
    if (o.type === 'ip' && (o.value === '0.0.0.0' || o.value === '::')) problems.push(`observable ip ${o.value} names no machine`);
    if ((o.type === 'md5' || o.type === 'sha1' || o.type === 'sha256') && /^0+$/.test(o.value)) problems.push(`observable ${o.type} is all zeros`);
  }
  return problems;
}

function alertProblems(a: AlertDraft): string[] {
  const problems = sharedProblems(a);
  if (isPlaceholderText(a.title)) problems.push(`title "${a.title}" is a placeholder`);
  if (!Number.isInteger(a.severity) || a.severity < 0 || a.severity > 100) problems.push(`severity ${a.severity} is not 0-100`);
  if (!a.severity_label || !SEVERITY_LABELS.includes(a.severity_label) || a.severity_label !== severityLabel(a.severity)) problems.push(`severity_label ${a.severity_label} does not match ${a.severity}`);
  // The revision is the rule's version, not its identity: 1:2019284:3 names the same rule as 1:2019284:4.
  if (a.rule?.id !== undefined && /^\d+:\d+:\d+$/.test(a.rule.id)) problems.push(`rule.id "${a.rule.id}" carries a revision`);
  if (a.rule?.id !== undefined && /^1:\d+$/.test(a.rule.id)) problems.push(`rule.id "${a.rule.id}": generator 1 is the default and is left out`);
  if (a.vendor_severity && a.vendor_severity.scale.trim() === '') problems.push('vendor_severity has no scale');
  return problems;
}

/** Which canonical facts a context event of each kind must carry at least one of (its raw object is not enough). */
const FACTS_OF_KIND: Partial<Record<ContextKind, ReadonlyArray<(e: ContextEvent) => unknown>>> = {
  auth: [(e) => e.user?.name, (e) => e.user?.email, (e) => e.src?.ip, (e) => e.host?.name],
  vpn: [(e) => e.user?.name, (e) => e.assigned_ip, (e) => e.src?.ip, (e) => e.host?.name],
  dhcp: [(e) => e.assigned_ip, (e) => e.host?.mac, (e) => e.host?.name],
  flow: [(e) => e.src?.ip, (e) => e.dst?.ip],
  dns: [(e) => e.domain, (e) => e.dst?.ip, (e) => e.src?.ip],
  tls: [(e) => e.domain, (e) => e.dst?.ip, (e) => e.dst?.host],
  http: [(e) => e.url, (e) => e.domain, (e) => e.dst?.ip],
  file: [(e) => e.file?.name, (e) => e.file?.sha256, (e) => e.file?.md5, (e) => e.file?.sha1, (e) => e.file?.path],
  process: [(e) => e.process?.name, (e) => e.process?.command_line, (e) => e.host?.name],
  email: [(e) => e.email?.from, (e) => e.email?.to, (e) => e.src?.ip, (e) => e.dst?.ip],
};

function contextProblems(e: ContextEvent): string[] {
  const problems = sharedProblems(e);
  if (!CONTEXT_KINDS.includes(e.kind)) problems.push(`kind ${String(e.kind)} is not one of ${CONTEXT_KINDS.join(', ')}`);
  const facts = FACTS_OF_KIND[e.kind];
  if (facts && !facts.some((f) => f(e) !== undefined)) problems.push(`a ${e.kind} event without any of its canonical facts (only data)`);
  if (e.start && e.end && Date.parse(e.start) > Date.parse(e.end)) problems.push(`start ${e.start} after end ${e.end}`);
  if (e.assigned_ip !== undefined && !canonicalIp(e.assigned_ip)) problems.push(`assigned_ip "${e.assigned_ip}" is not an address`);
  return problems;
}

test('the fixtures cover every registered detector', () => {
  const covered = new Set(ALL.map((r) => r.detector));
  const missing = reg.list().map((d) => d.name).filter((name) => !covered.has(name));
  assert.deepEqual(missing, [], 'detectors without fixture records');
});

test('every fixture record of every detector parses and holds the shared invariants', () => {
  const failures: string[] = [];
  for (const r of ALL) {
    const result = normalizeRecord(reg, r.text, r.detector, { receivedAt: RECEIVED_AT });
    if ('error' in result) {
      failures.push(`${r.where}: not parsed: ${result.error}`);
      continue;
    }
    const problems = 'alerts' in result ? result.alerts.flatMap(alertProblems) : result.context.flatMap(contextProblems);
    for (const p of problems) failures.push(`${r.where} (${r.detector}): ${p}`);
  }
  assert.deepEqual(failures, [], `${failures.length} problems:\n${failures.join('\n')}`);
});
