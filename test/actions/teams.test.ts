/**
 * teams against a local server that speaks a Teams Workflows webhook
 * (https://learn.microsoft.com/microsoftteams/platform/webhooks-and-connectors/how-to/add-incoming-webhook,
 * https://learn.microsoft.com/power-automate/limits-and-config) and a retired Office 365 connector's 200s:
 * test/support/contracts/teams.ts. Adaptive Card text features:
 * https://learn.microsoft.com/adaptive-cards/authoring-cards/text-features (TextBlock Markdown; RichTextBlock
 * TextRuns are not Markdown).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import teams, { teamsText, type TeamsConfig } from '../../src/actions/kinds/teams.js';
import type { ActionContext, ActionDeps, ActionTarget } from '../../src/actions/action.js';
import { entryProblem } from '../../src/component/instantiate.js';
import type { AnyComponent, ComponentEntry } from '../../src/component/component.js';
import type { IncidentDetail } from '../../src/model/incident.js';
import { teamsServer } from '../support/contracts/teams.js';
import { openTestStore } from '../support/stores.js';
import { waitFor } from '../support/wait.js';
import { actionRow, insertAction, sampleIncident, seedIncident } from './fixtures.js';
import { actionCtx, refused, suiteServer, testExecutor } from './support.js';
import { incident, links, noLinks, withLinks } from './chat-fixtures.js';

const WORKFLOW = '8f3c2a1b9d7e4f60a1b2c3d4e5f60718';
const SIG = 'SiGsecret_AbCdEf0123456789xyz';
const HOSTILE = '[click](https://evil.example/x) **bold** _it_ <b>html</b> - item\n1. one # head {{DATE(2017-02-14T06:08:00Z, SHORT)}} <at>Everyone</at>';

const ctx = (i: IncidentDetail = incident(), signal?: AbortSignal): ActionContext => actionCtx('teams', 'soc-teams', i, signal ? { signal } : {});

type El = Record<string, unknown>;
/** Every element of the card (body, containers, action sets, card actions), depth first. */
function elements(card: El): El[] {
  const out: El[] = [];
  const walk = (v: unknown) => {
    if (Array.isArray(v)) return v.forEach(walk);
    if (v && typeof v === 'object') {
      const o = v as El;
      if (typeof o.type === 'string') out.push(o);
      for (const k of ['body', 'items', 'actions', 'inlines']) if (k in o) walk(o[k]);
    }
  };
  walk(card);
  return out;
}
const runs = (card: El) => elements(card).filter((e) => e.type === 'TextRun').map((e) => e.text as string);
const textBlocks = (card: El) => elements(card).filter((e) => e.type === 'TextBlock').map((e) => e.text as string);
const openUrls = (card: El) => elements(card).filter((e) => e.type === 'Action.OpenUrl').map((e) => [e.title, e.url, e.style ?? null]);

