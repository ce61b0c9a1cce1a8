/**
 * Exactly once, proven for every action kind: a real `fido start` (a child process) whose one policy rule
 * queues an action on every configured target for each incident — containment on contract stand-ins (Okta,
 * Entra ID, Falcon, SentinelOne, Defender, PAN-OS, FortiGate), a real program, a real slapd, real nftables in a
 * network namespace, a real OpenVPN server, and tickets and pages on stand-ins (ServiceNow, Jira, PagerDuty);
 * test/support/action-crash.ts, one entry per kind — is killed with SIGKILL again and again while those calls
 * are in flight (each kill waits until some call has been applied and not yet answered), and restarted until
 * every action is done. Then, per kind: every action succeeded (none lost), each object was changed exactly
 * once (a host isolated once, a user suspended once, an address blocked once, one ticket per incident, one
 * PagerDuty alert per dedup key), repeats of raw calls are counted and printed (allowed: the earlier one
 * changed nothing or was recognised by its key), and the store's attempt records show each kill that cut an
 * applied call as an abandoned attempt, followed by a reconcile that settled the action where the kind's
 * reconcile can see the effect. Kinds that record the object's state before they act keep it through the kills
 * (a checkpoint committed before the call: ActionContext.checkpoint), and a false positive's undo then gives
 * back exactly what Fido took: each user re-enabled, each host released, once.
 *
 * The executor's lease is 60 s (actions/wiring.ts); a call cut off by a kill waits that long before any
 * executor takes it again. Between a kill and the restart, with no process running, the test sets the
 * leases of the rows left `running` to have ended, as 60 s of waiting would: the rest is the code as it runs.
 * The first process runs every role (intake, pipeline, executor); restarts run FIDO_ROLE=actions, which
 * starts in a third of the time. The seed (FIDO_TEST_SEED) repeats when the kills fall and the stand-ins'
 * delays, not the interleaving of the calls.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Sqlite from 'better-sqlite3';
import { startFidoProcess, waitFor, type FidoProcess } from '../support/fido-process.js';
import { FIXTURES, subjects, type KindFixture } from '../support/action-crash.js';
import { seededRandom, testSeed } from '../support/random.js';
import { tempDir } from '../support/stores.js';
import { openStore } from '../../src/store/store.js';
import { undoAction } from '../../src/actions/undo.js';

const TOKEN = 'actions-crash-admin-token-0123456789';
const INCIDENTS = 6;
const ROUNDS = Number(process.env.FIDO_ACTIONS_CRASH_ROUNDS ?? 7);

function config(fixtures: KindFixture[]): string {
  return `
server: { host: 127.0.0.1, port: 0 }
sources:
  - { name: crash, detector: crash-edr }
detectors:
  json:
    - name: crash-edr
      fields: { title: title, time: time, host.name: host, user.name: user, src.ip: src, dst.ip: dst }
correlation: { dedup_window: 10m, group_window: 2h }
policy:
  rules:
    - name: contain-everything
      when: "true"
      outcome: respond
      approval: auto
      then: [${fixtures.map((f) => `{ action: ${f.name} }`).join(', ')}]
actions:
  max_attempts: 30
  backoff_base: 50ms
  backoff_max: 300ms
  targets:
${fixtures.map((f) => `    - ${f.yaml}`).join('\n')}
pipeline: { warm_up: false }
`;
}

test('SIGKILL while containment calls are in flight: every action of every kind takes effect exactly once', { timeout: 300_000 }, async (t) => {
  const seed = testSeed();
  const t0 = Date.now();
  const mark = (what: string) => process.stdout.write(`# ${((Date.now() - t0) / 1000).toFixed(1)}s ${what}\n`);
  const random = seededRandom(seed);
  t.diagnostic(`seed ${seed}`);
  const dir = tempDir('fido-actions-crash-');
  const subs = subjects(INCIDENTS);
  const fixtures: KindFixture[] = [];
  let proc: FidoProcess | undefined;
  try {
    // Set up side by side (slapd, OpenVPN, namespaces take a while each); failures after some were made still close them.
    const made = await Promise.allSettled(FIXTURES.map((make) => make({ dir, subjects: subs, random })));
    for (const m of made) {
      if (m.status === 'rejected') continue;
      if ('skipped' in m.value) t.diagnostic(`a kind is left out: ${m.value.skipped}`);
      else fixtures.push(m.value);
    }
    const failed = made.find((m) => m.status === 'rejected');
    if (failed) throw failed.reason;
    // The executor works the outbox in order and the kills fall in its first part: the kinds' order in the
    // rule (and so in the outbox) is drawn from the seed, so that every kind gets its share of kills over runs.
    for (let i = fixtures.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [fixtures[i], fixtures[j]] = [fixtures[j]!, fixtures[i]!];
    }
    const file = join(dir, 'fido.yaml');
    writeFileSync(file, config(fixtures));
    const env = { FIDO_CONFIG: file, FIDO_DATA_DIR: dir, FIDO_BOOTSTRAP_TOKEN: TOKEN, ...Object.assign({}, ...fixtures.map((f) => f.env)) } as Record<string, string>;
    const dbFile = join(dir, 'fido.db');
    const read = <T>(q: string): T[] => {
      const d = new Sqlite(dbFile, { readonly: true });
      try {
        return d.prepare(q).all() as T[];
      } finally {
        d.close();
      }
    };
    const open = () => read<{ n: number }>("select count(*) n from actions where state in ('pending','running')")[0]!.n;
    const want = INCIDENTS * fixtures.length;

    mark('fixtures ready');
    proc = await startFidoProcess(env);
    mark('started');
    const now = new Date().toISOString();
    const body = subs.map((s, i) => JSON.stringify({ title: `crash incident ${i}`, time: now, host: s.host, user: s.user, src: s.src, dst: s.dst })).join('\n');
    const r = await fetch(`${proc.url}/api/v1/alerts/crash`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/x-ndjson' }, body });
    assert.equal(r.status, 202, await r.text());
    await waitFor('every action to be queued', () => read<{ n: number }>('select count(*) n from actions')[0]!.n >= want, 30_000, 50);
    mark('queued');

    const kills: { round: number; inFlight: { kind: string; effect: string }[] }[] = [];
    for (let round = 1; round <= ROUNDS; round++) {
      // Kill at a point drawn from the seed, once a state-changing call has been applied and not answered (or
      // soon after, when none comes).
      await new Promise((r) => setTimeout(r, Math.floor(random() * 1000)));
      const deadline = Date.now() + 3_000;
      while (Date.now() < deadline && !fixtures.some((f) => f.inFlight().length > 0)) await new Promise((r) => setTimeout(r, 5));
      await new Promise((r) => setTimeout(r, Math.floor(random() * 60)));
      const inFlight = fixtures.flatMap((f) => f.inFlight().map((effect) => ({ kind: f.kind, effect })));
      await proc.kill('SIGKILL');
      kills.push({ round, inFlight });
      mark(`kill ${round}: ${inFlight.map((x) => `${x.kind} ${x.effect}`).join(', ')}; open ${open()}`);
      // What 60 s of waiting would do: the dead process's claims run out (see the header).
      const d = new Sqlite(dbFile);
      try {
        d.prepare("update actions set lease_until = 0 where state = 'running'").run();
      } finally {
        d.close();
      }
      // Restarts run the executor alone (FIDO_ROLE=actions): what is left is the actions, and it starts in a
      // third of the time `all` takes, so more kills fit the suite's time.
      proc = await startFidoProcess({ ...env, FIDO_ROLE: 'actions' });
      if (open() === 0) break;
    }
    mark('last start');
    await waitFor('every action to finish', () => open() === 0, 60_000, 50);
    mark('all done');

    const actions = read<{ id: string; kind: string; idempotency_key: string; incident_id: string; state: string; result: string | null; last_error: string | null }>(
      'select id, kind, idempotency_key, incident_id, state, result, last_error from actions',
    );
    const attempts = read<{ action_id: string; attempt: number; outcome: string | null }>('select action_id, attempt, outcome from action_attempts');
    const incidents = read<{ id: string; host: string }>('select id, host from incidents');
    assert.equal(incidents.length, INCIDENTS, 'one incident per subject');
    assert.deepEqual(actions.filter((a) => a.state !== 'succeeded').map((a) => `${a.kind} ${a.state}: ${a.last_error}`), [], 'every action succeeded');
    assert.equal(actions.length, want, 'one action per incident and target, never more');

    const lines: string[] = [];
    let abandonedTotal = 0;
    let reconciledTotal = 0;
    for (const f of fixtures) {
      const mine = actions.filter((a) => a.kind === f.kind);
      assert.equal(mine.length, INCIDENTS, `${f.kind}: one action per incident`);
      const expectedOf = new Map(
        mine.map((a) => {
          const host = incidents.find((i) => i.id === a.incident_id)!.host;
          const i = subs.findIndex((s) => s.host === host);
          return [f.expected(subs[i]!, i, { key: a.idempotency_key, incident: a.incident_id }), a] as const;
        }),
      );
      const expected = [...expectedOf.keys()];
      const effects = f.effects(incidents.map((i) => i.id));
      assert.deepEqual([...effects].sort(), [...expected].sort(), `${f.kind}: each object changed exactly once`);
      const raw = f.raw();
      const repeats = raw.length - new Set(raw).size;
      const ids = new Set(mine.map((a) => a.id));
      const abandoned = attempts.filter((x) => ids.has(x.action_id) && x.outcome === 'abandoned').length;
      const reconciled = mine.filter((a) => (JSON.parse(a.result ?? '{}') as { reconciled?: boolean }).reconciled === true).length;
      abandonedTotal += abandoned;
      reconciledTotal += reconciled;
      if (!f.reconciles) assert.equal(reconciled, 0, `${f.kind} has no reconcile`);
      // Where a kill cut a call that had been applied, the store shows the attempt abandoned and, when the
      // kind's reconcile can see that effect, the action settled by asking the target instead of acting again.
      for (const cut of kills.flatMap((k) => k.inFlight.filter((x) => x.kind === f.kind))) {
        const a = expectedOf.get(cut.effect);
        assert.ok(a, `${f.kind}: the call in flight (${cut.effect}) belongs to an action`);
        assert.ok(attempts.some((x) => x.action_id === a.id && x.outcome === 'abandoned'), `${f.kind}: ${cut.effect} cut by a kill shows as an abandoned attempt`);
        if (f.reconcileSeesEffect) assert.equal((JSON.parse(a.result ?? '{}') as { reconciled?: boolean }).reconciled, true, `${f.kind}: ${cut.effect} settled by reconcile`);
      }
      // Kinds that record the state before they acted (for a faithful undo) keep it through a cut call: every
      // subject was unchanged before Fido, whatever the retry or reconcile found afterwards.
      if (f.prior) {
        const { key, value } = f.prior;
        const lost = mine.filter((a) => (JSON.parse(a.result ?? '{}') as Record<string, unknown>)[key] !== value).map((a) => `${a.id}: ${a.result}`);
        assert.deepEqual(lost, [], `${f.kind}: every result keeps the state before Fido acted (${key}: ${JSON.stringify(value)})`);
      }
      lines.push(`${f.kind}: ${effects.length} effects, ${raw.length} raw calls (${repeats} repeats), ${abandoned} attempts cut by a kill, ${reconciled} settled by reconcile`);
    }
    // Each kill left at least one attempt open (it waited for a call in flight), which the next start found.
    const landed = kills.filter((k) => k.inFlight.length > 0).length;
    assert.ok(abandonedTotal >= landed, `kills that cut applied calls (${landed}) show as abandoned attempts (${abandonedTotal})`);
    assert.ok(landed > 0 && abandonedTotal > 0, 'kills landed while calls were in flight');

    // A false positive after it all: undo every action of the kinds that record the state before, through the
    // running executor; each gives back exactly what Fido changed (no more: nothing was changed before Fido).
    const undoable = fixtures.filter((f) => f.prior);
    const ids = incidents.map((i) => i.id);
    const effectsBefore = new Map(undoable.map((f) => [f.kind, [...f.effects(ids)]]));
    const store = await openStore({ dataDir: dir });
    try {
      for (const a of actions.filter((x) => undoable.some((f) => f.kind === x.kind))) await undoAction(store, a.id, { actor: 'crash-test', why: 'false positive' });
    } finally {
      await store.close();
    }
    await waitFor('every undo to finish', () => open() === 0, 30_000, 50);
    mark('undone');
    const undos = read<{ kind: string; state: string; result: string | null; last_error: string | null }>('select kind, state, result, last_error from actions where undo_of is not null');
    assert.equal(undos.length, undoable.length * INCIDENTS, 'one undo per action');
    assert.deepEqual(undos.filter((u) => u.state !== 'succeeded').map((u) => `${u.kind} ${u.state}: ${u.last_error}`), [], 'every undo succeeded');
    for (const f of undoable) {
      if (f.reverse) {
        const want = [...effectsBefore.get(f.kind)!, ...subs.map((x, i) => f.reverse!(x, i))].sort();
        assert.deepEqual([...f.effects(ids)].sort(), want, `${f.kind}: the undo reverted each change once, and only Fido's`);
      }
      if (f.stillChanged) assert.deepEqual(f.stillChanged(), [], `${f.kind}: nothing left changed after the undo`);
    }
    await proc.kill('SIGTERM');

    t.diagnostic(
      `actions crash test (seed ${seed}): ${kills.length} kills (${landed} with an applied call unanswered: ${kills.map((k) => k.inFlight.length).join(',')}), ` +
        `${INCIDENTS} incidents × ${fixtures.length} kinds = ${actions.length} actions, ${abandonedTotal} attempts cut, ${reconciledTotal} settled by reconcile\n${lines.join('\n')}`,
    );
  } finally {
    await proc?.kill('SIGKILL');
    for (const f of fixtures) await f.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
