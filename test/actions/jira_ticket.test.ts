/**
 * jira_ticket against a local site that speaks the documented Jira Cloud REST API v3 and holds issues
 * (test/support/contracts/jira.ts, which cites the docs): one issue per idempotency key found by label through
 * /rest/api/3/search/jql, comments in ADF on updates, the transition on the verdict, every error class, a
 * hung create reconciled, hostile incident text.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import jiraTicket, { dedupLabel, jqlString, type AdfNode, type JiraTicketConfig, type JiraTicketResult } from '../../src/actions/kinds/jira_ticket.js';
import type { ActionContext, ActionTarget, FollowContext, FollowEvent } from '../../src/actions/action.js';
import { entryProblem } from '../../src/component/instantiate.js';
import type { AnyComponent, ComponentEntry } from '../../src/component/component.js';
import type { IncidentDetail } from '../../src/model/incident.js';
import { jiraServer } from '../support/contracts/jira.js';
import { openTestStore } from '../support/stores.js';
import { waitFor } from '../support/wait.js';
import { actionRecord, actionRow, HOSTILE_TITLE, insertAction, sampleIncident, seedIncident } from './fixtures.js';
import { actionCtx, refused, suiteServer, testExecutor, firstAttempt } from './support.js';

function followCtx(c: ActionContext, originalResult: Record<string, unknown>, event: FollowEvent, o: { incident?: IncidentDetail; verdict?: FollowContext['verdict'] } = {}): FollowContext {
  const incident = o.incident ?? c.incident;
  const action = { ...actionRecord(incident.id, c.action.kind, c.action.target, `${c.action.id}-F`), follow_of: c.action.id, follow_event: event };
  return { action, incident, idempotencyKey: action.idempotency_key, signal: new AbortController().signal, ...firstAttempt, event, original: c.action, originalResult, ...(o.verdict ? { verdict: o.verdict } : {}) };
}

const rescored = (i: IncidentDetail, total: number): IncidentDetail => ({ ...i, score: { ...i.score!, total }, decision: { ...i.decision!, outcome: 'contain', rule: 'contain-critical' } });

/** Every text node of an ADF document, in order. */
function texts(n: unknown): string[] {
  const x = n as AdfNode;
  return x.type === 'text' ? [x.text!] : (x.content ?? []).flatMap(texts);
}