describe('teams', () => {
  const tm = teamsServer();
  const suite = suiteServer(tm.handler);
  tm.workflows.set(WORKFLOW, SIG);
  const hookUrl = (workflow = WORKFLOW, sig = SIG) => `${suite.server.url}/workflows/${workflow}/triggers/manual/paths/invoke?api-version=1&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=${sig}`;

  async function target(over: Partial<TeamsConfig> = {}, deps: ActionDeps = withLinks): Promise<ActionTarget> {
    process.env.FIDO_TEST_TEAMS_HOOK = hookUrl();
    const t = await teams.create({ name: 'soc-teams', kind: 'teams', webhook_url: '${env:FIDO_TEST_TEAMS_HOOK}', allow_private: true, ...over }, deps);
    return suite.track(t);
  }
  const last = () => tm.posts[tm.posts.length - 1]!;
  const clean = (text: string) => {
    for (const s of [SIG, WORKFLOW]) assert.ok(!text.includes(s), `secret in: ${text}`);
  };

  test('schema and check errors name the key', () => {
    const base = { name: 'soc-teams', kind: 'teams', webhook_url: '${env:HOOK}' };
    const problem = (over: Record<string, unknown>) => entryProblem(teams as unknown as AnyComponent, { ...base, ...over } as ComponentEntry, 'actions.targets.soc-teams');
    assert.equal(problem({}), null);
    assert.match(problem({ webhook_url: 'http://10.0.0.1/workflows/x' }) ?? '', /^actions\.targets\.soc-teams\.webhook_url: /);
    assert.match(problem({ webhook_url: '' }) ?? '', /webhook_url/);
    assert.match(problem({ extra: 1 }) ?? '', /actions\.targets\.soc-teams/);
  });

  test('the card carries the title, score, factors, the signed buttons, the incident link and the delivery key', async () => {
    const t = await target();
    const r = await t.execute(ctx(incident({ awaiting: 2 })));
    assert.deepEqual(r.detail, { status: 202, response: '' });
    const { card, body } = last();
    assert.equal(body.type, 'message');
    assert.equal(card.version, '1.4');
    const text = runs(card).join('');
    assert.match(text, /Beacon from ws-042: <script>alert\("pwned"\)<\/script> & 'single' "double"/);
    assert.match(text, /Score: 85\/100 \(high\)/);
    assert.match(text, /\+60 threat\.intel: evil\.example listed by abuse\.ch <feodo>/);
    assert.match(text, /Waiting for approval: okta_suspend on okta/);
    assert.match(text, /delivery INC1:ACT1:soc-teams/);
    assert.match(textBlocks(card)[0]!, /^Fido · HIGH 85\/100$/);
    assert.ok(textBlocks(card).some((x) => x.includes('expire at 2026-11-28T12:00:00.000Z')));
    assert.deepEqual(openUrls(card), [
      ['Approve', links('ACT-W1').approve, 'positive'],
      ['Deny', links('ACT-W1').deny, 'destructive'],
      ['Approve', links('ACT-W2').approve, 'positive'],
      ['Deny', links('ACT-W2').deny, 'destructive'],
      ['Open incident', 'https://fido.example/api/v1/incidents/INC1', null],
    ]);
  });

  test('without signed links the card says where to approve instead', async () => {
    const t = await target({}, noLinks);
    await t.execute(ctx());
    const { card } = last();
    assert.deepEqual(openUrls(card).map((a) => a[0]), ['Open incident']);
    assert.match(runs(card).join('\n'), /POST https:\/\/fido\.example\/api\/v1\/actions\/ACT-W1\/approve \(or \/deny\), action ACT-W1/);
  });

  test('hostile alert text is inert: only in TextRuns (no Markdown), never in a TextBlock, no date function', async () => {
    const t = await target();
    const i = incident({ title: HOSTILE });
    i.host = '**host** [x](https://evil.example)';
    await t.execute(ctx(i));
    const { card } = last();
    for (const tb of textBlocks(card)) assert.ok(!/evil|\*\*|\[|<|\{\{/.test(tb), `alert text in a TextBlock: ${tb}`);
    const text = runs(card).join('\n');
    assert.ok(text.includes('[click](https://evil.example/x) **bold**'), 'shown as written');
    assert.ok(!text.includes('{{DATE'), 'the date function is broken');
    assert.ok(text.includes('{\u200b{DATE'));
    assert.ok(!openUrls(card).some((a) => String(a[1]).includes('evil')));
    assert.equal(teamsText('a {{TIME(x)}} b'), 'a {\u200b{TIME(x)}} b');
  });

  test('a large incident stays under the webhook size limit', async () => {
    const t = await target();
    const i = incident({ title: 'T'.repeat(10_000), awaiting: 40 });
    i.score = { ...i.score!, explanation: Array.from({ length: 50 }, (_, k) => ({ factor: `f${k}`, points: k, evidence: 'e'.repeat(5000) })) };
    await t.execute(ctx(i));
    const { card } = last();
    assert.equal(openUrls(card).filter((a) => a[0] === 'Approve').length, 10);
    assert.ok(textBlocks(card).some((x) => x.includes('30 more actions wait for approval')));
  });

  test('errors: removed webhook, bad signature and refused cards are final; 429 waits; 5xx and hangs are retried; the URL never shows', async () => {
    const t = await target();
    const errors = [
      await refused((await target({ webhook_url: hookUrl('0000deadbeef0000') })).execute(ctx()), /answered 404: .*WorkflowNotFound.*\(the webhook or its workflow was removed/, false),
      await refused((await target({ webhook_url: hookUrl(WORKFLOW, 'wrongSignature123') })).execute(ctx()), /401: .*DirectApiAuthorizationRequired.*signature was refused/, false),
    ];
    tm.state.burst = 0;
    tm.resetRate();
    const rl = await refused(t.execute(ctx()), /429: .*WorkflowTriggerIsThrottled/, true);
    assert.equal(rl.retryAfterMs, 2000);
    errors.push(rl);
    tm.state.burst = Infinity;
    try {
      tm.setOverride(() => ({ status: 400, json: { error: { code: 'TriggerInputSchemaMismatch', message: 'bad' } } }));
      errors.push(await refused(t.execute(ctx()), /400/, false));
      tm.setOverride(() => ({ status: 502, body: 'Bad Gateway' }));
      errors.push(await refused(t.execute(ctx()), /502: Bad Gateway/, true));
      tm.setOverride(() => ({ hang: true }));
      const ac = new AbortController();
      const n = tm.state.calls;
      const call = t.execute(ctx(incident(), ac.signal));
      await waitFor('the hung request', () => tm.state.calls > n, 5000);
      ac.abort();
      const hung = await refused(call, /no answer before the call's time limit/, true);
      assert.equal(hung.unknownOutcome, false, 'no idempotency key on Teams: a retry, not a reconcile');
      errors.push(hung);
    } finally {
      tm.setOverride(null);
    }
    for (const e of errors) clean(e.message);
  });

  test('a legacy connector: 200 "1" is success, 200 "delivery failed … HTTP error <status>" is that status', async () => {
    const t = await target();
    tm.state.legacy = true;
    try {
      assert.deepEqual((await t.execute(ctx())).detail, { status: 200, response: '1' });
      tm.state.burst = 0;
      tm.resetRate();
      // The throttle itself answers 429 (Power Automate); a connector's 200 that reports a 429 is retried too.
      tm.setOverride(() => ({ status: 200, body: 'Webhook message delivery failed with error: Microsoft Teams endpoint returned HTTP error 429 with ContextId tcid=0' }));
      await refused(t.execute(ctx()), /via a 200\) answered 429/, true);
      tm.setOverride(() => ({ status: 200, body: 'Webhook message delivery failed with error: Microsoft Teams endpoint returned HTTP error 413 with ContextId tcid=0' }));
      await refused(t.execute(ctx()), /413.*too large/, false);
      tm.setOverride(() => ({ status: 200, body: 'Webhook message delivery failed with error: Microsoft Teams endpoint returned HTTP error 500 with ContextId tcid=0' }));
      await refused(t.execute(ctx()), /500/, true);
    } finally {
      tm.setOverride(null);
      tm.state.legacy = false;
      tm.state.burst = Infinity;
    }
  });

  test("through the executor: a pending teams action posts the buttons of the incident's waiting action", async () => {
    const st = await openTestStore('sqlite');
    const t = await target();
    try {
      const now = Date.now();
      const i = sampleIncident('INC-T1');
      await seedIncident(st.store.db, i);
      await insertAction(st.store.db, { id: 'ACT-T1', incident_id: i.id, kind: 'teams', target: 'soc-teams', now });
      await insertAction(st.store.db, { id: 'ACT-T2', incident_id: i.id, kind: 'okta_suspend', target: 'okta', state: 'awaiting_approval', now });
      const before = tm.posts.length;
      const ex = testExecutor(st.store, 'soc-teams', t, Date.now);
      assert.equal((await ex.runOnce()).succeeded, 1);
      const row = await actionRow(st.store.db, 'ACT-T1');
      assert.equal(row.state, 'succeeded');
      assert.deepEqual(JSON.parse(row.result!), { status: 202, response: '' });
      assert.equal(tm.posts.length, before + 1);
      const { card } = last();
      assert.deepEqual(openUrls(card).slice(0, 2).map((a) => a[1]), [links('ACT-T2').approve, links('ACT-T2').deny]);
      assert.match(runs(card).join(''), /delivery INC-T1:ACT-T1:soc-teams/);
    } finally {
      await st.cleanup();
    }
  });
});
