/**
 * What a new user meets at the edges of the CLI, through the real `fido` binary: a port in use or an unusable
 * token ends `fido start` with a message and a non-zero exit; `fido --version` answers; `fido lookup` does
 * not create a data directory.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { FIDO_BIN } from '../support/fido-process.js';
import { tempDir } from '../support/stores.js';

/** Runs `fido …` to its end (a bound that only catches a hang) and returns its exit code and output. */
function fido(args: string[], env: Record<string, string>, timeoutMs = 120_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [FIDO_BIN, ...args], { env: { ...process.env, FIDO_LOG_LEVEL: 'warn', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`fido ${args.join(' ')} still running after ${timeoutMs} ms:\n${stdout}${stderr}`));
    }, timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

test('fido start on a port already in use ends with exit code 1 and says so, instead of running without its API', { timeout: 180_000 }, async () => {
  const taken = createServer();
  await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
  const port = (taken.address() as AddressInfo).port;
  const dir = tempDir('fido-port-');
  try {
    const r = await fido(['start'], { FIDO_DATA_DIR: dir, FIDO_PORT: String(port), FIDO_BOOTSTRAP_TOKEN: 'a-token-long-enough-0001' });
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stderr, new RegExp(`fido start: cannot listen on 127\\.0\\.0\\.1:${port}: the address is already in use`));
    assert.doesNotMatch(r.stdout, /Fido is running/);
  } finally {
    taken.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a FIDO_BOOTSTRAP_TOKEN that no request could present is refused at start, by name and not by value, before anything is created', { timeout: 120_000 }, async () => {
  const dir = join(tempDir('fido-token-'), 'data');
  try {
    const short = await fido(['start'], { FIDO_DATA_DIR: dir, FIDO_PORT: '0', FIDO_BOOTSTRAP_TOKEN: 'abc123' });
    assert.equal(short.code, 1, short.stdout + short.stderr);
    assert.match(short.stderr, /fido start: FIDO_BOOTSTRAP_TOKEN: a token must be 10 to 200 characters long \(this one has 6\)/);
    assert.doesNotMatch(short.stderr + short.stdout, /abc123/);
    const spaced = await fido(['start'], { FIDO_DATA_DIR: dir, FIDO_PORT: '0', FIDO_BOOTSTRAP_TOKEN: 'my secret token phrase' });
    assert.equal(spaced.code, 1);
    assert.match(spaced.stderr, /FIDO_BOOTSTRAP_TOKEN: a token cannot contain white space/);
    assert.equal(existsSync(dir), false, 'no data directory was created');
  } finally {
    rmSync(join(dir, '..'), { recursive: true, force: true });
  }
});

test('fido --version prints the version of the package', async () => {
  const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  for (const flag of ['--version', '-V']) {
    const r = await fido([flag], {});
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), version);
  }
});

test('fido lookup answers without creating a data directory', { timeout: 120_000 }, async () => {
  const dir = join(tempDir('fido-lookup-'), 'data');
  try {
    const r = await fido(['lookup', '10.20.1.5'], { FIDO_DATA_DIR: dir });
    assert.equal(r.code, 0, r.stderr);
    const answers = JSON.parse(r.stdout) as Array<{ provider: string }>;
    assert.ok(answers.length > 0, r.stdout);
    assert.equal(existsSync(dir), false, 'no data directory was created');
  } finally {
    rmSync(join(dir, '..'), { recursive: true, force: true });
  }
});
