import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadDetectors, createRegistry, normalizeRecord, rawRecord, createNormalizer } from '../../src/detectors/lib/registry.js';
import { ParseError, type Detector } from '../../src/detectors/detector.js';
import { sampleLine } from './helpers.js';

const fake = (name: string, score: number, parse: Detector['parse'], format: Detector['format'] = 'text'): Detector => ({
  name, description: `fake ${name}`, format, sniff: () => score, parse,
});
const okAlert: Detector['parse'] = () => ({ kind: 'alerts', alerts: [{ time: '2026-01-01T00:00:00Z', title: 'x', severity: 10, observables: [] }] });

test('loadDetectors discovers the detector files (detector.ts and lib/ excluded)', async () => {
  const reg = await loadDetectors();
  const names = reg.list().map((d) => d.name);
  assert.ok(names.includes('suricata') && names.includes('cef'), names.join(','));
  assert.ok(!names.includes('detector'));
  assert.deepEqual(names, [...names].sort());
  assert.equal(reg.get('suricata')?.format, 'json');
  assert.equal(reg.get('cef')?.format, 'text');
});

test('auto-detection picks suricata for EVE and cef for CEF lines', async () => {
  const reg = await loadDetectors();
  const eve = sampleLine('suricata', 'beats_eve_alerts_selected.jsonl', 1);
  const cef = sampleLine('cef', 'trend_micro_deep_security.cef', 1);
  const d1 = reg.detect(rawRecord(eve));
  const d2 = reg.detect(rawRecord(cef));
  assert.ok('detector' in d1 && d1.detector.name === 'suricata');
  assert.ok('detector' in d2 && d2.detector.name === 'cef');
  assert.ok('detector' in reg.detect(rawRecord(`<134>Feb 13 12:00:00 dsm01 ${cef}`)));
});

test('a clear reason when nothing fits', async () => {
  const reg = await loadDetectors();
  const r1 = reg.detect(rawRecord('{"zzz_a":1,"zzz_b":2,"zzz_c":3}'));
  assert.ok('reason' in r1 && r1.reason === 'no detector recognised this JSON object (keys: zzz_a, zzz_b, zzz_c)', JSON.stringify(r1));
  const r2 = reg.detect(rawRecord('zzz hello there'));
  assert.ok('reason' in r2 && r2.reason === 'no detector recognised this text line (starts: zzz hello there)');
  const r3 = reg.parseRecord('{"broken": ', 'auto');
  assert.ok('error' in r3 && /not valid JSON/.test(r3.error), JSON.stringify(r3));
  const r4 = reg.parseRecord('[1,2]', null);
  assert.ok('error' in r4 && /JSON array/.test(r4.error));
});

test('parseRecord never throws: detector exceptions become reasons naming the detector', () => {
  const reg = createRegistry([
    fake('boom', 0.9, () => { throw new TypeError('cannot read x of undefined'); }),
    fake('strict', 0.1, () => { throw new ParseError('field y is missing'); }),
    fake('liar', 0.1, () => ({ kind: 'nonsense' }) as never),
    fake('sniffthrows', 0.1, okAlert),
  ]);
  assert.deepEqual(reg.parseRecord('x', 'auto'), { error: 'detector boom failed: TypeError: cannot read x of undefined', detector: 'boom' });
  assert.deepEqual(reg.parseRecord('x', 'strict'), { error: 'field y is missing', detector: 'strict' });
  assert.match((reg.parseRecord('x', 'liar') as { error: string }).error, /returned an outcome of unknown kind "nonsense"/);
  assert.match((reg.parseRecord('x', 'nope') as { error: string }).error, /unknown detector "nope" \(known: boom, liar, sniffthrows, strict\)/);
  const throwingSniff: Detector = { ...fake('a', 0, okAlert), sniff: () => { throw new Error('bad sniff'); } };
  assert.ok('reason' in createRegistry([throwingSniff]).detect(rawRecord('x')));
});

test('ties are broken deterministically: configured mappings first, then by name', () => {
  const a = fake('alpha', 0.9, okAlert);
  const b = fake('beta', 0.9, okAlert);
  const low = fake('aardvark', 0.4, okAlert); // below the threshold: never chosen
  for (const order of [[a, b, low], [b, low, a], [low, b, a]]) {
    const d = createRegistry(order).detect(rawRecord('x'));
    assert.ok('detector' in d && d.detector.name === 'alpha');
    const m = createRegistry(order, new Set(['beta'])).detect(rawRecord('x'));
    assert.ok('detector' in m && m.detector.name === 'beta');
  }
});

