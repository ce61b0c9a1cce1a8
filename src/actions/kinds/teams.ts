/**
 * teams: posts an incident to a Microsoft Teams channel as an Adaptive Card, with Approve / Deny buttons
 * (Action.OpenUrl: signed, expiring links to Fido's confirmation page) for the actions that wait for a person.
 *
 *   - name: soc-teams
 *     kind: teams
 *     webhook_url: ${env:FIDO_TEAMS_WEBHOOK}   # a Workflows "When a Teams webhook request is received" URL
 *
 * The POST (https://learn.microsoft.com/microsoftteams/platform/webhooks-and-connectors/how-to/add-incoming-webhook,
 * …/how-to/connectors-using#send-adaptive-cards-using-an-incoming-webhook): `{type: "message", attachments:
 * [{contentType: "application/vnd.microsoft.card.adaptive", content: <AdaptiveCard 1.4>}]}`, under about 28 KB.
 * A Workflows trigger answers 202 Accepted; a (retired) Office 365 connector webhook answers 200 "1", and 200
 * with "Webhook message delivery failed with error: Microsoft Teams endpoint returned HTTP error <status>" when
 * Teams refused it, which is read as that status.
 * Errors: 400 (a card Teams refuses, "Summary or Text is required", a trigger schema mismatch) and 413 (too
 * large) are permanent; 401/403 (the URL's signature refused) and 404 / 410 (the webhook or its flow was
 * removed) are permanent; 429 (more than four requests a second per webhook; Power Automate's throttling)
 * waits for Retry-After; 408 and 5xx, malformed answers and network failures are retried.
 *
 * Escaping: every string from the incident is attacker-controlled. TextBlock text is Markdown (bold, italic,
 * lists, [links](url): https://learn.microsoft.com/adaptive-cards/authoring-cards/text-features) and its
 * backslash escapes are honoured differently by each Teams client (microsoft/AdaptiveCards #5758, #4677, #7474),
 * so incident text never goes into a TextBlock: it goes into RichTextBlock TextRuns, which are not
 * Markdown-processed, with `{{` broken so that no DATE()/TIME() function is evaluated. TextBlocks carry Fido's
 * own words only.
 *
 * A webhook takes no idempotency key: a retry after a crash in the middle may post twice. The footer names the
 * delivery (its idempotency key), so a duplicate is recognisable.
 */
import { Type, type Static } from 'typebox';
import { Duration } from '../../config/schema.js';
import { parseDuration } from '../../config/duration.js';
import type { ComponentProblem } from '../../component/component.js';
import { isSecretRef } from '../../config/secrets.js';
import { outboundUrlProblem } from '../../util/outbound.js';
import { defineAction, type ActionContext, type ActionDeps, type ActionOutcome, type ActionTarget } from '../action.js';
import { secretValue } from '../target-config.js';
import { chatMessage, secretUrlClient, webhookStatusError, type ChatMessage } from './lib/chat-message.js';
import { remoteActionError } from './lib/remote-action.js';

export const TeamsSchema = Type.Object(
  {
    name: Type.String(),
    kind: Type.Literal('teams'),
    webhook_url: Type.String({ minLength: 1, description: 'Workflows (or incoming) webhook URL, as a secret reference (${env:NAME}): the URL is the credential' }),
    timeout: Type.Optional(Duration),
    allow_private: Type.Optional(Type.Boolean({ description: 'Allow a URL on a private or loopback address (a proxy, a test double)' })),
    tls_ca_file: Type.Optional(Type.String({ description: 'PEM file of a private CA (a TLS-inspecting proxy)' })),
  },
  { additionalProperties: false },
);
export type TeamsConfig = Static<typeof TeamsSchema>;

const DEFAULT_TIMEOUT_MS = 10_000;
/** What a legacy connector says in a 200 when Teams refused the message. */
const DELIVERY_FAILED = 'Webhook message delivery failed';

function check(cfg: TeamsConfig): ComponentProblem[] {
  // A reference is checked at start, resolved (validate does not resolve secrets).
  if (isSecretRef(cfg.webhook_url)) return [];
  const p = outboundUrlProblem(cfg.webhook_url, { allowPrivate: cfg.allow_private ?? false });
  return p ? [{ key: 'webhook_url', message: p }] : [];
}

// --- Rendering ---------------------------------------------------------------------------------------

