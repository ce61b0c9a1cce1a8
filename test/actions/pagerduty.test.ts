/**
 * pagerduty against a local stand-in for PagerDuty's Events API v2 that holds alerts by dedup_key
 * (test/support/contracts/pagerduty.ts), written after:
 *   https://developer.pagerduty.com/docs/events-api-v2/overview/        (202 / 400 invalid event / 429 / 5xx)
 *   https://developer.pagerduty.com/docs/events-api-v2/trigger-events/  (payload: summary ≤ 1024, source, severity)
 *   https://developer.pagerduty.com/docs/events-api-v2/resolve-events/  (resolve by dedup_key)
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import pagerduty, { PD_SEVERITY, triggerEvent, type PagerDutyConfig, type PagerDutyResult } from '../../src/actions/kinds/pagerduty.js';
import type { ActionContext, ActionTarget, FollowContext } from '../../src/actions/action.js';
import { summarizeIncident } from '../../src/actions/kinds/lib/incident-summary.js';
import { closeOnVerdict } from '../../src/actions/follow.js';
import { entryProblem } from '../../src/component/instantiate.js';
import type { AnyComponent, ComponentEntry } from '../../src/component/component.js';
import type { ContractServer } from '../support/contract.js';
import { pagerDutyStandIn } from '../support/contracts/pagerduty.js';
import { openTestStore } from '../support/stores.js';
import { waitFor } from '../support/wait.js';
import { actionRow, insertAction, sampleIncident, SCORE, seedIncident, HOSTILE_TITLE } from './fixtures.js';
import { actionCtx, refused, testExecutor } from './support.js';

const DEPS = { configDir: '.', publicUrl: 'http://fido.test/' };

function ctx(incidentId = 'INC1', o: { score?: number | null; signal?: AbortSignal; title?: string } = {}): ActionContext {
  const incident = sampleIncident(incidentId);
  if (o.score !== undefined) incident.score = o.score === null ? null : { ...SCORE, total: o.score };
  if (o.title !== undefined) incident.title = o.title;
  return actionCtx('pagerduty', 'oncall', incident, o.signal ? { signal: o.signal } : {});
}

function followCtx(c: ActionContext, event: 'update' | 'close', originalResult: Record<string, unknown>): FollowContext {
  return { ...c, event, original: c.action, originalResult, ...(event === 'close' ? { verdict: { verdict: 'true_positive', by: 'analyst' } } : {}) };
}

describe('pagerduty', () => {
  const pd = pagerDutyStandIn();
  process.env.FIDO_TEST_PD_ROUTING_KEY = pd.routingKey;
  let server: ContractServer & { eventsUrl: string };
  const targets: ActionTarget[] = [];
  before(async () => {
    server = await pd.start();
  });
  after(async () => {
    for (const t of targets) await t.close?.();
    await server.close();
  });

  async function target(over: Partial<PagerDutyConfig> = {}): Promise<ActionTarget> {
    const t = await pagerduty.create({ name: 'oncall', kind: 'pagerduty', routing_key: '${env:FIDO_TEST_PD_ROUTING_KEY}', events_url: server.eventsUrl, allow_private: true, ...over }, DEPS);
    targets.push(t);
    return t;
  }
  /** No message, result or request path carries the routing key. */
  const noKey = (text: string) => assert.ok(!text.includes(pd.routingKey), `routing key leaked: ${text}`);

  test('schema and check: the events URL passes the outbound guard', () => {
    const base = { name: 'oncall', kind: 'pagerduty', routing_key: '${env:PD}' };
    const problem = (over: Record<string, unknown>) => entryProblem(pagerduty as unknown as AnyComponent, { ...base, ...over } as ComponentEntry, 'actions.targets.oncall');
    assert.equal(problem({}), null);
    assert.match(problem({ events_url: 'http://127.0.0.1:9/v2/enqueue' }) ?? '', /^actions\.targets\.oncall\.events_url: /);
    assert.equal(problem({ events_url: 'http://127.0.0.1:9/v2/enqueue', allow_private: true }), null);
    assert.match(problem({ routing_key: '' }) ?? '', /routing_key/);
    assert.match(problem({ severity: 'x' }) ?? '', /actions\.targets\.oncall/);
  });

  test('trigger: one alert per incident, with the documented fields; a re-trigger lands on the same alert', async () => {
    const t = await target();
    const r = (await t.execute(ctx('INC-T1'))).detail as PagerDutyResult;
    assert.deepEqual(r, { dedup_key: 'fido-INC-T1', event_action: 'trigger', status: 202, message: 'Event processed', severity: 'error' });
    const alert = pd.alerts.get('fido-INC-T1')!;
    assert.equal(alert.status, 'triggered');
    const sent = pd.events.at(-1)!;
    assert.equal(sent.routing_key, pd.routingKey);
    assert.equal(sent.client, 'Fido');
    assert.equal(sent.client_url, 'http://fido.test');
    assert.deepEqual(sent.links, [{ href: 'http://fido.test/api/v1/incidents/INC-T1', text: 'Incident INC-T1 in Fido' }]);
    const p = alert.payload as Record<string, unknown> & { custom_details: Record<string, unknown> };
    // The hostile title is data in JSON, sent verbatim (PagerDuty renders it as text).
    assert.equal(p.summary, `Fido high (score 85): Beacon from ws-042: ${HOSTILE_TITLE}`);
    assert.equal(p.source, 'ws-042');
    assert.equal(p.severity, 'error');
    assert.equal(p.timestamp, '2026-11-27T12:05:00.000Z');
    assert.equal(p.component, 'suricata');
    assert.equal(p.group, 'default');
    assert.equal(p.class, 'notify-high');
    assert.equal(p.custom_details.score, 85);
    assert.deepEqual(p.custom_details.decision, { outcome: 'notify', rule: 'notify-high' });
    assert.deepEqual((p.custom_details.factors as { factor: string }[]).map((f) => f.factor), ['threat.intel', 'asset.criticality', 'user.privileged']);
    assert.deepEqual(p.custom_details.indicators, ['ip:203.0.113.7', 'domain:evil.example', 'url:http://evil.example/a?x=<b>&y="1"']);
    // Sent again (a retry after a crash): PagerDuty's dedup makes it the same alert.
    await t.execute(ctx('INC-T1'));
    assert.equal(pd.alerts.get('fido-INC-T1')!.triggers, 2);
    assert.equal([...pd.alerts.keys()].filter((k) => k === 'fido-INC-T1').length, 1);
    assert.equal(pd.closed.length, 0);
    noKey(JSON.stringify(r));
    for (const q of server.requests) noKey(`${q.path}?${q.query.toString()} ${JSON.stringify(q.headers)}`);
  });

  test('follow: update triggers again with the dedup key; close resolves it; resolving twice is fine', async () => {
    const t = await target();
    const c = ctx('INC-F1');
    const r = (await t.execute(c)).detail as PagerDutyResult;
    const opened = pd.counters.opened;
    const up = await t.follow!(followCtx(ctx('INC-F1', { score: 95 }), 'update', r));
    assert.equal((up.detail as PagerDutyResult).severity, 'critical');
    const alert = pd.alerts.get('fido-INC-F1')!;
    assert.equal(alert.triggers, 2);
    assert.equal(alert.payload.severity, 'critical');
    assert.equal(pd.counters.opened, opened, 'an update opens no alert');
    const closed = await t.follow!(followCtx(c, 'close', r));
    assert.deepEqual(closed.detail, { dedup_key: 'fido-INC-F1', event_action: 'resolve', status: 202, message: 'Event processed' });
    assert.equal(pd.alerts.get('fido-INC-F1')!.status, 'resolved');
    const resolves = pd.counters.resolve;
    await t.follow!(followCtx(c, 'close', r));
    assert.equal(pd.counters.resolve, resolves + 1);
    assert.equal(pd.alerts.get('fido-INC-F1')!.status, 'resolved');
    // A follow-up whose original recorded no key (an older row) derives the same one.
    await t.follow!(followCtx(ctx('INC-F1'), 'close', {}));
    assert.deepEqual(pd.events.at(-1), { routing_key: pd.routingKey, event_action: 'resolve', dedup_key: 'fido-INC-F1' });
  });

  test('severity by score band; a summary over 1024 characters is cut', async () => {
    const severities = [95, 85, 50, 20, 5, null].map((score) => {
      const i = ctx('INC-S', { score }).incident;
      return (triggerEvent(summarizeIncident(i, DEPS), {}, 'k').payload as { severity: string }).severity;
    });
    assert.deepEqual(severities, ['critical', 'error', 'warning', 'info', 'info', 'info']);
    assert.deepEqual(PD_SEVERITY, { critical: 'critical', high: 'error', medium: 'warning', low: 'info', info: 'info' });
    const t = await target({ source: 'fido-prod', group: 'soc' });
    await t.execute(ctx('INC-S2', { score: 99, title: `${'x'.repeat(2000)}|=\\\n<script>` }));
    const p = pd.alerts.get('fido-INC-S2')!.payload;
    assert.equal(p.severity, 'critical');
    assert.equal((p.summary as string).length, 1024);
    assert.equal(p.source, 'fido-prod');
    assert.equal(p.group, 'soc');
  });

  test('errors: 400 permanent in PagerDuty\'s words; 401/403 permanent; 429 retried (Retry-After when given); 5xx, malformed and hung retried; never the key', async () => {
    // A routing key of the wrong length: the stand-in's own 400, as documented.
    const bad = await target({ routing_key: 'short-key-abcdef' });
    const e400 = await refused(bad.execute(ctx()), /400: Event object is invalid: Length of 'routing_key' is incorrect/, false);
    noKey(e400.message);
    const t = await target();
    const errors: string[] = [e400.message];
    try {
      // A service that echoes the key back has it cut out.
      pd.setOverride(() => ({ status: 400, json: { status: 'invalid event', message: 'Event object is invalid', errors: [`unknown routing_key ${pd.routingKey}`] } }));
      errors.push((await refused(t.execute(ctx()), /400: .*unknown routing_key \[secret\]/, false)).message);
      pd.setOverride(() => ({ status: 401, body: 'Unauthorized' }));
      errors.push((await refused(t.execute(ctx()), /401.*check the routing key/, false)).message);
      pd.setOverride(() => ({ status: 403, json: { status: 'forbidden', message: 'Forbidden' } }));
      errors.push((await refused(t.execute(ctx()), /403: Forbidden/, false)).message);
      pd.setOverride(() => ({ status: 429, headers: { 'retry-after': '30' }, json: { status: 'throttle event', message: 'Requests for this service are arriving too quickly. Please retry later.' } }));
      const rl = await refused(t.execute(ctx()), /429: Requests for this service are arriving too quickly/, true);
      assert.equal(rl.retryAfterMs, 30_000);
      pd.setOverride(() => ({ status: 429, body: '' }));
      const rl2 = await refused(t.execute(ctx()), /429/, true);
      assert.equal(rl2.retryAfterMs, undefined, 'no Retry-After: the executor backs off');
      pd.setOverride(() => ({ status: 500, body: 'Internal Server Error' }));
      errors.push((await refused(t.execute(ctx()), /500/, true)).message);
      pd.setOverride(() => ({ status: 502, json: { message: `bad gateway ${pd.routingKey}` } }));
      errors.push((await refused(t.execute(ctx()), /502/, true)).message);
      pd.setOverride(() => ({ status: 202, body: '<html>busy</html>' }));
      errors.push((await refused(t.execute(ctx()), /not JSON/, true)).message);
      pd.setOverride(() => ({ status: 202, json: { status: 'queued' } }));
      errors.push((await refused(t.execute(ctx()), /without status "success"/, true)).message);
      pd.setOverride(() => ({ hang: true }));
      const ac = new AbortController();
      const before = pd.counters.requests;
      const call = t.execute(ctx('INC1', { signal: ac.signal }));
      await waitFor('the hung request to arrive', () => pd.counters.requests > before, 5000);
      ac.abort();
      const hung = await refused(call, /no answer before the call's time limit/, true);
      assert.equal(hung.unknownOutcome, true, 'sent again under the same dedup key');
      errors.push(hung.message);
    } finally {
      pd.setOverride(null);
    }
    for (const m of errors) noKey(m);
  });

  test('through the executor: the action triggers the alert and stores its dedup key; the verdict\'s close resolves it', async () => {
    const st = await openTestStore('sqlite');
    const t = await target();
    try {
      const now = Date.now();
      const incident = sampleIncident('INC-PD1');
      await seedIncident(st.store.db, incident);
      await insertAction(st.store.db, { id: 'ACT-PD1', incident_id: incident.id, kind: 'pagerduty', target: 'oncall', now });
      const ex = testExecutor(st.store, 'oncall', t, Date.now);
      assert.equal((await ex.runOnce()).succeeded, 1);
      const row = await actionRow(st.store.db, 'ACT-PD1');
      assert.equal(row.state, 'succeeded');
      const result = JSON.parse(row.result!) as PagerDutyResult;
      assert.equal(result.dedup_key, 'fido-INC-PD1');
      noKey(row.result!);
      assert.equal(pd.alerts.get('fido-INC-PD1')!.status, 'triggered');
      // A verdict queues the close follow-up (follow.ts); the executor runs it: the alert is resolved.
      await st.store.db.transaction().execute((tx) => closeOnVerdict(tx, incident.id, { verdict: 'true_positive', by: 'analyst' }, Date.now()));
      assert.equal((await ex.runOnce()).succeeded, 1);
      const close = await st.store.db.selectFrom('actions').selectAll().where('follow_of', '=', 'ACT-PD1').executeTakeFirstOrThrow();
      assert.equal(close.state, 'succeeded');
      assert.deepEqual(JSON.parse(close.result!), { dedup_key: 'fido-INC-PD1', event_action: 'resolve', status: 202, message: 'Event processed' });
      assert.equal(pd.alerts.get('fido-INC-PD1')!.status, 'resolved');
    } finally {
      await st.cleanup();
    }
  });
});
