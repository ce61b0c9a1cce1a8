/**
 * GET/POST /api/v1/approvals/{token} (src/api/routes/approvals.ts, issue 17): the confirmation page of a signed
 * approve/deny link changes nothing; its form approves or denies the one action the link names, once; forged
 * links count as failed token attempts (the lockout the bearer-token routes share), expired ones are 410; the
 * routes take no bearer token while every other route still needs one.
 *
 * And end to end: a slack action (src/actions/kinds/slack.ts) posts to the Slack stand-in
 * (test/support/contracts/slack.ts, after https://api.slack.com/messaging/webhooks and Block Kit's button
 * element, https://api.slack.com/reference/block-kit/block-elements#button), whose Approve button URL, signed
 * with the key the API verifies with, is posted to; the approved action then runs on the executor's next round.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { buildApi } from '../../src/api/server.js';
import { ensureToken } from '../../src/api/auth.js';
import type { FailedAuthLimit } from '../../src/api/auth-limit.js';
import { approvalLinkMaker, linkKey, signLink } from '../../src/actions/approval-links.js';
import slack from '../../src/actions/kinds/slack.js';
import { createActionExecutor } from '../../src/actions/executor.js';
import type { ActionContext, ActionTarget } from '../../src/actions/action.js';
import { ulid } from '../../src/util/ulid.js';
import { openTestStore, type TestStore } from '../support/stores.js';
import { startContract } from '../support/contract.js';
import { slackServer } from '../support/contracts/slack.js';
import { actionRow, insertAction, sampleIncident, seedIncident } from '../actions/fixtures.js';
import { apiContext } from '../support/api.js';

const TOKEN = 'analyst-token-0123456789';
const PUBLIC_URL = 'https://fido.example';
const TITLE = '<script>alert(1)</script>';
const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

interface LinkApi {
  app: FastifyInstance;
  t: TestStore;
  key: Buffer;
  /** The approve and deny paths of `actionId` (what a message's buttons open), signed with the API's key. */
  links(actionId: string, deadline?: number): { approve: string; deny: string };
  close(): Promise<void>;
}

/**
 * An API with one analyst token, signing links with the store's key (or none: `noKey`), over `store` (kept open
 * on close: the suite's shared one) or a fresh SQLite store.
 */
async function linkApi(o: { store?: TestStore; failedAuth?: FailedAuthLimit; noKey?: boolean } = {}): Promise<LinkApi> {
  const t = o.store ?? (await openTestStore('sqlite'));
  await ensureToken(t.store.db, TOKEN, 'analyst', 'analyst');
  const key = await linkKey(t.store.db);
  const app = await buildApi(
    apiContext(t.store, {
      allowUndeclaredSources: true,
      failedAuth: o.failedAuth ?? { limit: 1000, windowMs: 60_000 },
      ...(o.noKey ? {} : { approvalLinkKey: key }),
    }),
  );
  const make = approvalLinkMaker({ publicUrl: PUBLIC_URL, key });
  return {
    app,
    t,
    key,
    links(actionId, deadline) {
      const l = make(actionId, deadline);
      return { approve: new URL(l.approve).pathname, deny: new URL(l.deny).pathname };
    },
    async close() {
      await app.close();
      if (!o.store) await t.cleanup();
    },
  };
}

/** An incident titled TITLE (once) with one more action awaiting approval (`id`, okta_suspend → okta), held by a guard. */
async function seed(api: LinkApi, id: string): Promise<void> {
  const i = sampleIncident('INC1');
  i.title = TITLE;
  if (!(await api.t.store.db.selectFrom('incidents').select('id').where('id', '=', 'INC1').executeTakeFirst())) await seedIncident(api.t.store.db, i);
  await insertAction(api.t.store.db, { id, incident_id: 'INC1', kind: 'okta_suspend', target: 'okta', state: 'awaiting_approval', now: Date.now() });
  await api.t.store.db.updateTable('actions').set({ held_by: 'protected user: <b>alice</b> is a "VIP"' }).where('id', '=', id).execute();
}