/** Alert text for a TextRun (shown as is): only the `{{DATE(…)}}` / `{{TIME(…)}}` functions are broken. */
export function teamsText(text: string): string {
  return text.replace(/\{\{/g, '{\u200b{');
}

type Element = Record<string, unknown>;

function run(text: string, o: Record<string, unknown> = {}): Element {
  return { type: 'TextRun', text: teamsText(text), ...o };
}

/** One line of runs (RichTextBlock: no Markdown). */
function rich(inlines: Element[], o: Record<string, unknown> = {}): Element {
  return { type: 'RichTextBlock', inlines, ...o };
}

/** Fido's own words (a TextBlock is Markdown: never incident text). */
function label(text: string, o: Record<string, unknown> = {}): Element {
  return { type: 'TextBlock', text, wrap: true, ...o };
}

function openUrl(title: string, url: string, style?: 'positive' | 'destructive'): Element | null {
  return /^https?:\/\//i.test(url) ? { type: 'Action.OpenUrl', title, url, ...(style ? { style } : {}) } : null;
}

const COLORS: Record<string, string> = { critical: 'attention', high: 'attention', medium: 'warning', low: 'default', info: 'default' };

/** The Adaptive Card for `m`. */
export function teamsCard(m: ChatMessage): Element {
  const body: Element[] = [
    label(`Fido · ${m.severity}`, { weight: 'bolder', color: COLORS[m.band] ?? 'default', size: 'medium' }),
    rich([run(m.title, { weight: 'bolder', size: 'large' })]),
    ...m.facts.map((f) => rich([run(`${f.label}: `, { weight: 'bolder' }), run(f.value)])),
  ];
  if (m.factors.length) body.push(label('Why this score', { weight: 'bolder', spacing: 'medium' }), ...m.factors.map((f) => rich([run(f)])));
  if (m.indicators.length) body.push(label('Indicators', { weight: 'bolder', spacing: 'medium' }), rich([run(m.indicators.join(' · '))]));
  for (const a of m.approvals) {
    const buttons = a.links ? [openUrl('Approve', a.links.approve, 'positive'), openUrl('Deny', a.links.deny, 'destructive')].filter((b): b is Element => b !== null) : [];
    const items: Element[] = [rich([run('Waiting for approval: ', { weight: 'bolder' }), run(a.what)])];
    if (a.links && buttons.length === 2) {
      items.push({ type: 'ActionSet', actions: buttons }, label(`The links open a confirmation page in Fido and expire at ${a.links.expires_at}.`, { isSubtle: true, size: 'small' }));
    } else {
      items.push(rich([run(a.hint, { isSubtle: true })]));
    }
    body.push({ type: 'Container', separator: true, spacing: 'medium', items });
  }
  if (m.more_approvals > 0) body.push(label(`${m.more_approvals} more actions wait for approval: see the incident in Fido.`, { isSubtle: true }));
  body.push(rich([run(m.footer, { isSubtle: true, size: 'small' })], { separator: true }));
  const open = m.link ? openUrl('Open incident', m.link) : null;
  return {
    $schema: 'http://adaptivecards.io/schemas/adaptive-card.json',
    type: 'AdaptiveCard',
    version: '1.4',
    msteams: { width: 'Full' },
    body,
    actions: open ? [open] : [],
  };
}

/** The webhook body: one message with the card attached. */
export function teamsPayload(m: ChatMessage): Record<string, unknown> {
  return { type: 'message', attachments: [{ contentType: 'application/vnd.microsoft.card.adaptive', contentUrl: null, content: teamsCard(m) }] };
}

// --- Delivery ----------------------------------------------------------------------------------------

function hint(status: number): string | undefined {
  if (status === 401 || status === 403) return "the webhook URL's signature was refused; copy the URL again";
  if (status === 404 || status === 410) return 'the webhook or its workflow was removed; create a new one';
  if (status === 413) return 'the card is too large';
  if (status === 429) return 'Teams throttles a webhook beyond about four requests a second';
  return undefined;
}

async function create(cfg: TeamsConfig, deps: ActionDeps): Promise<ActionTarget> {
  const key = `actions.targets.${cfg.name}`;
  const problem = check(cfg)[0];
  if (problem) throw new Error(`${key}.${problem.key}: ${problem.message}`);
  const timeoutMs = cfg.timeout !== undefined ? parseDuration(cfg.timeout, `${key}.timeout`) : DEFAULT_TIMEOUT_MS;
  const { client, scrub } = secretUrlClient(secretValue(cfg.webhook_url, `${key}.webhook_url`), cfg, deps, timeoutMs);

  async function execute(ctx: ActionContext): Promise<ActionOutcome> {
    const body = teamsPayload(chatMessage(ctx, deps));
    try {
      const res = await client.send({ method: 'POST', path: '', json: body, as: 'text', signal: ctx.signal });
      const text = String(res.body);
      if (res.status < 200 || res.status >= 300) throw webhookStatusError(res, 'Teams webhook', scrub, hint);
      if (text.includes(DELIVERY_FAILED)) {
        // A legacy connector's 200 that reports Teams' own status: read as that status.
        const inner = Number(/HTTP error (\d{3})/.exec(text)?.[1] ?? 502);
        throw webhookStatusError({ ...res, status: inner }, 'Teams webhook (via a 200)', scrub, hint);
      }
      return { detail: { status: res.status, response: scrub(text.replace(/\s+/g, ' ').trim().slice(0, 100)) } };
    } catch (e) {
      // No idempotency key on Teams' side: a call that may have gone out is retried, not reconciled.
      throw remoteActionError(e, { mutating: false, prefix: key, scrub, signal: ctx.signal });
    }
  }

  return { name: cfg.name, kind: 'teams', execute, close: () => client.close() };
}

const teams = defineAction({
  kind: 'teams',
  description: 'Posts the incident to a Microsoft Teams channel (Workflows webhook) as an Adaptive Card with Approve / Deny buttons',
  schema: TeamsSchema,
  check,
  create,
});
export default teams;
