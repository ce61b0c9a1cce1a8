/** `fido start` runs the pipeline in a worker thread: a thread that cannot start stops the start, with the reason. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FIDO_BIN } from '../support/fido-process.js';
import { tempDir } from '../support/stores.js';

const demo = fileURLToPath(new URL('../../demo/', import.meta.url));

test('fido start: a pipeline thread that cannot start (a missing data file) stops the start and says why', () => {
  const dir = tempDir('fido-thread-');
  try {
    // The demo config, its data files by absolute path, with the inventory pointing nowhere.
    const config = readFileSync(join(demo, 'fido.yaml'), 'utf8')
      .replace(/file: (\S+\.(?:csv|yaml))/g, (_m, f: string) => `file: ${join(demo, f)}`)
      .replace(/file: \S*inventory\.csv/, `file: ${join(dir, 'missing-inventory.csv')}`);
    assert.match(config, /missing-inventory\.csv/);
    writeFileSync(join(dir, 'fido.yaml'), config);
    const r = spawnSync(process.execPath, [FIDO_BIN, 'start', '-c', join(dir, 'fido.yaml')], {
      encoding: 'utf8',
      timeout: 60_000,
      env: { ...process.env, FIDO_DATA_DIR: join(dir, 'data'), FIDO_PORT: '0', FIDO_LOG_LEVEL: 'silent' },
    });
    assert.equal(r.status, 1, r.stdout + r.stderr);
    assert.match(r.stderr, /pipeline thread: .*missing-inventory\.csv.*ENOENT/);
    assert.doesNotMatch(r.stdout, /Fido is running/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
