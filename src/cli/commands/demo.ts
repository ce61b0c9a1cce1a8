/**
 * `fido demo`: posts the demo alert mix to a running Fido over HTTP, as a sensor would. Unless told not to,
 * it first starts stand-ins for the mailbox and SOAR that the configuration's loopback action targets name
 * (demo/receivers.ts), then waits until the actions that the demo's decisions started have settled and
 * shows what was delivered and what waits for approval. `--keep` keeps the stand-ins running (until Ctrl-C)
 * so that an approved action is delivered too.
 */
import type { Command } from 'commander';
import { demoBatches } from '../../demo/alerts.js';
import { startDemoReceivers, type Delivery } from '../../demo/receivers.js';
import { loadConfig } from '../../config/load.js';
import type { ActionRecord } from '../../model/action.js';

interface DemoOptions {
  url: string;
  token?: string;
  config?: string;
  receivers: boolean;
  wait: string;
  keep?: boolean;
}

const IN_FLIGHT = new Set(['pending', 'running']);
/** Settled: nothing in flight and no change in the outbox for this long. */
const QUIET_MS = 3000;
/** How long to wait for the first action before concluding there will be none. */
const NONE_MS = 10_000;

export function register(program: Command): void {
  program
    .command('demo')
    .description('Post a realistic mix of sample alerts to a running Fido, and receive the notifications it sends')
    .option('--url <url>', 'Fido API base URL', process.env.FIDO_URL ?? 'http://127.0.0.1:8700')
    .option('--token <token>', 'admin or analyst API token (default: $FIDO_TOKEN)', process.env.FIDO_TOKEN)
    .option('--config <file>', "the running Fido's configuration, for its action targets (default: $FIDO_CONFIG or the demo's)")
    .option('--no-receivers', 'do not start the stand-in mailbox and webhook receiver')
    .option('--wait <seconds>', 'how long to wait for the actions to settle', '60')
    .option('--keep', 'keep the stand-ins running until Ctrl-C (approve an action and see it delivered)')
    .action(async (opts: DemoOptions) => {
      if (!opts.token) throw new Error('--token (or FIDO_TOKEN) is required: use the token `fido start` printed');
      const waitMs = Number(opts.wait) * 1000;
      if (!Number.isFinite(waitMs) || waitMs < 0) throw new Error(`--wait: expected seconds, got "${opts.wait}"`);
      const api = apiClient(opts.url, opts.token);
      const out = (line: string) => process.stdout.write(`${line}\n`);

      const deliveries: Delivery[] = [];
      const receivers = opts.receivers ? await startReceivers(opts.config, deliveries, out) : undefined;
      try {
        const since = new Date().toISOString();
        let total = 0;
        for (const batch of demoBatches()) {
          const res = await api(`/alerts/${encodeURIComponent(batch.source)}`, {
            method: 'POST',
            headers: { 'content-type': batch.contentType },
            body: batch.records.join('\n'),
          });
          const body = (await res.json()) as { accepted?: number; message?: string };
          if (res.status !== 202) throw new Error(`${batch.source}: HTTP ${res.status}: ${body.message ?? ''}`);
          total += body.accepted ?? 0;
          out(`${batch.source}: ${body.accepted} records accepted`);
        }
        out(`${total} records posted. Incidents: ${new URL('/api/v1/incidents', opts.url).toString()}`);
        if (!receivers?.listening.length) return;

        const actions = await settle(api, since, waitMs);
        report(actions, deliveries, opts.url, out);
        if (opts.keep) {
          out('The stand-ins keep running; Ctrl-C stops them.');
          await new Promise<void>((resolve) => {
            process.once('SIGINT', resolve);
            process.once('SIGTERM', resolve);
          });
        }
      } finally {
        await receivers?.close();
      }
    });
}

type Api = (path: string, init?: RequestInit) => Promise<Response>;

function apiClient(base: string, token: string): Api {
  return (path, init = {}) =>
    fetch(new URL(`/api/v1${path}`, base), { ...init, headers: { authorization: `Bearer ${token}`, ...(init.headers as Record<string, string>) } });
}

async function startReceivers(configFile: string | undefined, deliveries: Delivery[], out: (line: string) => void) {
  const { config } = await loadConfig(configFile);
  const receivers = await startDemoReceivers(config.actions?.targets ?? [], (d) => {
    deliveries.push(d);
    out(`  delivered (${d.target}): ${d.summary}${d.signatureValid === false ? ' — SIGNATURE INVALID, refused' : d.signatureValid ? ' — signature valid' : ''}`);
  });
  for (const l of receivers.listening) out(`stand-in receiver: ${l}`);
  for (const s of receivers.skipped) out(`not standing in for ${s}`);
  return receivers;
}

/** Polls the outbox until the demo's actions are out of flight and the outbox has been quiet for a while. */
async function settle(api: Api, since: string, waitMs: number): Promise<ActionRecord[]> {
  const started = Date.now();
  const deadline = started + waitMs;
  let last = '';
  let quietSince = Date.now();
  for (;;) {
    const res = await api('/actions?limit=200');
    if (res.status !== 200) throw new Error(`GET /api/v1/actions: HTTP ${res.status}`);
    const actions = ((await res.json()) as { items: ActionRecord[] }).items.filter((a) => a.created_at >= since);
    const state = actions.map((a) => `${a.id}:${a.state}`).join(',');
    if (state !== last) {
      last = state;
      quietSince = Date.now();
    }
    // No actions at all may be the answer (a second run re-sends events already seen), once decisions had time.
    const settled =
      !actions.some((a) => IN_FLIGHT.has(a.state)) && Date.now() - quietSince >= QUIET_MS && (actions.length > 0 || Date.now() - started >= NONE_MS);
    if (settled || Date.now() >= deadline) return actions;
    await new Promise((r) => setTimeout(r, 250));
  }
}

function report(actions: ActionRecord[], deliveries: Delivery[], base: string, out: (line: string) => void) {
  const mails = deliveries.filter((d) => d.kind === 'email').length;
  const hooks = deliveries.filter((d) => d.kind === 'webhook').length;
  out(`Delivered: ${mails} e-mail(s), ${hooks} webhook(s).`);
  if (actions.length === 0) out('No new actions were started: posting the demo again re-sends events that Fido has seen, and it deduplicates them.');
  const waiting = actions.filter((a) => a.state === 'awaiting_approval');
  if (waiting.length > 0) {
    out(`${waiting.length} action(s) wait for an analyst's approval, e.g.:`);
    out(`  curl -X POST -H "Authorization: Bearer <token>" ${new URL(`/api/v1/actions/${waiting[0]!.id}/approve`, base).toString()}`);
  }
  for (const a of actions.filter((x) => IN_FLIGHT.has(x.state) || x.state === 'dead' || x.state === 'failed')) {
    out(`  ${a.kind} to ${a.target}: ${a.state}${a.last_error ? ` (${a.last_error})` : ''}`);
  }
}
