/**
 * The okta puller (pull receiver, vendor okta) against a local server that speaks the System Log API as Okta
 * documents it: since + ASCENDING, limit, the after of the next link, SSWS tokens, 429 with X-Rate-Limit-Reset.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { oktaLogServer } from '../../support/contracts/okta_logs.js';
import { waitState, withPullRig } from '../../support/pull.js';
import { readCursorValue } from '../../../src/store/cursors.js';
import { createReceivers } from '../../../src/intake/registry.js';
import { pino } from 'pino';
import type { Logger } from '../../../src/util/log.js';

const TOKEN = 'okta-test-token-8d1f0c2b';
process.env['FIDO_TEST_OKTA_TOKEN'] = TOKEN;
const entry = (url: string, more: Record<string, unknown> = {}) => ({ vendor: 'okta', url, api_token: '${env:FIDO_TEST_OKTA_TOKEN}', page_size: 4, ...more });
const uuids = (records: unknown[]) => records.map((r) => (r as { uuid: string }).uuid);
const range = (a: number, b: number) => Array.from({ length: b - a + 1 }, (_, i) => `ev-${a + i}`);

test('okta: events since the start arrive once, in order, page by page; polling continues with the next link', async () => {
  const okta = await oktaLogServer({ token: TOKEN });
  try {
    okta.add(1, 10);
    await withPullRig(async ({ receiver, waitRecords, intake }) => {
      const r = await receiver(entry(okta.url));
      assert.deepEqual(uuids(await waitRecords(10)), range(1, 10), 'every event once, oldest first');
      assert.ok(intake.batchSizes.filter((n) => n > 0).every((n) => n <= 4), `pages of at most page_size: ${intake.batchSizes}`);
      okta.add(11, 13);
      assert.deepEqual(uuids(await waitRecords(13)), range(1, 13), 'later events are polled from where the last page ended');
      const first = okta.requests[0]!;
      assert.equal(first.query.get('sortOrder'), 'ASCENDING');
      assert.equal(first.query.get('limit'), '4');
      const since = Date.parse(first.query.get('since') ?? '');
      assert.ok(Math.abs(Date.now() - 24 * 3600_000 - since) < 600_000, 'a first run starts 24 h back');
      assert.ok(okta.requests.slice(1).every((q) => q.query.get('after') !== null), 'then it follows the next links');
      assert.ok(okta.requests.every((q) => !q.query.toString().includes(TOKEN) && q.headers.authorization === `SSWS ${TOKEN}`), 'the token goes in the header only');
      const s = await waitState(r, 'caught up', (x) => x.records === 13 && x.lag_ms === 0);
      assert.equal(s.state, 'running');
      assert.match(s.cursor ?? '', /^1700000000000_13$/, 'the cursor is the after position');
    });
  } finally {
    await okta.close();
  }
});

test('okta: a crash right after a page is committed resumes after that page: every event once', async () => {
  const okta = await oktaLogServer({ token: TOKEN });
  try {
    okta.add(1, 11);
    await withPullRig(async ({ receiver, waitRecords, intake, store, stop }) => {
      intake.crashAfter = 2; // the second page commits, then the process "dies" before it learns so
      const first = await receiver(entry(okta.url));
      await waitRecords(8);
      intake.releaseCrash();
      await stop(first);
      const stored = JSON.parse((await readCursorValue(store.store.db, 'pull:api', 'position'))!) as { next: string };
      assert.equal(new URLSearchParams(stored.next).get('after'), '1700000000000_8', 'the committed cursor is the one of the committed page');
      await receiver(entry(okta.url));
      assert.deepEqual(uuids(await waitRecords(11)), range(1, 11), 'nothing missed, nothing twice');
    });
  } finally {
    await okta.close();
  }
});

test('okta: a 429 waits until X-Rate-Limit-Reset and goes on; nothing is lost', async () => {
  const okta = await oktaLogServer({ token: TOKEN, rateLimited: [1, 2] });
  try {
    okta.add(1, 9);
    await withPullRig(async ({ receiver, waitRecords, logs }) => {
      const r = await receiver(entry(okta.url));
      const failing = await waitState(r, 'rate limited', (x) => x.state === 'failing');
      assert.match(failing.error ?? '', /429/, `the status says why: ${failing.error}`);
      assert.deepEqual(uuids(await waitRecords(9)), range(1, 9));
      const waited = logs.map((l) => JSON.parse(l) as { retry_in_ms?: number; msg: string }).filter((l) => l.msg === 'pull receiver failed; retrying');
      assert.ok(waited.length >= 1 && waited.every((l) => (l.retry_in_ms ?? 0) > 20), `it waited as Okta said, not its 20 ms interval: ${waited.map((l) => l.retry_in_ms)}`);
      await waitState(r, 'running again', (x) => x.state === 'running' && x.error === null);
    });
  } finally {
    await okta.close();
  }
});

test('okta: a refused token is a clear failing status, retried, and never shows the token', async () => {
  const okta = await oktaLogServer({ token: 'another-token-entirely' });
  try {
    okta.add(1, 3);
    await withPullRig(async ({ receiver, logs, intake }) => {
      const r = await receiver(entry(okta.url));
      const s = await waitState(r, 'failing', (x) => x.state === 'failing' && okta.requests.length >= 2);
      assert.match(s.error ?? '', /401/, s.error ?? '');
      assert.equal(intake.committed.length, 0);
      assert.ok(!JSON.stringify(s).includes(TOKEN) && !logs.join('\n').includes(TOKEN), 'the token is in neither the status nor the log');
    });
  } finally {
    await okta.close();
  }
});

test('okta: a next link to another origin is refused; the cursor does not move', async () => {
  const okta = await oktaLogServer({
    token: TOKEN,
    override: (r) => (r.path === '/api/v1/logs' ? { headers: { link: '<https://attacker.example/api/v1/logs?after=1>; rel="next"' }, json: [] } : undefined),
  });
  try {
    await withPullRig(async ({ receiver, store }) => {
      const r = await receiver(entry(okta.url));
      const s = await waitState(r, 'failing', (x) => x.state === 'failing');
      assert.match(s.error ?? '', /points elsewhere/);
      assert.equal(await readCursorValue(store.store.db, 'pull:api', 'position'), undefined, 'no cursor was committed');
    });
  } finally {
    await okta.close();
  }
});

test('pull config: unknown vendor, missing credentials and private URLs are refused with the key named', async () => {
  const log = pino({ level: 'silent' }) as unknown as Logger;
  const build = (receiver: Record<string, unknown>) =>
    createReceivers([{ name: 'api', receiver: { kind: 'pull', ...receiver } } as never], { store: null as never, intake: null as never, log, configDir: '/tmp', owner: 'x' });
  await assert.rejects(build({ vendor: 'nope', url: 'https://x.example' }), /sources\.api\.receiver\.vendor: unknown vendor "nope" \(known: .*okta/);
  await assert.rejects(build({ vendor: 'okta', url: 'https://x.okta.example' }), /sources\.api\.receiver.*api_token/);
  await assert.rejects(build({ vendor: 'okta', url: 'http://127.0.0.1:1', api_token: '${env:FIDO_TEST_OKTA_TOKEN}' }), /sources\.api\.receiver\.url: .*(private|loopback)/i);
  await assert.rejects(build({ vendor: 'okta', api_token: '${env:FIDO_TEST_OKTA_TOKEN}' }), /sources\.api\.receiver\.url: is required for vendor okta/);
  await assert.rejects(build({ vendor: 'okta', url: 'https://x.okta.example', api_token: 't', interval: 'soon' }), /sources\.api\.receiver\.interval/);
});