test('a json detector is not offered text, and says so when named', () => {
  const reg = createRegistry([fake('j', 1, okAlert, 'json')]);
  assert.ok('reason' in reg.detect(rawRecord('plain text')));
  assert.match((reg.parseRecord('plain text', 'j') as { error: string }).error, /^j expects JSON; input is not JSON/);
});

test('normalizeRecord finalises alerts, keeps context, refuses empty outcomes', () => {
  const reg = createRegistry([
    fake('raw', 0.9, () => ({ kind: 'alerts', alerts: [{ time: '2026-01-01T00:00:00+02:00', title: '  padded ', severity: 75, src: { ip: '::ffff:10.0.0.1' }, observables: [] }] })),
    fake('ctx', 0.1, () => ({ kind: 'context', events: [{ kind: 'flow', time: 'bad', data: {}, observables: [{ type: 'ip', value: '010.0.0.1', role: 'src' }] }] })),
    fake('empty', 0.1, () => ({ kind: 'alerts', alerts: [] })),
    fake('notitle', 0.1, () => ({ kind: 'alerts', alerts: [{ time: '2026-01-01T00:00:00Z', title: '', severity: 1, observables: [] }] })),
  ]);
  const r = normalizeRecord(reg, 'x', null);
  assert.ok('alerts' in r);
  assert.equal(r.detector, 'raw');
  assert.deepEqual(r.alerts[0], {
    time: '2025-12-31T22:00:00.000Z', title: 'padded', severity: 75, severity_label: 'high', src: { ip: '10.0.0.1' },
    observables: [{ type: 'ip', value: '10.0.0.1', role: 'src' }],
  });
  const c = normalizeRecord(reg, 'x', 'ctx', { receivedAt: '2026-05-05T05:05:05Z' });
  assert.ok('context' in c);
  assert.equal(c.context[0]!.time, '2026-05-05T05:05:05.000Z'); // unparseable event time → received time
  assert.deepEqual(c.context[0]!.observables, [{ type: 'ip', value: '10.0.0.1', role: 'src' }]);
  assert.deepEqual(normalizeRecord(reg, 'x', 'empty'), { error: 'detector empty produced nothing from this record', detector: 'empty' });
  assert.deepEqual(normalizeRecord(reg, 'x', 'notitle'), { error: 'alert has no title', detector: 'notitle' });
  assert.ok('alerts' in createNormalizer(reg).normalize('x', null));
});

test('loadDetectors fails loudly on a bad detector file, naming it', async () => {
  const cases: Array<[string, string, RegExp]> = [
    ['noexport.js', 'export const x = 1;\n', /noexport\.js: default export is not an object/],
    ['noname.js', 'export default { description: "d", format: "text", sniff() { return 0; }, parse() {} };\n', /noname\.js: default export has no valid name/],
    ['badformat.js', 'export default { name: "x", description: "d", format: "xml", sniff() { return 0; }, parse() {} };\n', /format xml/],
    ['noparse.js', 'export default { name: "x", description: "d", format: "text", sniff() { return 0; } };\n', /has no parse\(\)/],
    ['syntax.js', 'export default {\n', /syntax\.js failed to load/],
  ];
  for (const [file, body, re] of cases) {
    const dir = mkdtempSync(join(tmpdir(), 'fido-det-'));
    try {
      writeFileSync(join(dir, file), body);
      writeFileSync(join(dir, 'detector.js'), 'this file is skipped, whatever it holds');
      await assert.rejects(loadDetectors({ dir }), re, file);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  const dir = mkdtempSync(join(tmpdir(), 'fido-det-'));
  try {
    const ok = 'export default { name: "same", description: "d", format: "text", sniff() { return 0; }, parse() { return { kind: "alerts", alerts: [] }; } };\n';
    writeFileSync(join(dir, 'a.js'), ok);
    writeFileSync(join(dir, 'b.js'), ok);
    await assert.rejects(loadDetectors({ dir }), /b\.js: name "same" is already used by a\.js/);
    rmSync(join(dir, 'b.js'));
    const reg = await loadDetectors({ dir });
    assert.deepEqual(reg.list().map((d) => d.name), ['same']);
    await assert.rejects(loadDetectors({ dir, jsonMappings: [{ name: 'same', fields: { title: 'x' } }] }), /"same": a detector with that name already exists/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
