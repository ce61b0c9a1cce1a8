/**
 * slack against a local server that speaks Slack's documented incoming webhooks
 * (https://api.slack.com/messaging/webhooks, #handling_errors) and chat.postMessage
 * (https://api.slack.com/methods/chat.postMessage, https://api.slack.com/apis/rate-limits), and refuses what
 * Block Kit's limits refuse (https://api.slack.com/reference/block-kit/blocks): test/support/contracts/slack.ts.
 * Escaping per https://api.slack.com/reference/surfaces/formatting#escaping.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import slack, { slackEscape, type SlackConfig } from '../../src/actions/kinds/slack.js';
import type { ActionContext, ActionDeps, ActionTarget } from '../../src/actions/action.js';
import { entryProblem } from '../../src/component/instantiate.js';
import type { AnyComponent, ComponentEntry } from '../../src/component/component.js';
import type { IncidentDetail } from '../../src/model/incident.js';
import { slackServer } from '../support/contracts/slack.js';
import { openTestStore } from '../support/stores.js';
import { waitFor } from '../support/wait.js';
import { actionRow, insertAction, sampleIncident, seedIncident } from './fixtures.js';
import { actionCtx, refused, suiteServer, testExecutor } from './support.js';
import { incident, links, noLinks, withLinks } from './chat-fixtures.js';

const HOOK_SECRET = 'xHookSecret0123456789abcd';
const HOOK_PATH = `/services/T0FIDO/B0FIDO/${HOOK_SECRET}`;
const TOKEN = 'xoxb-1234-5678-SECRETtoken';
const HOSTILE = '<!channel> <https://evil.example/x|click here> *bold* _it_ @here @everyone <@U123> <b>html</b> & &amp; {{DATE(2017-02-14T06:08:00Z)}}';

const ctx = (i: IncidentDetail = incident(), signal?: AbortSignal): ActionContext => actionCtx('slack', 'soc-slack', i, signal ? { signal } : {});

/** Every text object in the blocks. */
function textObjects(blocks: Record<string, unknown>[]): { type: string; text: string; verbatim?: boolean }[] {
  const out: { type: string; text: string; verbatim?: boolean }[] = [];
  const walk = (v: unknown) => {
    if (Array.isArray(v)) return v.forEach(walk);
    if (v && typeof v === 'object') {
      const o = v as Record<string, unknown>;
      if ((o.type === 'plain_text' || o.type === 'mrkdwn') && typeof o.text === 'string') out.push(o as { type: string; text: string; verbatim?: boolean });
      else Object.values(o).forEach(walk);
    }
  };
  walk(blocks);
  return out;
}
const buttons = (blocks: Record<string, unknown>[]) => blocks.filter((b) => b.type === 'actions').flatMap((b) => b.elements as { text: { text: string }; url: string; style?: string }[]);

