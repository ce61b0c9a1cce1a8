import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { FIXTURE_SAMPLES, fixtureRecords } from './helpers.js';
import { normalizeRecord } from '../../src/detectors/lib/registry.js';
import { RECEIVED_AT, registry } from './json-detector-helpers.js';

const reg = await registry();

test('test/fixtures/samples: one folder per registered detector, and each of its records is auto-detected and parsed by it', () => {
  const folders = readdirSync(FIXTURE_SAMPLES, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name);
  assert.ok(folders.length >= 13, folders.join(', '));
  for (const detector of folders) {
    assert.ok(reg.get(detector), `test/fixtures/samples/${detector}: no detector of that name`);
    const records = fixtureRecords(detector);
    assert.ok(records.length > 0, `test/fixtures/samples/${detector} holds no record`);
    for (const { where, text } of records) {
      for (const hint of ['auto', detector]) {
        const r = normalizeRecord(reg, text, hint, { receivedAt: RECEIVED_AT });
        assert.ok(!('error' in r), `${where} (${hint}): ${JSON.stringify(r)}`);
        assert.equal(r.detector, detector, where);
      }
    }
  }
});
