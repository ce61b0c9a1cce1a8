/**
 * A stand-in for a Microsoft Teams Workflows webhook ("When a Teams webhook request is received", Power
 * Automate), after the documented behaviour (served by test/support/contract.ts):
 * https://learn.microsoft.com/microsoftteams/platform/webhooks-and-connectors/how-to/add-incoming-webhook
 * (a message with an Adaptive Card attachment; about 28 KB at most; more than four requests a second per
 * webhook are throttled with 429) and https://learn.microsoft.com/power-automate/limits-and-config (429 with
 * Retry-After). The URL is /workflows/<id>/triggers/manual/paths/invoke?api-version=1&sp=…&sv=1.0&sig=<secret>:
 * an unknown workflow is 404, a wrong signature 401, a body that is not a message with an Adaptive Card 400,
 * a body over 28 KB 413; accepted is 202 with no body. `legacy` answers as a retired Office 365 connector:
 * 200 "1", and 200 "Webhook message delivery failed with error: Microsoft Teams endpoint returned HTTP error
 * <status>" for what it refused. `override` answers before the rules (5xx, hangs); `burst` is how many
 * messages are accepted before 429s (the rate limit, without a clock).
 */
import type { ContractReply, ContractRequest } from '../contract.js';

export interface TeamsPost {
  workflow: string;
  /** The Adaptive Card (attachments[0].content). */
  card: Record<string, unknown>;
  body: Record<string, unknown>;
}

const MAX_BYTES = 28 * 1024;

export function teamsServer() {
  /** Workflow id → its signature. */
  const workflows = new Map<string, string>();
  const posts: TeamsPost[] = [];
  const state = { burst: Infinity, retryAfter: '2', legacy: false, calls: 0 };
  let sent = 0;
  let override: ((r: ContractRequest) => ContractReply | undefined) | null = null;

  const refuse = (status: number, code: string, message: string): ContractReply =>
    state.legacy
      ? { status: 200, body: `Webhook message delivery failed with error: Microsoft Teams endpoint returned HTTP error ${status} with ContextId tcid=0,server=msgapi-production-weu-azsc2-1-42,cv=xyz.0..` }
      : { status, json: { error: { code, message } } };

  const handler = (r: ContractRequest): ContractReply => {
    state.calls += 1;
    const o = override?.(r);
    if (o) return o;
    const parts = r.path.split('/');
    // ['', 'workflows', id, 'triggers', 'manual', 'paths', 'invoke']
    if (r.method !== 'POST' || parts[1] !== 'workflows' || parts.slice(3).join('/') !== 'triggers/manual/paths/invoke') return { status: 404, json: { error: { code: 'NotFound', message: 'not found' } } };
    const sig = workflows.get(parts[2] ?? '');
    if (sig === undefined) return { status: 404, json: { error: { code: 'WorkflowNotFound', message: `The workflow '${parts[2]}' could not be found.` } } };
    if (r.query.get('sig') !== sig) return { status: 401, json: { error: { code: 'DirectApiAuthorizationRequired', message: 'The request must be authenticated.' } } };
    sent += 1;
    if (sent > state.burst) return { status: 429, headers: { 'retry-after': state.retryAfter }, json: { error: { code: 'WorkflowTriggerIsThrottled', message: 'The workflow is throttled.' } } };
    if (Buffer.byteLength(r.body) > MAX_BYTES) return refuse(413, 'RequestEntityTooLarge', 'Request entity too large');
    const body = r.json as { type?: unknown; attachments?: { contentType?: unknown; content?: { type?: unknown; version?: unknown; body?: unknown } }[] } | undefined;
    const card = body?.attachments?.[0];
    if (body?.type !== 'message' || card?.contentType !== 'application/vnd.microsoft.card.adaptive' || card.content?.type !== 'AdaptiveCard' || !Array.isArray(card.content.body)) {
      return refuse(400, 'TriggerInputSchemaMismatch', 'The input body for trigger does not match its schema.');
    }
    posts.push({ workflow: parts[2]!, card: card.content as Record<string, unknown>, body: body as Record<string, unknown> });
    return state.legacy ? { status: 200, body: '1' } : { status: 202, body: '' };
  };

  return {
    handler,
    workflows,
    posts,
    state,
    setOverride(f: typeof override) {
      override = f;
    },
    resetRate() {
      sent = 0;
    },
  };
}