const get = (api: LinkApi, url: string, remoteAddress = '10.0.0.1') => api.app.inject({ method: 'GET', url, remoteAddress });
const post = (api: LinkApi, url: string, form: Record<string, string>, remoteAddress = '10.0.0.1') =>
  api.app.inject({ method: 'POST', url, remoteAddress, headers: FORM, payload: new URLSearchParams(form).toString() });
const audits = (api: LinkApi, id: string) => api.t.store.db.selectFrom('audit_log').selectAll().where('subject', '=', `action:${id}`).execute();

/** An HTML page under the confirmation pages' headers. */
function assertPage(r: LightMyRequestResponse, status: number): void {
  assert.equal(r.statusCode, status, r.body);
  assert.match(String(r.headers['content-type']), /^text\/html; charset=utf-8/);
  const csp = String(r.headers['content-security-policy']);
  assert.ok(csp.split(';').map((d) => d.trim()).includes("default-src 'none'"), csp);
  assert.match(csp, /frame-ancestors 'none'/);
  assert.doesNotMatch(csp, /script-src/);
  assert.equal(r.headers['cache-control'], 'no-store');
  assert.match(r.body, /^<!doctype html>/);
}

/** The token of a link path with its decision changed (the payload re-encoded, the signature kept). */
function relabel(path: string, decision: string): string {
  const token = path.slice(path.lastIndexOf('/') + 1);
  const [payload, sig] = token.split('.');
  const claim = JSON.parse(Buffer.from(payload!, 'base64url').toString()) as Record<string, unknown>;
  return `/api/v1/approvals/${Buffer.from(JSON.stringify({ ...claim, d: decision })).toString('base64url')}.${sig}`;
}

