/**
 * Crash safety, proven: `fido start` (a real child process) is killed with SIGKILL again and again while
 * alerts pour in over HTTP and the pipeline and the action executor are busy; then it restarts and runs
 * until idle. Afterwards every 202-acknowledged record is stored exactly once, every incident is decided,
 * and every action key was delivered once.
 *
 * About "delivered once": a kill can land after the SMTP server accepted a message and before Fido recorded
 * it, so the retry sends it again. No protocol can close that window from the sender's side; what Fido
 * guarantees is that the retry carries the same key (Message-ID, Idempotency-Key), so the receiver
 * recognises it. The receivers here apply the key as real ones do, the test counts deliveries by key, and it
 * also checks that raw re-sends are rare (at most the calls in flight at each kill).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import Sqlite from 'better-sqlite3';
import { startFidoProcess, waitFor, type FidoProcess } from '../support/fido-process.js';
import { startPeers } from '../support/e2e.js';

const TOKEN = 'crash-admin-token-0123456789';
const ROUNDS = Number(process.env.FIDO_CRASH_ROUNDS ?? 6);

function alert(n: number): string {
  const host = n % 120; // 120 hosts → many incidents, several alerts each
  return JSON.stringify({
    timestamp: new Date().toISOString(),
    flow_id: 5e14 + n,
    event_type: 'alert',
    src_ip: `10.5.${host >> 8}.${host & 255}`,
    src_port: 30000 + (n % 30000),
    dest_ip: '203.0.113.7',
    dest_port: 443,
    proto: 'TCP',
    alert: { action: 'allowed', signature_id: 3000000 + (n % 3), signature: `CRASH test rule ${n % 3} #${n}`, category: 'A Network Trojan was detected', severity: 1 },
  });
}

test('SIGKILL during intake and processing loses nothing acknowledged and repeats no delivery', { timeout: 600_000 }, async () => {
  const peers = await startPeers('fido-crash-', TOKEN);
  const { dir, smtp, hook, env } = peers;
  const acked = new Set<string>();
  let next = 0;
  let proc: FidoProcess | undefined;
  try {
    for (let round = 0; round <= ROUNDS; round++) {
      proc = await startFidoProcess(env);
      const url = proc.url;
      let feeding = round < ROUNDS;
      const feeder = async () => {
        while (feeding) {
          const batch = Array.from({ length: 20 }, () => alert(next++));
          try {
            const r = await fetch(`${url}/api/v1/alerts/ids`, {
              method: 'POST',
              headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/x-ndjson' },
              body: batch.join('\n'),
            });
            if (r.status === 202) for (const id of ((await r.json()) as { ids: string[] }).ids) acked.add(id);
            else await r.text();
          } catch {
            return; // the server died mid-request: this batch was not acknowledged
          }
        }
      };
      if (round < ROUNDS) {
        const feeders = [feeder(), feeder(), feeder()];
        await new Promise((r) => setTimeout(r, 1500 + Math.floor(Math.random() * 2500)));
        await proc.kill('SIGKILL');
        feeding = false;
        await Promise.all(feeders);
      }
    }
    // The last start runs until everything acknowledged is decided and every action has finished.
    const db = () => new Sqlite(join(dir, 'fido.db'), { readonly: true });
    await waitFor(
      'the backlog to drain',
      async () => {
        const d = db();
        try {
          const queued = (d.prepare('select count(*) n from stage_queue').get() as { n: number }).n;
          const open = (d.prepare("select count(*) n from actions where state in ('pending','running')").get() as { n: number }).n;
          return queued === 0 && open === 0 ? true : undefined;
        } finally {
          d.close();
        }
      },
      300_000,
      250,
    );
    await proc!.kill('SIGTERM');

    const d = db();
    try {
      assert.ok(acked.size > 500, `enough load was acknowledged (${acked.size})`);
      const intake = new Map((d.prepare('select id, count(*) n from intake group by id').all() as { id: string; n: number }[]).map((r) => [r.id, r.n]));
      const alerts = new Map((d.prepare('select intake_id, count(*) n from alerts group by intake_id').all() as { intake_id: string; n: number }[]).map((r) => [r.intake_id, r.n]));
      const missing = [...acked].filter((id) => intake.get(id) !== 1 || alerts.get(id) !== 1);
      assert.deepEqual(missing, [], 'every acknowledged record is in the intake log and is an alert, exactly once');
      const quarantined = (d.prepare('select count(*) n from quarantine').get() as { n: number }).n;
      assert.equal(quarantined, 0);
      const undecided = (d.prepare('select count(*) n from incidents where decision is null or score is null').get() as { n: number }).n;
      assert.equal(undecided, 0, 'every incident is scored and decided');
      const unlinked = (d.prepare('select count(*) n from alerts where incident_id is null').get() as { n: number }).n;
      assert.equal(unlinked, 0, 'every alert is correlated');

      const actions = d.prepare('select kind, idempotency_key, state from actions').all() as { kind: string; idempotency_key: string; state: string }[];
      assert.ok(actions.length > 0);
      assert.deepEqual(actions.filter((a) => a.state !== 'succeeded'), []);
      const incidents = (d.prepare('select count(*) n from incidents').get() as { n: number }).n;
      assert.equal(actions.length, incidents * 2, 'one e-mail and one webhook per incident, never more');

      const mailKeys = smtp.messages.map((m) => String(m.headers.get('x-fido-idempotency-key')));
      const hookKeys = hook.received.map((r) => String(r.headers['idempotency-key']));
      const wantMail = actions.filter((a) => a.kind === 'email').map((a) => a.idempotency_key).sort();
      const wantHook = actions.filter((a) => a.kind === 'webhook').map((a) => a.idempotency_key).sort();
      assert.deepEqual([...new Set(mailKeys)].sort(), wantMail, 'each e-mail key delivered');
      assert.deepEqual([...new Set(hookKeys)].sort(), wantHook, 'each webhook key delivered');
      const resent = mailKeys.length - new Set(mailKeys).size + (hookKeys.length - new Set(hookKeys).size);
      // Each kill interrupts at most the executor's batch of in-flight calls (10).
      assert.ok(resent <= ROUNDS * 10, `re-sends after kills stay within the calls in flight (${resent})`);
      process.stdout.write(`# crash test: ${ROUNDS} kills, ${acked.size} acknowledged, ${incidents} incidents, ${actions.length} actions, ${resent} re-sends recognised by key\n`);
    } finally {
      d.close();
    }
  } finally {
    await proc?.kill('SIGKILL');
    await peers.close();
  }
});
