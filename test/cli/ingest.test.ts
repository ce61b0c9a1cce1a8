/** `fido ingest FILE --source NAME --process`: the file goes through the intake path and the pipeline. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Sqlite from 'better-sqlite3';
import { FIDO_BIN } from '../support/fido-process.js';
import { tempDir } from '../support/stores.js';
import { SAMPLES as SAMPLES_DIR } from '../detectors/helpers.js';

test('fido ingest stores every line once, parses what it can, quarantines the rest, and decides', { timeout: 120_000 }, () => {
  const dir = tempDir('fido-ingest-');
  try {
    const eve = readFileSync(join(SAMPLES_DIR, 'suricata', 'eve_small.jsonl'), 'utf8').trim().split('\n');
    const file = join(dir, 'mixed.log');
    writeFileSync(file, [...eve, '', 'not an alert at all', eve.find((l) => l.includes('"event_type":"alert"'))!].join('\n') + '\n');
    const r = spawnSync(process.execPath, [FIDO_BIN, 'ingest', file, '--source', 'lab', '--process'], {
      encoding: 'utf8',
      env: { ...process.env, FIDO_DATA_DIR: dir, FIDO_LOG_LEVEL: 'silent' },
      timeout: 100_000,
    });
    assert.equal(r.status, 0, r.stderr);
    const records = eve.length + 2;
    assert.match(r.stdout, new RegExp(`${records} records ingested into source lab`));
    assert.match(r.stderr, /ingest: \d+ records/, 'progress is reported (plain lines when not a terminal)');

    const db = new Sqlite(join(dir, 'fido.db'), { readonly: true });
    try {
      const n = (q: string) => (db.prepare(q).get() as { n: number }).n;
      assert.equal(n("select count(*) n from intake where source = 'lab'"), records);
      assert.equal(n('select count(*) n from quarantine'), 1);
      // eve_small holds one alert; the same line again is a re-delivery (same vendor id): a duplicate of it.
      assert.equal(n('select count(*) n from alerts where duplicate_of is null'), 1);
      assert.equal(n('select count(*) n from alerts where duplicate_of is not null'), 1);
      assert.equal(n("select count(*) n from intake i where not exists (select 1 from alerts a where a.intake_id = i.id) and not exists (select 1 from context_events c where c.intake_id = i.id) and not exists (select 1 from quarantine q where q.intake_id = i.id) and i.raw <> ''"), 0, 'every non-empty record has a fate');
      assert.equal(n('select count(*) n from context_events'), eve.length - 1);
      assert.equal(n('select count(*) n from stage_queue'), 0);
      assert.equal(n('select count(*) n from incidents where decision is not null'), 1);
    } finally {
      db.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
