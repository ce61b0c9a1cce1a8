/** What the chat kinds' tests (slack, teams) share: approval links as the signer would make them, and an incident with actions awaiting approval. */
import type { ActionDeps } from '../../src/actions/action.js';
import type { IncidentDetail } from '../../src/model/incident.js';
import { actionRecord, sampleIncident } from './fixtures.js';

export const links = (id: string) => ({
  approve: `https://fido.example/approve?action=${id}&exp=1764000000&sig=a1b2`,
  deny: `https://fido.example/deny?action=${id}&exp=1764000000&sig=c3d4`,
  expires_at: '2026-11-28T12:00:00.000Z',
});
export const withLinks: ActionDeps = { configDir: '.', publicUrl: 'https://fido.example', approvalLinks: links };
export const noLinks: ActionDeps = { configDir: '.', publicUrl: 'https://fido.example' };

/** The sample incident with `n` actions awaiting approval. */
export function incident(o: { title?: string; awaiting?: number } = {}): IncidentDetail {
  const i = sampleIncident('INC1');
  if (o.title !== undefined) i.title = o.title;
  i.actions = Array.from({ length: o.awaiting ?? 1 }, (_, k) => ({ ...actionRecord('INC1', 'okta_suspend', 'okta', `ACT-W${k + 1}`), state: 'awaiting_approval' as const }));
  return i;
}