describe('slack', () => {
  const sl = slackServer();
  const suite = suiteServer(sl.handler);
  sl.webhooks.set(HOOK_SECRET, { channel: 'C0SOC' });
  sl.channels.push({ id: 'C0SOC', name: 'soc', members: [TOKEN] }, { id: 'C0OLD', name: 'old', archived: true, members: [TOKEN] }, { id: 'C0PRIV', name: 'private', members: [] });

  async function target(over: Partial<SlackConfig> = {}, deps: ActionDeps = withLinks): Promise<ActionTarget> {
    process.env.FIDO_TEST_SLACK_HOOK = `${suite.server.url}${HOOK_PATH}`;
    const t = await slack.create({ name: 'soc-slack', kind: 'slack', webhook_url: '${env:FIDO_TEST_SLACK_HOOK}', allow_private: true, ...over }, deps);
    return suite.track(t);
  }
  const bot = (over: Partial<SlackConfig> = {}) => target({ webhook_url: undefined, token: TOKEN, channel: 'C0SOC', api_url: `${suite.server.url}/api`, ...over });
  const last = () => sl.posts[sl.posts.length - 1]!;
  /** The secret never shows: not the URL, its path, or its last segment. */
  const clean = (text: string) => {
    for (const s of [HOOK_SECRET, HOOK_PATH, TOKEN]) assert.ok(!text.includes(s), `secret in: ${text}`);
  };

  test('schema and check errors name the key', () => {
    const base = { name: 'soc-slack', kind: 'slack', webhook_url: '${env:HOOK}' };
    const problem = (over: Record<string, unknown>) => entryProblem(slack as unknown as AnyComponent, { ...base, ...over } as ComponentEntry, 'actions.targets.soc-slack');
    assert.equal(problem({}), null);
    assert.equal(problem({ webhook_url: undefined, token: '${env:TOKEN}', channel: 'C0SOC' }), null);
    assert.match(problem({ token: '${env:TOKEN}' }) ?? '', /webhook_url: set either webhook_url/);
    assert.match(problem({ webhook_url: undefined }) ?? '', /webhook_url: set either/);
    assert.match(problem({ webhook_url: undefined, token: '${env:TOKEN}' }) ?? '', /channel: required with token/);
    assert.match(problem({ webhook_url: 'http://127.0.0.1:9/services/x' }) ?? '', /^actions\.targets\.soc-slack\.webhook_url: /);
    assert.match(problem({ extra: 1 }) ?? '', /actions\.targets\.soc-slack/);
  });

  test('a referenced webhook URL is checked when resolved, without quoting it', async () => {
    process.env.FIDO_TEST_SLACK_PRIVATE = 'http://10.1.2.3/services/T0/B0/xPrivateHookSecret';
    await assert.rejects(
      slack.create({ name: 'soc-slack', kind: 'slack', webhook_url: '${env:FIDO_TEST_SLACK_PRIVATE}' }, withLinks),
      (e: Error) => /^actions\.targets\.soc-slack\.webhook_url: /.test(e.message) && !e.message.includes('xPrivateHookSecret'),
    );
  });

  test('webhook: the message carries the title, score, factors, the signed buttons, the incident link and the delivery key', async () => {
    const t = await target();
    const r = await t.execute(ctx(incident({ awaiting: 2 })));
    assert.deepEqual(r.detail, { mode: 'webhook', status: 200, response: 'ok' });
    const p = last();
    assert.equal(p.via, 'webhook');
    assert.equal(p.body.unfurl_links, false);
    assert.equal(p.body.unfurl_media, false);
    assert.equal(p.body.mrkdwn, false);
    const texts = textObjects(p.blocks).map((o) => o.text).join('\n');
    assert.match(p.blocks[0]!.type as string, /header/);
    assert.match(texts, /HIGH 85\/100 · Beacon from ws-042/);
    assert.match(texts, /Score: 85\/100 \(high\)/);
    assert.match(texts, /Decision: notify \(rule notify-high\)/);
    assert.match(texts, /\+60 threat\.intel: evil\.example listed by abuse\.ch &lt;feodo&gt;/);
    assert.match(texts, /Waiting for approval: okta_suspend on okta/);
    assert.match(texts, /expire at 2026-11-28T12:00:00\.000Z/);
    assert.match(texts, /delivery INC1:ACT1:soc-slack/);
    assert.match(p.text ?? '', /^Fido: HIGH 85\/100 · Beacon/);
    const b = buttons(p.blocks);
    assert.deepEqual(
      b.map((x) => [x.text.text, x.url, x.style ?? null]),
      [
        ['Approve', links('ACT-W1').approve, 'primary'],
        ['Deny', links('ACT-W1').deny, 'danger'],
        ['Approve', links('ACT-W2').approve, 'primary'],
        ['Deny', links('ACT-W2').deny, 'danger'],
        ['Open incident', 'https://fido.example/api/v1/incidents/INC1', null],
      ],
    );
  });

  test('without signed links the message says where to approve instead', async () => {
    const t = await target({}, noLinks);
    await t.execute(ctx());
    const p = last();
    assert.deepEqual(buttons(p.blocks).map((x) => x.text.text), ['Open incident']);
    const texts = textObjects(p.blocks).map((o) => o.text).join('\n');
    assert.match(texts, /POST https:\/\/fido\.example\/api\/v1\/actions\/ACT-W1\/approve \(or \/deny\), action ACT-W1/);
  });

  test('hostile alert text is inert: no mention, link or markup reaches Slack', async () => {
    const t = await target();
    await t.execute(ctx(incident({ title: HOSTILE })));
    const p = last();
    const raw = JSON.stringify(p.body);
    // No <…> at all: no <!channel>, <@U…>, <url|label> (button URLs are Fido's own and have none).
    assert.ok(!raw.includes('<') && !raw.includes('>'), raw);
    assert.ok(!/@(here|everyone|channel)\b/.test(raw), 'mentions are broken');
    assert.ok(raw.includes('&lt;!channel&gt;') && raw.includes('&amp;amp;'));
    assert.ok(!buttons(p.blocks).some((b) => b.url.includes('evil')));
    // No mrkdwn anywhere: *bold* and the rest stay text.
    assert.deepEqual([...new Set(textObjects(p.blocks).map((o) => o.type))], ['plain_text']);
    assert.equal(p.body.mrkdwn, false);
    assert.ok(textObjects(p.blocks).some((o) => o.text.includes('*bold*')));
    assert.equal(slackEscape('a&b<c>d @channel'), 'a&amp;b&lt;c&gt;d @\u200bchannel');
  });

  test('long text and many approvals stay inside Block Kit limits', async () => {
    const t = await target();
    const i = incident({ title: `${'A'.repeat(4000)}&<>`, awaiting: 30 });
    i.score = { ...i.score!, explanation: Array.from({ length: 40 }, (_, k) => ({ factor: `f${k}`, points: k, evidence: 'e&'.repeat(2000) })) };
    await t.execute(ctx(i));
    const p = last();
    assert.ok(p.blocks.length <= 50);
    const texts = textObjects(p.blocks).map((o) => o.text).join('\n');
    assert.match(texts, /20 more actions wait for approval/);
    assert.equal(buttons(p.blocks).filter((b) => b.text.text === 'Approve').length, 10);
  });

  test('webhook errors: gone, archived, prohibited and refused payloads are final; 429 waits; 5xx and hangs are retried; the URL never shows', async () => {
    const t = await target();
    const gone = await target({ webhook_url: `${suite.server.url}/services/T0FIDO/B0FIDO/${HOOK_SECRET}Z` });
    const errors = [await refused(gone.execute(ctx()), /answered 404: no_service \(the webhook or its channel was removed/, false)];
    sl.webhooks.set(HOOK_SECRET, { channel: 'C0SOC', archived: true });
    errors.push(await refused(t.execute(ctx()), /410: channel_is_archived/, false));
    sl.webhooks.set(HOOK_SECRET, { channel: 'C0SOC', prohibited: true });
    errors.push(await refused(t.execute(ctx()), /403: action_prohibited/, false));
    sl.webhooks.set(HOOK_SECRET, { channel: 'C0SOC' });
    sl.state.burst = 1;
    sl.state.retryAfter = '3';
    sl.resetRate();
    await t.execute(ctx());
    const rl = await refused(t.execute(ctx()), /429: rate_limited/, true);
    assert.equal(rl.retryAfterMs, 3000);
    errors.push(rl);
    sl.state.burst = Infinity;
    try {
      sl.setOverride(() => ({ status: 400, body: 'invalid_payload' }));
      errors.push(await refused(t.execute(ctx()), /400: invalid_payload/, false));
      sl.setOverride(() => ({ status: 500, body: 'rollup_error' }));
      errors.push(await refused(t.execute(ctx()), /500: rollup_error/, true));
      sl.setOverride(() => ({ hang: true }));
      const ac = new AbortController();
      const n = sl.state.calls;
      const call = t.execute(ctx(incident(), ac.signal));
      await waitFor('the hung request', () => sl.state.calls > n, 5000);
      ac.abort();
      const hung = await refused(call, /no answer before the call's time limit/, true);
      assert.equal(hung.unknownOutcome, false, 'no idempotency key on Slack: a retry, not a reconcile');
      errors.push(hung);
    } finally {
      sl.setOverride(null);
    }
    for (const e of errors) clean(e.message);
    const closed = await target({ webhook_url: 'http://127.0.0.1:9/services/T0FIDO/B0FIDO/xClosedPortSecret' });
    const down = await refused(closed.execute(ctx()), /ECONNREFUSED|failed/, true);
    assert.ok(!down.message.includes('xClosedPortSecret'), down.message);
  });

  test('chat.postMessage: posts with the bot token to the channel; returns channel and ts', async () => {
    const t = await bot();
    const r = await t.execute(ctx());
    assert.equal(r.detail.mode, 'bot');
    assert.equal(r.detail.channel, 'C0SOC');
    assert.match(String(r.detail.ts), /^\d+\.\d+$/);
    const p = last();
    assert.equal(p.via, 'api');
    assert.equal(p.body.channel, 'C0SOC');
    assert.equal(p.body.link_names, false);
    assert.equal(buttons(p.blocks)[0]!.url, links('ACT-W1').approve);
    const req = suite.server.requests[suite.server.requests.length - 1]!;
    assert.equal(req.headers.authorization, `Bearer ${TOKEN}`);
    assert.ok(!req.path.includes(TOKEN) && !req.body.includes(TOKEN));
  });

  test('chat.postMessage errors: auth and channel problems are final, ratelimited waits, internal errors and malformed answers are retried', async () => {
    const bad = await bot({ token: 'xoxb-wrong-token-0000' });
    const auth = await refused(bad.execute(ctx()), /chat\.postMessage failed: invalid_auth \(check the bot token/, false);
    assert.ok(!auth.message.includes('xoxb-wrong-token-0000'));
    await refused((await bot({ channel: 'C0NOPE' })).execute(ctx()), /channel_not_found/, false);
    await refused((await bot({ channel: 'C0PRIV' })).execute(ctx()), /not_in_channel/, false);
    await refused((await bot({ channel: '#old' })).execute(ctx()), /is_archived/, false);
    const t = await bot();
    sl.state.burst = 0;
    sl.state.retryAfter = '30';
    sl.resetRate();
    const rl = await refused(t.execute(ctx()), /429/, true);
    assert.equal(rl.retryAfterMs, 30_000);
    sl.state.burst = Infinity;
    try {
      sl.setOverride(() => ({ json: { ok: false, error: 'internal_error' } }));
      await refused(t.execute(ctx()), /internal_error/, true);
      sl.setOverride(() => ({ status: 200, body: '<html>maintenance</html>' }));
      await refused(t.execute(ctx()), /not JSON/, true);
      sl.setOverride(() => ({ json: { channel: 'C0SOC' } }));
      await refused(t.execute(ctx()), /without an `ok` field/, true);
      sl.setOverride(() => ({ status: 503, body: 'upstream connect error' }));
      const e = await refused(t.execute(ctx()), /503/, true);
      clean(e.message);
    } finally {
      sl.setOverride(null);
    }
  });

  test('through the executor: a pending slack action posts the buttons of the incident\'s waiting action', async () => {
    const st = await openTestStore('sqlite');
    const t = await target();
    try {
      const now = Date.now();
      const i = sampleIncident('INC-S1');
      await seedIncident(st.store.db, i);
      await insertAction(st.store.db, { id: 'ACT-S1', incident_id: i.id, kind: 'slack', target: 'soc-slack', now });
      await insertAction(st.store.db, { id: 'ACT-S2', incident_id: i.id, kind: 'okta_suspend', target: 'okta', state: 'awaiting_approval', now });
      const before = sl.posts.length;
      const ex = testExecutor(st.store, 'soc-slack', t, Date.now);
      assert.equal((await ex.runOnce()).succeeded, 1);
      const row = await actionRow(st.store.db, 'ACT-S1');
      assert.equal(row.state, 'succeeded');
      assert.deepEqual(JSON.parse(row.result!), { mode: 'webhook', status: 200, response: 'ok' });
      assert.equal(sl.posts.length, before + 1);
      const p = last();
      assert.deepEqual(buttons(p.blocks).slice(0, 2).map((b) => b.url), [links('ACT-S2').approve, links('ACT-S2').deny]);
      assert.match(textObjects(p.blocks).map((o) => o.text).join('\n'), /delivery INC-S1:ACT-S1:soc-slack/);
      assert.equal((await actionRow(st.store.db, 'ACT-S2')).state, 'awaiting_approval');
    } finally {
      await st.cleanup();
    }
  });
});
