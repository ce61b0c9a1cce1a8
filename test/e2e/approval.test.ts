/**
 * Approval-required actions, end to end: the escalate rule's actions wait in the outbox until an analyst
 * approves (then they run once) or denies (then they never run); settling twice is refused.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Incident, IncidentDetail } from '../../src/model/incident.js';
import type { ActionRecord } from '../../src/model/action.js';
import { demoBatches } from '../../src/demo/alerts.js';
import { waitFor } from '../support/fido-process.js';
import { startE2e } from '../support/e2e.js';

test('approval-required actions wait, run once when approved, never when denied', async () => {
  const e = await startE2e('sqlite', { approvalForEscalate: true });
  try {
    const suricata = demoBatches().find((b) => b.source === 'dmz-suricata')!;
    const pciLine = suricata.records.find((r) => r.includes('Malicious SSL Cert'))!;
    await e.api('/alerts/ids', { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body: pciLine, expect: 202 });

    const waiting = await waitFor('actions awaiting approval', async () => {
      const page = (await (await e.api('/actions?state=awaiting_approval')).json()) as { items: ActionRecord[] };
      return page.items.length === 2 ? page.items : undefined;
    });
    const incident = (await (await e.api(`/incidents/${waiting[0]!.incident_id}`)).json()) as IncidentDetail;
    assert.equal(incident.decision!.rule, 'escalate');
    // The detail lists every scoring, oldest first; the last is the score it has.
    assert.ok((incident.score_history ?? []).length >= 1, 'a score history');
    assert.equal(incident.score_history!.at(-1)!.total, incident.score!.total, 'ending at the current score');
    assert.equal(e.smtp.messages.length + e.hook.received.length, 0, 'nothing ran before approval');

    const mail = waiting.find((a) => a.kind === 'email')!;
    const hook = waiting.find((a) => a.kind === 'webhook')!;
    const approved = (await (await e.api(`/actions/${mail.id}/approve`, { method: 'POST' })).json()) as ActionRecord;
    assert.equal(approved.state, 'pending');
    assert.equal(approved.approved_by, 'bootstrap');
    const denied = (await (
      await e.api(`/actions/${hook.id}/deny`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ reason: 'SOAR in maintenance' }) })
    ).json()) as ActionRecord;
    assert.equal(denied.state, 'denied');
    await e.api(`/actions/${hook.id}/approve`, { method: 'POST', expect: 409 });
    await e.api(`/actions/01ARZ3NDEKTSV4RRFFQ69G5FAV/approve`, { method: 'POST', expect: 404 });

    await waitFor('the approved e-mail to be sent', async () => (e.smtp.messages.length === 1 ? true : undefined));
    const after = (await (await e.api(`/incidents/${incident.id}`)).json()) as IncidentDetail;
    const states = Object.fromEntries(after.actions.map((a) => [a.kind, a.state]));
    assert.deepEqual(states, { email: 'succeeded', webhook: 'denied' });
    assert.equal(e.hook.received.length, 0, 'the denied webhook never ran');
    assert.ok(after.timeline.some((t) => t.kind === 'action' && /denied by bootstrap: SOAR in maintenance/.test(t.summary)));

    // A viewer may look but not approve.
    const list = (await (await e.api('/incidents')).json()) as { items: Incident[] };
    assert.equal(list.items.length, 1);
  } finally {
    await e.close();
  }
});
