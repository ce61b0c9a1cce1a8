/**
 * servicenow_ticket against a local instance that speaks the documented Table API and holds records
 * (test/support/contracts/servicenow.ts, which cites the docs): create once per idempotency key, update with a
 * work note, resolve on the verdict, every error class, a hung create reconciled, hostile incident text.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import servicenowTicket, { correlationId, type ServicenowTicketConfig, type ServicenowTicketResult } from '../../src/actions/kinds/servicenow_ticket.js';
import type { ActionContext, ActionTarget, FollowContext, FollowEvent } from '../../src/actions/action.js';
import { entryProblem } from '../../src/component/instantiate.js';
import type { AnyComponent, ComponentEntry } from '../../src/component/component.js';
import type { IncidentDetail } from '../../src/model/incident.js';
import { servicenowServer } from '../support/contracts/servicenow.js';
import { openTestStore } from '../support/stores.js';
import { waitFor } from '../support/wait.js';
import { actionRecord, actionRow, HOSTILE_TITLE, insertAction, sampleIncident, seedIncident, selfSignedCert } from './fixtures.js';
import { actionCtx, refused, suiteServer, testExecutor, firstAttempt } from './support.js';

function followCtx(c: ActionContext, originalResult: Record<string, unknown>, event: FollowEvent, o: { incident?: IncidentDetail; verdict?: FollowContext['verdict'] } = {}): FollowContext {
  const incident = o.incident ?? c.incident;
  const action = { ...actionRecord(incident.id, c.action.kind, c.action.target, `${c.action.id}-F`), follow_of: c.action.id, follow_event: event };
  return { action, incident, idempotencyKey: action.idempotency_key, signal: new AbortController().signal, ...firstAttempt, event, original: c.action, originalResult, ...(o.verdict ? { verdict: o.verdict } : {}) };
}

const rescored = (i: IncidentDetail, total: number): IncidentDetail => ({ ...i, score: { ...i.score!, total }, decision: { ...i.decision!, outcome: 'contain', rule: 'contain-critical' } });

describe('servicenow_ticket', () => {
  const snow = servicenowServer();
  const snowTls = servicenowServer();
  const suite = suiteServer(snow.handler);
  const { user, password, token } = snow.credentials;

  async function target(over: Partial<ServicenowTicketConfig> = {}): Promise<ActionTarget> {
    const t = await servicenowTicket.create(
      { name: 'snow', kind: 'servicenow_ticket', url: suite.server.url, username: user, password, allow_private: true, assignment_group: 'SOC', ...over },
      { configDir: '.', publicUrl: 'https://fido.corp.example' },
    );
    suite.track(t);
    return t;
  }
  const ctx = (id: string, o: { signal?: AbortSignal } = {}) => actionCtx('servicenow_ticket', 'snow', sampleIncident(id), o);
  const since = () => {
    const n = suite.server.requests.length;
    return () => suite.server.requests.slice(n);
  };

  test('schema and check errors name the key', () => {
    const base = { name: 'snow', kind: 'servicenow_ticket', url: 'https://corp.service-now.com', username: 'svc', password: '${env:SNOW_PW}' };
    const problem = (over: Record<string, unknown>) => entryProblem(servicenowTicket as unknown as AnyComponent, { ...base, ...over } as ComponentEntry, 'actions.targets.snow');
    assert.equal(problem({}), null);
    assert.equal(problem({ username: undefined, password: undefined, token: '${env:SNOW_TOKEN}' }), null);
    assert.match(problem({ url: 'http://snow.corp.example' }) ?? '', /^actions\.targets\.snow\.url: .*https/);
    assert.match(problem({ url: 'http://127.0.0.1:8080' }) ?? '', /^actions\.targets\.snow\.url: .*allow_private/);
    assert.match(problem({ token: '${env:T}' }) ?? '', /token: give either/);
    assert.match(problem({ password: undefined }) ?? '', /password: basic auth needs both/);
    assert.match(problem({ table: 'incident^x' }) ?? '', /table/);
    assert.match(problem({ priorities: { high: { urgency: 4, impact: 1 } } }) ?? '', /priorities/);
    assert.match(problem({ extra: 1 }) ?? '', /actions\.targets\.snow/);
  });

  test('creates one record per idempotency key; a second attempt finds it', async () => {
    const t = await target({ fields: { category: 'security', correlation_id: 'not-this' } });
    const c = ctx('INC-S1');
    const seen = since();
    const r = (await t.execute(c)).detail as ServicenowTicketResult;
    assert.equal(snow.created, 1);
    const rec = snow.records.get(r.id)!;
    assert.deepEqual(snow.byIncident('INC-S1').map((x) => x.sys_id), [r.id]);
    assert.equal(r.number, rec.number);
    assert.equal(r.table, 'incident');
    assert.equal(r.url, `${suite.server.url}/incident.do?sys_id=${rec.sys_id}`);
    assert.equal(rec.fields.correlation_id, 'INC-S1:ACT1:snow');
    assert.equal(rec.fields.correlation_display, 'Fido');
    assert.equal(rec.fields.category, 'security');
    assert.equal(rec.fields.assignment_group, 'SOC');
    // Score 85: band high → urgency 1, impact 2 (priority 2).
    assert.deepEqual([rec.fields.urgency, rec.fields.impact], ['1', '2']);
    assert.ok(rec.fields.short_description!.startsWith('Fido: Beacon from ws-042'));
    assert.match(rec.fields.description!, /Score: 85\/100 \(high\)/);
    assert.match(rec.fields.description!, /Decision: notify \(rule notify-high\)/);
    assert.match(rec.fields.description!, /threat\.intel \+60: evil\.example listed by abuse\.ch <feodo>/);
    assert.match(rec.fields.description!, /In Fido: https:\/\/fido\.corp\.example\/api\/v1\/incidents\/INC-S1/);
    const reqs = seen();
    assert.deepEqual(reqs.map((q) => q.method), ['GET', 'POST']);
    assert.equal(reqs[0]!.query.get('sysparm_query'), 'correlation_id=INC-S1:ACT1:snow');
    assert.equal(reqs[0]!.query.get('sysparm_limit'), '1');
    for (const q of reqs) assert.equal(q.headers.authorization, `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`);

    const again = (await t.execute(c)).detail;
    assert.equal(again.existing, true);
    assert.equal(again.id, r.id);
    assert.equal(snow.created, 1);
  });

  test('update writes urgency, impact and a work note; close resolves once', async () => {
    const t = await target();
    const c = ctx('INC-S2');
    const r = (await t.execute(c)).detail;
    const u = await t.follow!(followCtx(c, r, 'update', { incident: rescored(c.incident, 95) }));
    assert.equal(u.detail.band, 'critical');
    const rec = snow.records.get(r.id as string)!;
    assert.deepEqual([rec.fields.urgency, rec.fields.impact], ['1', '1']);
    assert.deepEqual(rec.work_notes, ['Fido: the incident changed. Score now 95/100 (critical); decision now contain (rule contain-critical).']);

    const verdict = { verdict: 'true_positive', by: 'alice', note: 'confirmed C2' };
    const closed = await t.follow!(followCtx(c, r, 'close', { verdict }));
    assert.deepEqual([closed.detail.closed, closed.detail.already, closed.detail.close_code], [true, false, 'Solution provided']);
    assert.equal(rec.fields.state, '6');
    assert.equal(rec.fields.close_code, 'Solution provided');
    assert.match(rec.fields.close_notes!, /verdict true_positive by alice\. Note: confirmed C2/);
    const resolved = snow.counts.resolved;
    const seen = since();
    const twice = await t.follow!(followCtx(c, r, 'close', { verdict }));
    assert.equal(twice.detail.already, true);
    assert.deepEqual(seen().map((q) => q.method), ['GET']);
    assert.equal(snow.counts.resolved, resolved);
    // An update of a resolved record leaves it alone (it is read-only for most roles).
    const late = await t.follow!(followCtx(c, r, 'update', { incident: rescored(c.incident, 40) }));
    assert.deepEqual([late.detail.updated, late.detail.state], [false, '6']);
    assert.equal(rec.work_notes.length, 1);

    // A false positive with a configured close code and state; a follow-up without a stored result finds the record.
    const t2 = await target({ resolved_state: 7, close_codes: { false_positive: 'Closed/Resolved by Caller' } });
    const c2 = ctx('INC-S2b');
    await t2.execute(c2);
    const fp = await t2.follow!(followCtx(c2, {}, 'close', { verdict: { verdict: 'false_positive', by: 'bob' } }));
    const rec2 = snow.byCorrelation('INC-S2b:ACT1:snow')[0]!;
    assert.equal(fp.detail.id, rec2.sys_id);
    assert.deepEqual([rec2.fields.state, rec2.fields.close_code], ['7', 'Closed/Resolved by Caller']);
  });

  test('a bearer token authenticates too', async () => {
    const t = await target({ username: undefined, password: undefined, token });
    const seen = since();
    await t.execute(ctx('INC-S3'));
    assert.ok(seen().every((q) => q.headers.authorization === `Bearer ${token}`));
  });

  test('errors: 401 and 403 permanent without secrets, 404 on update permanent, 429 at Retry-After, 5xx and malformed retried', async () => {
    const bad = await target({ password: 'wrong-password-xyz' });
    const e401 = await refused(bad.execute(ctx('INC-S4')), /^actions\.targets\.snow: GET 127\.0\.0\.1:\d+\/api\/now\/table\/incident answered 401: User Not Authenticated/, false);
    assert.ok(!e401.message.includes('wrong-password-xyz') && !e401.message.includes(password));
    const t = await target();
    try {
      snow.setOverride((q) => (q.method === 'POST' ? { status: 403, json: { error: { message: 'Operation Failed', detail: 'ACL Exception Insert Failed due to security constraints' }, status: 'failure' } } : undefined));
      await refused(t.execute(ctx('INC-S4')), /answered 403: Operation Failed \(ACL Exception Insert Failed/, false);
      snow.setOverride(() => ({ status: 429, headers: { 'retry-after': '30' }, json: { error: { message: 'Too many requests', detail: 'Rate limit exceeded' }, status: 'failure' } }));
      const rl = await refused(t.execute(ctx('INC-S4')), /answered 429: Too many requests.*\(rate limit\)/, true);
      assert.equal(rl.retryAfterMs, 30_000);
      snow.setOverride(() => ({ status: 503, body: '<html>maintenance</html>' }));
      await refused(t.execute(ctx('INC-S4')), /answered 503: <html>maintenance/, true);
      snow.setOverride((q) => (q.method === 'POST' ? { status: 500, json: { error: { message: 'Internal error' }, status: 'failure' } } : undefined));
      const e500 = await refused(t.execute(ctx('INC-S4')), /answered 500: Internal error/, true);
      assert.equal(e500.unknownOutcome, true);
      snow.setOverride(() => ({ status: 200, body: '{"result": [' }));
      await refused(t.execute(ctx('INC-S4')), /not JSON/, true);
      snow.setOverride(() => ({ status: 200, json: { nothing: true } }));
      await refused(t.execute(ctx('INC-S4')), /without a result list/, true);
    } finally {
      snow.setOverride(null);
    }
    const c = ctx('INC-S5');
    const r = (await t.execute(c)).detail;
    snow.records.delete(r.id as string);
    await refused(t.follow!(followCtx(c, r, 'update')), /INC\d+ \(incident [0-9a-f]{32}\) no longer exists or is not readable: No Record found/, false);
    await refused(t.follow!(followCtx(c, r, 'close', { verdict: { verdict: 'benign', by: 'x' } })), /no longer exists/, false);
    await refused(t.follow!(followCtx(ctx('INC-S-none'), {}, 'update')), /opened no ticket that can be found/, false);
  });

  test('a hung create is an unknown outcome; reconcile finds the record it made', async () => {
    const t = await target();
    const ac = new AbortController();
    const c = ctx('INC-S6', { signal: ac.signal });
    snow.hangAfter((q) => q.method === 'POST');
    const call = t.execute(c);
    await waitFor('the create to reach the instance', () => snow.byCorrelation('INC-S6:ACT1:snow').length === 1, 5000);
    ac.abort();
    const e = await refused(call, /no answer before the call's time limit/, true);
    assert.equal(e.unknownOutcome, true);
    const fresh = ctx('INC-S6');
    const rec = snow.byCorrelation('INC-S6:ACT1:snow')[0]!;
    const rc = await t.reconcile!(fresh);
    assert.deepEqual(rc, { done: true, detail: { id: rec.sys_id, number: rec.number, url: `${suite.server.url}/incident.do?sys_id=${rec.sys_id}`, table: 'incident', existing: true } });
    // A follow-up's unknown outcome is not settled by the record's existence.
    assert.deepEqual(await t.reconcile!(followCtx(fresh, {}, 'update')), { done: false });
    assert.deepEqual(await t.reconcile!(ctx('INC-S6-other')), { done: false });
  });

  test('hostile incident text never reaches the query and is carried literally', async () => {
    const t = await target();
    const incident = { ...sampleIncident('INC-S7'), title: `x^correlation_id=INC-S1:ACT1:snow^ORDERBYDESC ${HOSTILE_TITLE}\n\u0000`, host: '[code]<img src=x onerror=alert(1)>[/CODE]' };
    const c = actionCtx('servicenow_ticket', 'snow', incident);
    const seen = since();
    const r = (await t.execute(c)).detail;
    const rec = snow.records.get(r.id as string)!;
    assert.equal(rec.fields.correlation_id, 'INC-S7:ACT1:snow');
    assert.ok(rec.fields.short_description!.includes(HOSTILE_TITLE));
    assert.ok(!/[\n\u0000]/.test(rec.fields.short_description!));
    assert.ok(rec.fields.description!.includes(HOSTILE_TITLE));
    // Journal and text fields render [code]…[/code] as HTML on instances that allow it: never sent.
    assert.ok(!/\[\/?code\]/i.test(rec.fields.description!) && rec.fields.description!.includes('Host: (code)<img src=x onerror=alert(1)>(/CODE)'));
    for (const q of seen().filter((x) => x.method === 'GET')) assert.equal(q.query.get('sysparm_query'), 'correlation_id=INC-S7:ACT1:snow');
    await t.follow!(followCtx(c, r, 'close', { verdict: { verdict: 'true_positive', by: 'eve[code]', note: '[code]<b>x</b>[/code]' } }));
    assert.ok(!/\[\/?code\]/i.test(rec.fields.close_notes!), rec.fields.close_notes);
    // A key with characters an encoded query would read (^) or too long for the field is hashed.
    assert.match(correlationId('INC^1:ACT1:snow'), /^fido-[0-9a-f]{40}$/);
    assert.match(correlationId(`INC1:ACT1:${'t'.repeat(100)}`), /^fido-[0-9a-f]{40}$/);
    assert.equal(correlationId('INC1:ACT1:snow'), 'INC1:ACT1:snow');
  });

  test('over HTTPS: a private CA is trusted with tls_ca_file and refused (permanently) without it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fido-snow-tls-'));
    const server = await snowTls.start({ tls: selfSignedCert(dir) });
    try {
      const make = (over: Partial<ServicenowTicketConfig>) =>
        servicenowTicket.create({ name: 'snow', kind: 'servicenow_ticket', url: server.url, token: snowTls.credentials.token, allow_private: true, ...over }, { configDir: dir, publicUrl: 'https://fido.corp.example' });
      const trusted = await make({ tls_ca_file: 'server.crt' });
      const untrusted = await make({});
      try {
        const r = (await trusted.execute(ctx('INC-S9'))).detail;
        assert.ok(server.url.startsWith('https://') && snowTls.records.has(r.id as string));
        await refused(untrusted.execute(ctx('INC-S9b')), /TLS certificate not trusted; set tls_ca_file/, false);
      } finally {
        await trusted.close?.();
        await untrusted.close?.();
      }
    } finally {
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('through the executor: the outbox row creates one record and stores its number', async () => {
    const st = await openTestStore('sqlite');
    const t = await target();
    try {
      const now = Date.now();
      const incident = sampleIncident('INC-S8');
      await seedIncident(st.store.db, incident);
      await insertAction(st.store.db, { id: 'ACT-S8', incident_id: incident.id, kind: 'servicenow_ticket', target: 'snow', now });
      const ex = testExecutor(st.store, 'snow', t, Date.now);
      assert.equal((await ex.runOnce()).succeeded, 1);
      const row = await actionRow(st.store.db, 'ACT-S8');
      assert.equal(row.state, 'succeeded');
      const recs = snow.byCorrelation('INC-S8:ACT-S8:snow');
      assert.equal(recs.length, 1);
      const result = JSON.parse(row.result!) as ServicenowTicketResult;
      assert.equal(result.number, recs[0]!.number);
      assert.equal(result.id, recs[0]!.sys_id);
    } finally {
      await st.cleanup();
    }
  });
});
