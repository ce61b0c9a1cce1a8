/**
 * Receivers under supervision (issue 19 item 7): one that cannot start (its port is taken) is reported failing and
 * retried while the others run; each one's health reaches the store, GET /receivers, /metrics and `fido receivers`;
 * a status no process refreshes any more is `unknown`. Real receivers (a file tail, a syslog listener), a real store.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import { appendFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { createReceivers } from '../../src/intake/registry.js';
import { readReceiverHealth, ReceiverSupervisor, STALE_AFTER_MS, type RunningReceiver } from '../../src/intake/health.js';
import type { SourceConfig } from '../../src/config/schema.js';
import { FIDO_BIN } from '../support/fido-process.js';
import { testApi, auth } from '../support/api.js';
import { freePort } from '../support/servers.js';
import { tempDir } from '../support/stores.js';
import { waitFor } from '../support/wait.js';

test('a receiver that cannot start is failing and retried while the others run; health in the store, the API, /metrics and fido receivers', async () => {
  const dir = tempDir('fido-health-');
  const port = await freePort();
  // Something else holds the syslog receiver's port.
  const squatter = createServer();
  await new Promise<void>((resolve) => squatter.listen(port, '127.0.0.1', resolve));
  const sources: SourceConfig[] = [
    { name: 'tail', receiver: { kind: 'file', path: join(dir, 'alerts.log'), poll_interval: '20ms' } as SourceConfig['receiver'] },
    { name: 'net', receiver: { kind: 'syslog', protocol: 'tcp', host: '127.0.0.1', port } as SourceConfig['receiver'] },
    { name: 'ids', detector: 'suricata' },
  ];
  const api = await testApi('sqlite', { sources });
  const log = pino({ level: 'silent' });
  let supervisor: ReceiverSupervisor | undefined;
  try {
    const store = api.t.store;
    const running: RunningReceiver[] = [];
    for (const s of sources) {
      const [receiver] = await createReceivers([s], { store, intake: api.intake, log, configDir: dir, owner: 'proc-a' });
      if (receiver) running.push({ source: s.name, kind: s.receiver?.kind ?? 'http', receiver });
    }
    assert.deepEqual(running.map((r) => r.source), ['tail', 'net'], 'HTTP intake has no task of its own');
    supervisor = new ReceiverSupervisor(store, running, 'proc-a', log, { reportEveryMs: 50, retryStartMs: 50 });
    await supervisor.start(); // does not throw although one receiver cannot listen

    // The file receiver runs and takes records while the syslog one is failing.
    appendFileSync(join(dir, 'alerts.log'), '{"event_type":"alert"}\n');
    await waitFor('the tailed record', async () => Number((await store.db.selectFrom('intake').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n) === 1 || undefined);
    const failing = await waitFor('the failing status in the store', async () => {
      const row = await store.db.selectFrom('receiver_status').selectAll().where('source', '=', 'net').executeTakeFirst();
      return row?.state === 'failing' ? row : undefined;
    });
    assert.match(failing.error ?? '', /cannot listen on 127\.0\.0\.1:\d+/, 'the error says why');
    assert.equal(failing.owner, 'proc-a', 'and who reported it');

    const listed = await api.app.inject({ method: 'GET', url: '/api/v1/receivers', headers: auth('viewer') });
    assert.equal(listed.statusCode, 200, listed.body);
    const byName = Object.fromEntries((listed.json() as { items: Array<{ name: string; state: string; kind: string; error: string | null }> }).items.map((r) => [r.name, r]));
    assert.deepEqual([byName.tail?.state, byName.net?.state, byName.ids?.state], ['running', 'failing', 'running'], 'each source: file running, syslog failing, HTTP intake taken here');
    assert.equal(byName.net?.kind, 'syslog', 'with its kind');
    const metrics = (await api.app.inject({ method: 'GET', url: '/metrics', headers: auth('viewer') })).body;
    assert.match(metrics, /fido_receiver_up\{source="net",kind="syslog"\} 0/, 'down in the metrics');
    assert.match(metrics, /fido_receiver_up\{source="tail",kind="file"\} 1/, 'up in the metrics');

    // From a shell: the table from the store.
    const config = join(dir, 'fido.yaml');
    writeFileSync(config, `sources:\n${sources.map((s) => `  - ${JSON.stringify(s)}`).join('\n')}\n`);
    const cli = spawnSync(process.execPath, [FIDO_BIN, 'receivers', '--config', config], { env: { ...process.env, FIDO_DATA_DIR: api.t.dataDir, FIDO_DATABASE_URL: '' }, encoding: 'utf8' });
    assert.equal(cli.status, 0, cli.stderr);
    assert.match(cli.stdout, /^SOURCE\s+KIND\s+STATE/m, cli.stdout);
    assert.match(cli.stdout, /^net\s+syslog\s+failing\s.*cannot listen/m, cli.stdout);
    assert.match(cli.stdout, /^tail\s+file\s+running/m, cli.stdout);

    // The port comes free: the retry starts it.
    await new Promise<void>((resolve) => squatter.close(() => resolve()));
    await waitFor('the syslog receiver started on a retry', async () => {
      const row = await store.db.selectFrom('receiver_status').select('state').where('source', '=', 'net').executeTakeFirst();
      return row?.state === 'running' || undefined;
    });

    // A process that stops says so; one that vanished is unknown once its status is stale.
    await supervisor.stop();
    supervisor = undefined;
    const stopped = await readReceiverHealth(store, sources, new Map(), true);
    assert.deepEqual(stopped.map((r) => r.state), ['stopped', 'stopped', 'running'], 'stopped on a clean stop');
    await store.db.updateTable('receiver_status').set({ state: 'running' }).execute();
    const later = await readReceiverHealth(store, sources, new Map(), true, Date.now() + STALE_AFTER_MS + 1000);
    assert.deepEqual(later.map((r) => r.state), ['unknown', 'unknown', 'running'], 'a running status nobody refreshed is unknown');
  } finally {
    await supervisor?.stop();
    squatter.close();
    await api.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
