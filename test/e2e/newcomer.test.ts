/**
 * A newcomer's first run, through the real CLI: `fido start` with no token configured creates an admin
 * token and prints it once with the URL; `fido demo` feeds the demo mix; incidents, scores and decisions
 * appear; the quarantined line can be replayed; a second start prints no token.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import type { Incident } from '../../src/model/incident.js';
import { FIDO_BIN, startFidoProcess, waitFor } from '../support/fido-process.js';
import { tempDir } from '../support/stores.js';

test('first start prints an admin token once; fido demo yields decided incidents; quarantine replay', { timeout: 180_000 }, async () => {
  const dir = tempDir('fido-newcomer-');
  const env = { FIDO_DATA_DIR: dir, FIDO_BOOTSTRAP_TOKEN: '' };
  let proc = await startFidoProcess(env);
  try {
    const m = /created\. It is shown only this once:\s+(fido_\S+)/.exec(proc.output());
    assert.ok(m, `a token is printed:\n${proc.output()}`);
    const token = m[1]!;
    const api = (path: string, init: RequestInit = {}) => fetch(`${proc.url}/api/v1${path}`, { ...init, headers: { authorization: `Bearer ${token}`, ...(init.headers ?? {}) } });

    const demo = spawnSync(process.execPath, [FIDO_BIN, 'demo', '--url', proc.url, '--token', token], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(demo.status, 0, demo.stderr);
    assert.match(demo.stdout, /13 records posted/);

    const incidents = await waitFor('decided demo incidents', async () => {
      const list = (await (await api('/incidents')).json()) as { items: Incident[] };
      return list.items.length >= 6 && list.items.every((i) => i.decision && i.score) ? list.items : undefined;
    });
    assert.ok(incidents.some((i) => i.decision!.outcome === 'escalate' || i.decision!.outcome === 'notify'));

    // The one line no detector knows: quarantined, counted, and replayable (here into another refusal).
    const q = (await (await api('/quarantine')).json()) as { items: Array<{ id: string; reason: string }> };
    assert.equal(q.items.length, 1);
    const metrics = await (await api('/metrics')).text();
    assert.match(metrics, /fido_quarantined_total\{source="sensors"\} 1/);
    // The pipeline runs in its own thread: /metrics merges its counters with the main thread's.
    assert.match(metrics, /fido_stage_processed_total\{stage="decide"\} [1-9]\d*/);
    assert.match(metrics, /fido_intake_alerts_total\{source="dmz-suricata"\} [1-9]\d*/);
    assert.match(metrics, /^fido_alert_decision_seconds_count [1-9]\d*/m);
    assert.equal(metrics.match(/^# TYPE fido_process_cpu_seconds_total /gm)?.length, 1, 'process metrics once');
    const replay = await api(`/quarantine/${q.items[0]!.id}/replay`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ detector: 'cef' }) });
    assert.equal(replay.status, 202);
    const again = await waitFor('the replayed record to be quarantined again', async () => {
      const r = (await (await api('/quarantine')).json()) as { items: Array<{ reason: string; detector: string | null }> };
      return r.items.length === 1 && r.items[0]!.detector === 'cef' ? r.items[0]! : undefined;
    });
    assert.match(again.reason, /CEF/i);

    await proc.kill('SIGTERM');
    proc = await startFidoProcess(env);
    assert.doesNotMatch(proc.output(), /shown only this once/);
    assert.equal((await api('/incidents')).status, 200, 'the first token still works after a restart');
  } finally {
    await proc.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});
