/**
 * A newcomer's first run, through the real CLI: `fido start` with no token configured creates an admin
 * token and prints it once with the URL; `fido demo` feeds the demo mix and receives the notifications
 * (approving an escalation delivers its webhook); incidents, scores and decisions appear; the quarantined
 * line can be replayed; a second start prints no token.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { cpSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Incident } from '../../src/model/incident.js';
import { FIDO_BIN, startFidoProcess, waitFor } from '../support/fido-process.js';
import { tempDir } from '../support/stores.js';
import { freePort } from '../support/servers.js';

/**
 * The demo configuration as shipped, in a folder of its own, with the loopback ports of its mailbox and SOAR
 * (2525 and 8780) moved to free ones: two suites running at once must not meet there.
 */
async function demoConfigOnFreePorts(dir: string): Promise<{ file: string; smtp: number; soar: number }> {
  const folder = join(dir, 'demo');
  cpSync(fileURLToPath(new URL('../../demo/', import.meta.url)), folder, { recursive: true });
  const [smtp, soar] = [await freePort(), await freePort()];
  const file = join(folder, 'fido.yaml');
  const text = readFileSync(file, 'utf8');
  const moved = text.replace(/^(\s+port: )2525$/m, `$1${smtp}`).replace('http://127.0.0.1:8780/fido', `http://127.0.0.1:${soar}/fido`);
  assert.notEqual(moved, text, 'the demo configuration names its stand-ins where this test expects them');
  writeFileSync(file, moved);
  return { file, smtp, soar };
}

test('first start prints an admin token once; fido demo yields decided incidents; quarantine replay', { timeout: 180_000 }, async () => {
  const dir = tempDir('fido-newcomer-');
  const demoConfig = await demoConfigOnFreePorts(dir);
  const env = { FIDO_DATA_DIR: join(dir, 'data'), FIDO_BOOTSTRAP_TOKEN: '', FIDO_CONFIG: demoConfig.file };
  let proc = await startFidoProcess(env);
  try {
    const m = /created\. It is shown only this once:\s+(fido_\S+)/.exec(proc.output());
    assert.ok(m, `a token is printed:\n${proc.output()}`);
    const token = m[1]!;
    const api = (path: string, init: RequestInit = {}) => fetch(`${proc.url}/api/v1${path}`, { ...init, headers: { authorization: `Bearer ${token}`, ...(init.headers ?? {}) } });

    // The web app: its address, and a first account whose password is shown once and signs in.
    assert.ok(proc.output().includes(`web app: ${proc.url}/`), `the web app's address is printed:\n${proc.output()}`);
    const account = /name: (\S+)\s+password: (\S+)/.exec(proc.output());
    assert.ok(account, `a first web account is printed:\n${proc.output()}`);
    const signIn = async () =>
      fetch(`${proc.url}/api/v1/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: account[1], password: account[2] }) });
    const first = await signIn();
    assert.equal(first.status, 200, 'the printed account signs in');
    assert.equal(((await first.json()) as { user: { role: string } }).user.role, 'admin', 'as an admin');

    // The demo stands in for the demo configuration's mailbox and SOAR (on loopback), waits for the actions
    // to settle, and with --keep stays up so that an approved action is delivered too.
    const demo = spawn(process.execPath, [FIDO_BIN, 'demo', '--url', proc.url, '--token', token, '--keep'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, FIDO_CONFIG: demoConfig.file },
    });
    let demoOut = '';
    demo.stdout.on('data', (c: Buffer) => (demoOut += c.toString()));
    demo.stderr.on('data', (c: Buffer) => (demoOut += c.toString()));
    const demoExit = new Promise<number | null>((resolve) => demo.on('exit', (code) => resolve(code)));
    try {
      await waitFor('the demo to settle', async () => (/Ctrl-C stops them/.test(demoOut) ? true : undefined), 90_000);
      assert.match(demoOut, /13 records posted/);
      assert.ok(demoOut.includes(`stand-in receiver: soc-mail (smtp://127.0.0.1:${demoConfig.smtp})`), demoOut);
      assert.match(demoOut, /delivered \(soc-mail\): e-mail to soc@demo\.example: \[Fido\] notify: /);
      assert.match(demoOut, /Delivered: [1-9]\d* e-mail\(s\), 0 webhook\(s\)\./);
      assert.match(demoOut, /action\(s\) wait for an analyst's approval/);
      const waiting = (await (await api('/actions?state=awaiting_approval')).json()) as { items: Array<{ id: string; kind: string }> };
      const hook = waiting.items.find((a) => a.kind === 'webhook');
      assert.ok(hook, "the escalation's webhook waits for approval");
      assert.equal((await api(`/actions/${hook.id}/approve`, { method: 'POST' })).status, 200);
      await waitFor('the approved webhook at the stand-in', async () => (/delivered \(soar-webhook\): webhook \/fido: escalate: .* — signature valid/.test(demoOut) ? true : undefined));
    } finally {
      demo.kill('SIGINT');
    }
    assert.equal(await demoExit, 0, demoOut);

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
    assert.equal((await signIn()).status, 200, 'the first account still signs in after a restart (and none other was made)');
    assert.equal((await api('/incidents')).status, 200, 'the first token still works after a restart');
  } finally {
    await proc.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});