describe('jira_ticket', () => {
  const jira = jiraServer();
  const suite = suiteServer(jira.handler);
  const { email, token } = jira.credentials;

  async function target(over: Partial<JiraTicketConfig> = {}): Promise<ActionTarget> {
    const t = await jiraTicket.create(
      { name: 'jira', kind: 'jira_ticket', url: suite.server.url, email, api_token: token, project: 'SEC', allow_private: true, labels: ['security'], ...over },
      { configDir: '.', publicUrl: 'https://fido.corp.example' },
    );
    suite.track(t);
    return t;
  }
  const ctx = (id: string, o: { signal?: AbortSignal } = {}) => actionCtx('jira_ticket', 'jira', sampleIncident(id), o);
  const since = () => {
    const n = suite.server.requests.length;
    return () => suite.server.requests.slice(n);
  };
  const calls = (reqs: { method: string; path: string }[]) => reqs.map((q) => `${q.method} ${q.path}`);

  test('schema and check errors name the key', () => {
    const base = { name: 'jira', kind: 'jira_ticket', url: 'https://corp.atlassian.net', email: 'fido@corp.example', api_token: '${env:JIRA_TOKEN}', project: 'SEC' };
    const problem = (over: Record<string, unknown>) => entryProblem(jiraTicket as unknown as AnyComponent, { ...base, ...over } as ComponentEntry, 'actions.targets.jira');
    assert.equal(problem({}), null);
    assert.match(problem({ url: 'http://corp.atlassian.net' }) ?? '', /^actions\.targets\.jira\.url: .*https/);
    assert.match(problem({ project: 'sec" OR 1=1' }) ?? '', /project/);
    assert.match(problem({ labels: ['has space'] }) ?? '', /labels/);
    assert.match(problem({ api_token: undefined }) ?? '', /api_token/);
    assert.match(problem({ priorities: { severe: 'Highest' } }) ?? '', /priorities/);
  });

  test('creates one issue per idempotency key, found by its label through /search/jql', async () => {
    const t = await target({ components: ['Detection'] });
    const c = ctx('INC-J1');
    const seen = since();
    const r = (await t.execute(c)).detail as JiraTicketResult;
    assert.equal(jira.created, 1);
    const label = dedupLabel('INC-J1:ACT1:jira');
    assert.deepEqual(jira.byIncident('INC-J1').map((x) => x.key), [r.number]);
    assert.match(label, /^fido-[0-9a-f]{24}$/);
    const issue = jira.issues.get(r.number)!;
    assert.deepEqual(r, { id: issue.id, number: issue.key, url: `${suite.server.url}/browse/${issue.key}`, label });
    assert.deepEqual(issue.fields.labels, ['fido', label, 'security']);
    assert.deepEqual(issue.fields.project, { key: 'SEC' });
    assert.deepEqual(issue.fields.issuetype, { name: 'Task' });
    assert.deepEqual(issue.fields.components, [{ name: 'Detection' }]);
    assert.equal(issue.fields.priority, undefined);
    assert.ok(issue.fields.summary.startsWith('Fido: Beacon from ws-042'));
    const words = texts(issue.fields.description);
    assert.ok(words.includes('85/100 (high)'));
    assert.ok(words.includes('notify (rule notify-high)'));
    assert.ok(words.includes('threat.intel +60: evil.example listed by abuse.ch <feodo>'));
    assert.ok(words.includes('url:http://evil.example/a?x=<b>&y="1"'));
    assert.ok(JSON.stringify(issue.fields.description).includes('{"type":"link","attrs":{"href":"https://fido.corp.example/api/v1/incidents/INC-J1"}}'));
    const reqs = seen();
    assert.deepEqual(calls(reqs), ['GET /rest/api/3/search/jql', 'POST /rest/api/3/issue']);
    assert.equal(reqs[0]!.query.get('jql'), `project = "SEC" AND labels = "${label}"`);
    for (const q of reqs) assert.equal(q.headers.authorization, `Basic ${Buffer.from(`${email}:${token}`).toString('base64')}`);

    const again = (await t.execute(c)).detail;
    assert.deepEqual([again.existing, again.number], [true, r.number]);
    assert.equal(jira.created, 1);
  });

  test('update comments in ADF (and sets the priority when mapped); close transitions once', async () => {
    const t = await target({ priorities: { critical: 'Highest', high: 'High' } });
    const c = ctx('INC-J2');
    const r = (await t.execute(c)).detail;
    const issue = jira.issues.get(r.number as string)!;
    assert.deepEqual(issue.fields.priority, { name: 'High' });
    const seen = since();
    const u = await t.follow!(followCtx(c, r, 'update', { incident: rescored(c.incident, 95) }));
    assert.equal(u.detail.priority, 'Highest');
    assert.deepEqual(calls(seen()), [`PUT /rest/api/3/issue/${issue.key}`, `POST /rest/api/3/issue/${issue.key}/comment`]);
    assert.deepEqual(issue.fields.priority, { name: 'Highest' });
    assert.deepEqual(texts(issue.comments[0]), ['Fido: the incident changed. Score now 95/100 (critical); decision now contain (rule contain-critical).']);

    const verdict = { verdict: 'true_positive', by: 'alice', note: 'confirmed "C2"' };
    const seen2 = since();
    const closed = await t.follow!(followCtx(c, r, 'close', { verdict }));
    assert.deepEqual([closed.detail.closed, closed.detail.already], [true, false]);
    assert.equal(issue.status, 'Done');
    assert.deepEqual(calls(seen2()), [`GET /rest/api/3/issue/${issue.key}`, `GET /rest/api/3/issue/${issue.key}/transitions`, `POST /rest/api/3/issue/${issue.key}/comment`, `POST /rest/api/3/issue/${issue.key}/transitions`]);
    assert.match(texts(issue.comments[1])[0]!, /closed with verdict true_positive by alice\. Note: confirmed "C2"/);
    const transitions = jira.counts.transitions;
    const seen3 = since();
    const twice = await t.follow!(followCtx(c, r, 'close', { verdict }));
    assert.equal(twice.detail.already, true);
    assert.deepEqual(calls(seen3()), [`GET /rest/api/3/issue/${issue.key}`]);
    assert.equal(jira.counts.transitions, transitions);

    // Without priorities: a comment only.
    const t2 = await target();
    const c2 = ctx('INC-J2b');
    const r2 = (await t2.execute(c2)).detail;
    const seen4 = since();
    await t2.follow!(followCtx(c2, r2, 'update'));
    assert.deepEqual(calls(seen4()), [`POST /rest/api/3/issue/${r2.number as string}/comment`]);
  });

  test('close: a transition that does not exist is permanent; one that no longer applies is settled by the status', async () => {
    const t = await target({ close_transition: 'Resolve Issue' });
    const c = ctx('INC-J3');
    const r = (await t.execute(c)).detail;
    await refused(t.follow!(followCtx(c, r, 'close', { verdict: { verdict: 'benign', by: 'bob' } })), /has no transition "Resolve Issue" \(available: Start Progress, Done\); set close_transition/, false);
    const t2 = await target();
    const issue = jira.issues.get(r.number as string)!;
    jira.setOverride((q) => {
      if (q.method !== 'POST' || !q.path.endsWith('/transitions')) return undefined;
      issue.status = 'Done';
      return { status: 400, json: { errorMessages: ["Transition id '31' is not valid for this issue."], errors: {} } };
    });
    try {
      const closed = await t2.follow!(followCtx(c, {}, 'close', { verdict: { verdict: 'benign', by: 'bob' } }));
      assert.deepEqual([closed.detail.closed, closed.detail.already, closed.detail.number], [true, true, issue.key]);
    } finally {
      jira.setOverride(null);
    }
  });

  test('errors: 401 and 403 permanent without the token, 400 names the field, 404 on update, 429 at Retry-After or X-RateLimit-Reset, 5xx and malformed retried', async () => {
    const bad = await target({ api_token: 'wrong-token-abcdef' });
    const e401 = await refused(bad.execute(ctx('INC-J4')), /^actions\.targets\.jira: GET 127\.0\.0\.1:\d+\/rest\/api\/3\/search\/jql answered 401: Client must be authenticated.*credentials refused/, false);
    assert.ok(!e401.message.includes('wrong-token-abcdef') && !e401.message.includes(token));
    await refused((await target({ issue_type: 'Story' })).execute(ctx('INC-J4')), /POST 127\.0\.0\.1:\d+\/rest\/api\/3\/issue answered 400: issuetype: Specify an issue type/, false);
    const t = await target();
    try {
      jira.setOverride((q) => (q.method === 'POST' ? { status: 403, json: { errorMessages: ['You do not have permission to create issues in this project.'], errors: {} } } : undefined));
      await refused(t.execute(ctx('INC-J4')), /answered 403: You do not have permission to create issues/, false);
      jira.setOverride(() => ({ status: 429, headers: { 'retry-after': '20', 'x-ratelimit-limit': '100', 'x-ratelimit-remaining': '0', 'ratelimit-reason': 'jira-burst-based' }, json: { errorMessages: ['Rate limit exceeded.'], errors: {} } }));
      const rl = await refused(t.execute(ctx('INC-J4')), /429: Rate limit exceeded\..*\(rate limit\)/, true);
      assert.equal(rl.retryAfterMs, 20_000);
      const reset = new Date(Date.now() + 120_000).toISOString();
      jira.setOverride(() => ({ status: 429, headers: { 'x-ratelimit-reset': reset }, body: '' }));
      const rl2 = await refused(t.execute(ctx('INC-J4')), /429/, true);
      assert.ok(rl2.retryAfterMs! > 100_000 && rl2.retryAfterMs! <= 120_000, String(rl2.retryAfterMs));
      jira.setOverride((q) => (q.method === 'POST' ? { status: 502, body: 'Bad Gateway' } : undefined));
      const e502 = await refused(t.execute(ctx('INC-J4')), /answered 502: Bad Gateway/, true);
      assert.equal(e502.unknownOutcome, true);
      jira.setOverride(() => ({ status: 200, body: '<!DOCTYPE html>' }));
      await refused(t.execute(ctx('INC-J4')), /not JSON/, true);
      jira.setOverride((q) => (q.method === 'POST' ? { status: 201, json: { id: '1', key: '../../admin' } } : undefined));
      const odd = await refused(t.execute(ctx('INC-J4')), /without a usable issue id and key/, true);
      assert.equal(odd.unknownOutcome, true);
    } finally {
      jira.setOverride(null);
    }
    const c = ctx('INC-J5');
    const r = (await t.execute(c)).detail;
    jira.issues.delete(r.number as string);
    await refused(t.follow!(followCtx(c, r, 'update')), /issue SEC-\d+ no longer exists or is not visible to fido@corp\.example: Issue does not exist/, false);
    await refused(t.follow!(followCtx(c, r, 'close', { verdict: { verdict: 'benign', by: 'x' } })), /no longer exists/, false);
  });

  test('a hung create is an unknown outcome; reconcile finds the issue it made', async () => {
    const t = await target();
    const ac = new AbortController();
    const c = ctx('INC-J6', { signal: ac.signal });
    const label = dedupLabel('INC-J6:ACT1:jira');
    jira.hangAfter((q) => q.method === 'POST');
    const call = t.execute(c);
    await waitFor('the create to reach the site', () => jira.byLabel(label).length === 1, 5000);
    ac.abort();
    const e = await refused(call, /no answer before the call's time limit/, true);
    assert.equal(e.unknownOutcome, true);
    const issue = jira.byLabel(label)[0]!;
    const rc = await t.reconcile!(ctx('INC-J6'));
    assert.deepEqual(rc, { done: true, detail: { id: issue.id, number: issue.key, url: `${suite.server.url}/browse/${issue.key}`, label, existing: true } });
    assert.deepEqual(await t.reconcile!(followCtx(ctx('INC-J6'), {}, 'close')), { done: false });
    assert.equal(jira.byLabel(label).length, 1);
  });

  test('hostile incident text stays in ADF text nodes and out of JQL', async () => {
    const t = await target();
    const evil = `" OR project = "OPS" ${HOSTILE_TITLE} <a href="javascript:x">*bold*</a>\n[link|http://evil]`;
    const incident = { ...sampleIncident('INC-J7'), title: evil, host: 'h" OR 1=1' };
    const seen = since();
    const r = (await t.execute(actionCtx('jira_ticket', 'jira', incident))).detail;
    const issue = jira.issues.get(r.number as string)!;
    assert.equal(issue.fields.summary, `Fido: ${evil.replace('\n', ' ')}`);
    const words = texts(issue.fields.description);
    assert.equal(words[0], evil.replace('\n', ' '));
    assert.ok(words.includes('h" OR 1=1'));
    // Only text, strong and link marks: nothing the alert wrote became a node or a mark.
    const marks = JSON.stringify(issue.fields.description).match(/"marks":\[[^\]]*\]/g) ?? [];
    assert.ok(marks.every((m) => m === '"marks":[{"type":"strong"}]' || m.includes('"href":"https://fido.corp.example/api/v1/incidents/INC-J7"')), marks.join());
    for (const q of seen().filter((x) => x.path.endsWith('/search/jql'))) assert.equal(q.query.get('jql'), `project = "SEC" AND labels = "${dedupLabel('INC-J7:ACT1:jira')}"`);
    assert.equal(jqlString('a"b\\c'), '"a\\"b\\\\c"');
  });

  test('through the executor: the outbox row creates one issue and stores its key', async () => {
    const st = await openTestStore('sqlite');
    const t = await target();
    try {
      const incident = sampleIncident('INC-J8');
      await seedIncident(st.store.db, incident);
      await insertAction(st.store.db, { id: 'ACT-J8', incident_id: incident.id, kind: 'jira_ticket', target: 'jira', now: Date.now() });
      const ex = testExecutor(st.store, 'jira', t, Date.now);
      assert.equal((await ex.runOnce()).succeeded, 1);
      const row = await actionRow(st.store.db, 'ACT-J8');
      assert.equal(row.state, 'succeeded');
      const issues = jira.byLabel(dedupLabel('INC-J8:ACT-J8:jira'));
      assert.equal(issues.length, 1);
      assert.equal((JSON.parse(row.result!) as JiraTicketResult).number, issues[0]!.key);
    } finally {
      await st.cleanup();
    }
  });
});