describe('approval links over the API', () => {
  // One store and one API for the suite (each costs seconds on a loaded machine); each test settles actions of
  // its own. Tests that need another configuration build another API over the same store.
  let store: TestStore | undefined;
  let api0: LinkApi | undefined;
  before(async () => {
    store = await openTestStore('sqlite');
    api0 = await linkApi({ store });
  });
  after(async () => {
    await api0?.close();
    await store?.cleanup();
  });
  const shared = () => {
    if (!store) throw new Error('opened by before()');
    return store;
  };
  /** The suite's API (closing it is after()'s job). */
  const sharedApi = () => {
    if (!api0) throw new Error('built by before()');
    return { ...api0, close: async () => undefined };
  };

  test('GET: a confirmation page naming kind → target and the incident, escaped; it changes nothing', async () => {
    const api = sharedApi();
    const a1 = 'A0';
    try {
      await seed(api, a1);
      const { approve, deny } = api.links(a1);
      const r = await get(api, approve);
      assertPage(r, 200);
      assert.match(r.body, /okta_suspend → okta/);
      assert.ok(r.body.includes('&lt;script&gt;alert(1)&lt;/script&gt;'), r.body);
      assert.ok(!r.body.includes('<script>'), 'the title is not markup');
      assert.ok(r.body.includes('protected user: &lt;b&gt;alice&lt;/b&gt; is a &quot;VIP&quot;'), 'held_by is shown, escaped');
      assert.match(r.body, /<form method="post">/);
      assert.match(r.body, /<input name="name" required/);
      assert.doesNotMatch(r.body, /name="reason"/, 'an approve page asks no reason');
      assert.match(r.body, /<button type="submit">Approve<\/button>/);
      const d = await get(api, deny);
      assertPage(d, 200);
      assert.match(d.body, /name="reason"/);
      assert.match(d.body, /<button type="submit">Deny<\/button>/);
      // HEAD (a link checker) is a GET without a body: nothing changes either.
      assert.equal((await api.app.inject({ method: 'HEAD', url: approve })).statusCode, 200);
      const row = await actionRow(api.t.store.db, a1);
      assert.equal(row.state, 'awaiting_approval');
      assert.equal(row.approved_by, null);
      assert.equal((await audits(api, a1)).length, 0);
    } finally {
      await api.close();
    }
  });

  test('POST approves once (who, audited); a second POST, and the deny link after it, are 409', async () => {
    const api = sharedApi();
    const a1 = 'A1';
    try {
      await seed(api, a1);
      const { approve, deny } = api.links(a1);
      const r = await post(api, approve, { name: '  Dana Scully  ' });
      assertPage(r, 200);
      assert.match(r.body, /okta_suspend → okta is approved: it runs next/);
      const row = await actionRow(api.t.store.db, a1);
      assert.equal(row.state, 'pending');
      assert.equal(row.approved_by, 'Dana Scully (approval link)');
      const a = await audits(api, a1);
      assert.equal(a.length, 1);
      assert.equal(a[0]!.action, 'action.approved');
      assert.equal(a[0]!.actor, 'Dana Scully (approval link)');

      const again = await post(api, approve, { name: 'Fox Mulder' });
      assertPage(again, 409);
      assert.ok(again.body.includes(`action ${a1} is pending; only an action awaiting approval can be approved`), again.body);
      const denied = await post(api, deny, { name: 'Fox Mulder', reason: 'too late' });
      assertPage(denied, 409);
      assert.equal((await actionRow(api.t.store.db, a1)).approved_by, 'Dana Scully (approval link)');
      assert.equal((await audits(api, a1)).length, 1);
      // The page now says so, without a form.
      const page = await get(api, approve);
      assertPage(page, 200);
      assert.match(page.body, /It no longer waits for approval: it is <b>pending<\/b>/);
      assert.doesNotMatch(page.body, /<form/);
    } finally {
      await api.close();
    }
  });

  test('POST on a deny link denies, with the reason (or "no reason given")', async () => {
    const api = sharedApi();
    const [a1, a2] = ['A2', 'B2'];
    try {
      await seed(api, a1);
      await seed(api, a2);
      const r = await post(api, api.links(a1).deny, { name: 'Walter Skinner', reason: 'the user is travelling <legit>' });
      assertPage(r, 200);
      assert.match(r.body, /okta_suspend → okta is denied/);
      const row = await actionRow(api.t.store.db, a1);
      assert.equal(row.state, 'denied');
      assert.equal(row.denied_by, 'Walter Skinner (approval link)');
      assert.equal(row.denial_reason, 'the user is travelling <legit>');
      assert.equal((await audits(api, a1))[0]!.action, 'action.denied');
      assert.equal((await actionRow(api.t.store.db, a2)).state, 'awaiting_approval', 'a link settles only its own action');
      await post(api, api.links(a2).deny, { name: 'Walter Skinner' });
      assert.equal((await actionRow(api.t.store.db, a2)).denial_reason, 'no reason given');
    } finally {
      await api.close();
    }
  });

  test('the decision is in the signed token: an approve link re-labelled deny, or a forged token, is 403 and settles nothing', async () => {
    const api = sharedApi();
    const a1 = 'A3';
    try {
      await seed(api, a1);
      const { approve } = api.links(a1);
      const relabelled = relabel(approve, 'deny');
      assertPage(await post(api, relabelled, { name: 'Krycek', reason: 'x' }), 403);
      assertPage(await get(api, relabelled), 403);
      const otherKey = signLink({ actionId: a1, decision: 'approve', expiresAt: Date.now() + 3_600_000 }, Buffer.alloc(32, 1));
      const forged = await post(api, `/api/v1/approvals/${otherKey}`, { name: 'Krycek' });
      assertPage(forged, 403);
      assert.match(forged.body, /its signature does not match/);
      assert.equal((await actionRow(api.t.store.db, a1)).state, 'awaiting_approval');
      assert.equal((await audits(api, a1)).length, 0);
      // A link to an action that does not exist (signed right): 404 on both.
      const ghost = api.links('GONE');
      assertPage(await get(api, ghost.approve), 404);
      assertPage(await post(api, ghost.approve, { name: 'Krycek' }), 404);
    } finally {
      await api.close();
    }
  });

  test('forged tokens count as failed attempts: past the limit the address gets 429, on links and bearer routes alike', async () => {
    const api = await linkApi({ store: shared(), failedAuth: { limit: 3, windowMs: 60_000 } });
    const a1 = 'A4';
    try {
      await seed(api, a1);
      const { approve } = api.links(a1);
      const forged = relabel(approve, 'deny');
      for (let i = 0; i < 3; i++) assert.equal((await post(api, forged, { name: 'x' }, '10.9.0.1')).statusCode, 403);
      for (const r of [await get(api, approve, '10.9.0.1'), await post(api, approve, { name: 'x' }, '10.9.0.1')]) {
        assert.equal(r.statusCode, 429, 'a valid link too, once limited');
        assert.ok(Number(r.headers['retry-after']) >= 1, String(r.headers['retry-after']));
      }
      const bearer = await api.app.inject({ method: 'GET', url: '/api/v1/incidents', remoteAddress: '10.9.0.1', headers: { authorization: `Bearer ${TOKEN}` } });
      assert.equal(bearer.statusCode, 429, 'one budget per address');
      assert.equal((await actionRow(api.t.store.db, a1)).state, 'awaiting_approval');
      // Another address is not affected.
      assert.equal((await get(api, approve, '10.9.0.2')).statusCode, 200);
      // Wrong bearer tokens use up the same budget.
      for (let i = 0; i < 3; i++) {
        const r = await api.app.inject({ method: 'GET', url: '/api/v1/incidents', remoteAddress: '10.9.0.3', headers: { authorization: 'Bearer wrong-token-0123456789' } });
        assert.equal(r.statusCode, 401);
      }
      assert.equal((await get(api, approve, '10.9.0.3')).statusCode, 429);
      // Expired links are not guesses: not counted.
      const old = `/api/v1/approvals/${signLink({ actionId: a1, decision: 'approve', expiresAt: Date.now() - 1000 }, api.key)}`;
      for (let i = 0; i < 5; i++) assert.equal((await get(api, old, '10.9.0.4')).statusCode, 410);
      assert.equal((await get(api, approve, '10.9.0.4')).statusCode, 200);
    } finally {
      await api.close();
    }
  });

  test('an expired link is 410 on GET and POST and settles nothing', async () => {
    const api = sharedApi();
    const a1 = 'A5';
    try {
      await seed(api, a1);
      const expiresAt = Date.now() - 1000;
      const old = `/api/v1/approvals/${signLink({ actionId: a1, decision: 'approve', expiresAt }, api.key)}`;
      const g = await get(api, old);
      assertPage(g, 410);
      assert.ok(g.body.includes(`this approval link expired at ${new Date(Math.floor(expiresAt / 1000) * 1000).toISOString()}`), g.body);
      assertPage(await post(api, old, { name: 'Dana' }), 410);
      assert.equal((await actionRow(api.t.store.db, a1)).state, 'awaiting_approval');
      // A link made with the action's deadline already past is expired too.
      assertPage(await get(api, api.links(a1, Date.now() - 1).approve), 410);
    } finally {
      await api.close();
    }
  });

  test('an API without a link key answers 404 on both routes', async () => {
    const api = await linkApi({ store: shared(), noKey: true });
    const a1 = 'A6';
    try {
      await seed(api, a1);
      const { approve } = api.links(a1);
      const g = await get(api, approve);
      assertPage(g, 404);
      assert.match(g.body, /Approval links are off/);
      assertPage(await post(api, approve, { name: 'Dana' }), 404);
      assert.equal((await actionRow(api.t.store.db, a1)).state, 'awaiting_approval');
    } finally {
      await api.close();
    }
  });

  test('POST takes only a form with a name: no name, an empty one, a stray field or text/plain is 400', async () => {
    const api = sharedApi();
    const a1 = 'A7';
    try {
      await seed(api, a1);
      const { approve } = api.links(a1);
      const forms: Record<string, string>[] = [{}, { name: '' }, { reason: 'x' }, { name: 'Dana', extra: '1' }, { name: 'x'.repeat(101) }];
      for (const form of forms) {
        const r = await post(api, approve, form);
        assert.equal(r.statusCode, 400, `${JSON.stringify(form)}: ${r.body}`);
      }
      const text = await api.app.inject({ method: 'POST', url: approve, headers: { 'content-type': 'text/plain' }, payload: 'name=Dana' });
      assert.ok(text.statusCode === 400 || text.statusCode === 415, `text/plain: ${text.statusCode}`);
      const none = await api.app.inject({ method: 'POST', url: approve });
      assert.ok(none.statusCode === 400 || none.statusCode === 415, `no body: ${none.statusCode}`);
      assert.equal((await actionRow(api.t.store.db, a1)).state, 'awaiting_approval');
    } finally {
      await api.close();
    }
  });

  test('POST with a JSON body is 415 (the route takes its form only)', async () => {
    const api = sharedApi();
    const a1 = 'A8';
    try {
      await seed(api, a1);
      const r = await api.app.inject({ method: 'POST', url: api.links(a1).approve, payload: { name: 'Dana' } });
      assert.equal(r.statusCode, 415, r.body);
      assert.deepEqual(r.json().allowed, ['application/x-www-form-urlencoded']);
      assert.equal((await actionRow(api.t.store.db, a1)).state, 'awaiting_approval');
    } finally {
      await api.close();
    }
  });

  test('POST with a name of only white space is refused (the audit log must name someone)', async () => {
    const api = sharedApi();
    const a1 = 'A9';
    try {
      await seed(api, a1);
      const r = await post(api, api.links(a1).approve, { name: '   ' });
      assert.equal(r.statusCode, 400, r.body);
      assert.equal((await actionRow(api.t.store.db, a1)).state, 'awaiting_approval');
    } finally {
      await api.close();
    }
  });

  test('the link routes take no bearer token; every other route still needs one', async () => {
    const api = sharedApi();
    const a1 = 'A10';
    try {
      await seed(api, a1);
      const { approve } = api.links(a1);
      assert.equal((await get(api, approve)).statusCode, 200);
      for (const url of ['/api/v1/incidents', '/api/v1/actions', '/api/v1/incidents/INC1']) {
        assert.equal((await api.app.inject({ method: 'GET', url })).statusCode, 401, url);
      }
      const approveByApi = await api.app.inject({ method: 'POST', url: `/api/v1/actions/${a1}/approve`, payload: {} });
      assert.equal(approveByApi.statusCode, 401);
      assert.equal((await api.app.inject({ method: 'GET', url: '/api/v1/incidents', headers: { authorization: `Bearer ${TOKEN}` } })).statusCode, 200);
      // A bearer token on a link route is neither needed nor a substitute for the link.
      const r = await api.app.inject({ method: 'POST', url: relabel(approve, 'deny'), headers: { ...FORM, authorization: `Bearer ${TOKEN}` }, payload: 'name=Dana' });
      assert.equal(r.statusCode, 403);
      assert.equal((await post(api, approve, { name: 'Dana' })).statusCode, 200);
    } finally {
      await api.close();
    }
  });
});

/**
 * The slack action `slackId` posts the buttons of the awaiting action `edrId`; its Approve URL is posted to; the
 * executor's next round runs it.
 */
async function endToEnd(slackId: string, edrId: string): Promise<void> {
  const api = await linkApi();
  const sl = slackServer();
  const hook = 'xHookSecretApprovalLinks0001';
  sl.webhooks.set(hook, { channel: 'C0SOC' });
  const server = await startContract(sl.handler);
  process.env.FIDO_TEST_SLACK_LINKS_HOOK = `${server.url}/services/T0FIDO/B0FIDO/${hook}`;
  const slackTarget = await slack.create(
    { name: 'soc-slack', kind: 'slack', webhook_url: '${env:FIDO_TEST_SLACK_LINKS_HOOK}', allow_private: true },
    // The executor's links, signed with the key the API verifies with (app.ts gives both the same key).
    { configDir: '.', publicUrl: `${PUBLIC_URL}/`, approvalLinks: approvalLinkMaker({ publicUrl: `${PUBLIC_URL}/`, key: api.key }) },
  );
  const ran: ActionContext[] = [];
  const edr: ActionTarget = {
    name: 'edr-hook',
    kind: 'webhook',
    execute: async (ctx) => {
      ran.push(ctx);
      return { detail: { delivered: true } };
    },
  };
  try {
    const db = api.t.store.db;
    const now = Date.now();
    const deadline = now + 10 * 60_000;
    await seedIncident(db, sampleIncident('INC1'));
    await insertAction(db, { id: slackId, incident_id: 'INC1', kind: 'slack', target: 'soc-slack', now });
    await insertAction(db, { id: edrId, incident_id: 'INC1', kind: 'webhook', target: 'edr-hook', state: 'awaiting_approval', approval: { approval_due_at: deadline, approval_default: 'deny' }, now });
    const ex = createActionExecutor({ store: api.t.store, targets: new Map([['soc-slack', slackTarget], ['edr-hook', edr]]), maxAttempts: 3, backoffBaseMs: 1000, backoffMaxMs: 60_000, leaseMs: 30_000, owner: 'ex' });

    assert.equal((await ex.runOnce()).succeeded, 1);
    assert.equal((await actionRow(db, slackId)).state, 'succeeded');
    assert.equal(ran.length, 0, 'the awaiting action does not run');
    assert.equal(sl.posts.length, 1);
    // What Slack received, as JSON: the buttons of the waiting action.
    const received = JSON.parse(server.requests.find((r) => r.path.startsWith('/services/'))!.body) as { blocks: { type: string; elements?: { action_id?: string; url?: string }[] }[] };
    const buttons = received.blocks.filter((b) => b.type === 'actions').flatMap((b) => b.elements ?? []);
    const approveUrl = buttons.find((b) => b.action_id === `approve-${edrId}`)?.url;
    const denyUrl = buttons.find((b) => b.action_id === `deny-${edrId}`)?.url;
    assert.ok(approveUrl && denyUrl, JSON.stringify(buttons));
    assert.ok(approveUrl.startsWith(`${PUBLIC_URL}/api/v1/approvals/`), approveUrl);
    const context = JSON.stringify(received.blocks);
    assert.ok(context.includes(`expire at ${new Date(deadline).toISOString()}`), 'the links end at the approval deadline, not 8 hours on');

    // The person opens the link, then submits the page's form.
    assert.equal((await get(api, new URL(approveUrl).pathname)).statusCode, 200);
    assert.equal((await actionRow(db, edrId)).state, 'awaiting_approval');
    const r = await post(api, new URL(approveUrl).pathname, { name: 'Dana Scully' });
    assert.equal(r.statusCode, 200, r.body);
    const approved = await actionRow(db, edrId);
    assert.equal(approved.state, 'pending');
    assert.equal(approved.approved_by, 'Dana Scully (approval link)');
    assert.equal((await post(api, new URL(denyUrl).pathname, { name: 'Krycek' })).statusCode, 409, 'the other button is spent too');

    assert.equal((await ex.runOnce()).succeeded, 1);
    assert.equal(ran.length, 1);
    assert.equal(ran[0]!.action.id, edrId);
    assert.equal((await actionRow(db, edrId)).state, 'succeeded');
  } finally {
    delete process.env.FIDO_TEST_SLACK_LINKS_HOOK;
    await slackTarget.close?.();
    await server.close();
    await api.close();
  }
}

// Short ids: links to them fit Fastify's default 100-character path parameter (see the next test).
test('end to end: the Approve button Slack received approves the action, and the next executor round runs it', () => endToEnd('S1', 'E1'));

test('end to end with the ULID action ids the decide stage makes', () =>
  endToEnd(ulid(), ulid()),
);
