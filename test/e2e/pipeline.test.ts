/**
 * The whole flow in one process, as a user runs it: HTTP intake → normalize → correlate → enrich → score →
 * decide → e-mail through a real SMTP server (STARTTLS, AUTH) and a signed webhook, on both stores.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { demoBatches } from '../../src/demo/alerts.js';
import { verifySignature } from '../../src/actions/kinds/webhook.js';
import { explanationSum } from '../../src/score/index.js';
import type { IncidentDetail, Incident } from '../../src/model/incident.js';
import { DIALECTS } from '../support/stores.js';
import { waitFor } from '../support/fido-process.js';
import { startE2e } from '../support/e2e.js';
const HOSTILE = `<script>alert("x")</script> & 'quoted'`;

// Once more on SQLite with the pipeline's in-memory caches off: what they save is work, never a result.
const RUNS = [...DIALECTS.map((dialect) => ({ dialect, withoutCaches: false })), { dialect: 'sqlite' as const, withoutCaches: true }];

for (const { dialect, withoutCaches } of RUNS) {
  test(`end to end on ${dialect}${withoutCaches ? ' without caches' : ''}: demo alerts become explained, decided, notified incidents`, async () => {
    const e = await startE2e(dialect, { withoutCaches });
    const { fido, smtp, hook, api } = e;
    try {
      const decisionsObserved = async () => Number(/^fido_alert_decision_seconds_count (\d+)/m.exec(await (await api('/metrics')).text())?.[1] ?? 0);
      const observedBefore = await decisionsObserved(); // the histogram is per process; the other dialect's run counted too
      const batches = demoBatches();
      batches.push({
        source: 'ids',
        contentType: 'application/x-ndjson',
        records: [
          JSON.stringify({ timestamp: new Date().toISOString(), event_type: 'alert', src_ip: '10.1.6.7', src_port: 1234, dest_ip: '198.51.100.23', dest_port: 443, proto: 'TCP', alert: { action: 'allowed', signature_id: 9000001, signature: HOSTILE, category: 'x', severity: 1 } }),
        ],
      });
      const accepted: string[] = [];
      for (const b of batches) {
        const r = await api(`/alerts/${b.source}`, { method: 'POST', headers: { 'content-type': b.contentType }, body: b.records.join('\n') });
        assert.equal(r.status, 202, await r.clone().text());
        accepted.push(...((await r.json()) as { ids: string[] }).ids);
      }
      assert.equal(accepted.length, 14);

      // Wait until every incident is decided and every queued action has reached a final state.
      const incidents = await waitFor('all incidents decided and actions done', async () => {
        const list = (await (await api('/incidents?limit=100')).json()) as { items: Incident[] };
        if (list.items.length < 7 || list.items.some((i) => !i.decision)) return undefined;
        const pending = (await (await api('/actions?state=pending')).json()) as { items: unknown[] };
        const running = (await (await api('/actions?state=running')).json()) as { items: unknown[] };
        return pending.items.length + running.items.length === 0 ? list.items : undefined;
      });

      const details = await Promise.all(incidents.map(async (i) => (await (await api(`/incidents/${i.id}`)).json()) as IncidentDetail));
      const byTitle = (s: string) => details.find((d) => d.alerts.some((a) => a.title.includes(s)))!;
      for (const d of details) {
        assert.ok(d.score, `incident ${d.title} has a score`);
        assert.equal(explanationSum(d.score!), d.score!.total, `the explanation of "${d.title}" adds up`);
        assert.equal(d.decision!.config_version, fido.configVersion);
        assert.ok(d.timeline.some((t) => t.kind === 'decided'));
      }

      const beacon = byTitle('Cobalt Strike Beacon');
      // Three beacons: all stored (each was acknowledged), the first counts the repeats, and the incident
      // counts distinct alerts (the beacon and the download).
      assert.equal(beacon.alerts.filter((a) => a.title.includes('Beacon')).length, 3);
      assert.equal((beacon.alerts[0] as unknown as { repeat_count: number }).repeat_count, 3);
      assert.equal(beacon.alert_count, 2);
      assert.ok(beacon.alerts.some((a) => a.url === 'http://evil.example/payload.exe'), 'the download joined the beacon incident');
      assert.ok(beacon.enrichment.some((e) => e.provider === 'inventory' && 'data' in e && e.data.host === 'ws-042.corp.example'));
      // The detail counts its alerts, and the alerts endpoint pages through all of them.
      assert.equal((beacon as IncidentDetail & { alerts_total: number }).alerts_total, beacon.alerts.length);
      const paged: string[] = [];
      for (let cursor = ''; ; ) {
        const page = (await (await api(`/incidents/${beacon.id}/alerts?limit=1${cursor ? `&cursor=${cursor}` : ''}`)).json()) as { items: Array<{ id: string }>; next_cursor: string | null; total: number };
        assert.equal(page.total, beacon.alerts.length);
        paged.push(...page.items.map((a) => a.id));
        if (!page.next_cursor) break;
        cursor = page.next_cursor;
      }
      assert.deepEqual(paged, beacon.alerts.map((a) => a.id));

      const pci = byTitle('Malicious SSL Cert');
      assert.ok(pci.score!.total >= 75, `PCI database incident scores high (got ${pci.score!.total})`);
      assert.equal(pci.decision!.rule, 'escalate');
      const scanner = byTitle('ET SCAN');
      assert.equal(scanner.decision!.rule, 'allowlisted');
      assert.equal(scanner.actions.length, 0);

      // Every action ran once per (incident, target); e-mails carry the evidence, escaped.
      const actions = details.flatMap((d) => d.actions);
      assert.ok(actions.length >= 4);
      assert.ok(actions.every((a) => a.state === 'succeeded'), JSON.stringify(actions.map((a) => [a.target, a.state, a.last_error])));
      assert.equal(new Set(actions.map((a) => a.idempotency_key)).size, actions.length);
      const mails = actions.filter((a) => a.kind === 'email').length;
      assert.equal(smtp.messages.length, mails);
      assert.ok(smtp.secured.every(Boolean), 'every message went over STARTTLS');
      const hostileMail = smtp.messages.find((m) => String(m.text).includes('<script>alert("x")</script>'));
      assert.ok(hostileMail, 'the text part carries the title as is');
      assert.ok(String(hostileMail.html).includes('&lt;script&gt;'), 'the HTML part escapes it');
      assert.ok(!String(hostileMail.html).includes('<script>'));
      assert.match(String(pci.score!.explanation[0]!.factor), /\w/);
      const pciMail = smtp.messages.find((m) => String(m.text).includes('Malicious SSL Cert'))!;
      for (const line of pci.score!.explanation) assert.ok(String(pciMail.text).includes(line.factor), `mail shows factor ${line.factor}`);

      assert.equal(hook.received.length, actions.filter((a) => a.kind === 'webhook').length);
      for (const r of hook.received) {
        assert.ok(verifySignature('hook-secret', String(r.headers['x-fido-timestamp']), r.body, String(r.headers['x-fido-signature']), 300));
      }

      // Every acknowledged id has exactly one fate: the alerts decided after they arrived, the repeat beacons
      // duplicates of the first (which counts them), the flow and DNS records context events, the line no
      // detector knows quarantined; none is left pending.
      const fates = await Promise.all(accepted.map(async (id) => (await (await api(`/alerts/${id}`)).json()) as Record<string, unknown>));
      const count = (f: string) => fates.filter((x) => x.fate === f).length;
      assert.equal(count('pending'), 0);
      assert.equal(count('duplicate'), 2);
      assert.equal(count('quarantined'), 1);
      assert.ok(count('context') >= 1);
      // A context event is stored with its canonical facts (kind from the list, the addresses), not only the product's object.
      for (const c of fates.filter((x) => x.fate === 'context')) {
        const event = c.event as { kind?: string; event_type?: string; src?: { ip?: string }; dst?: { ip?: string }; data?: unknown };
        assert.ok(['flow', 'dns'].includes(String(event.kind)), JSON.stringify(event));
        assert.ok(event.event_type && (event.src?.ip || event.dst?.ip) && event.data, JSON.stringify(event));
      }
      assert.equal(count('alert') + count('duplicate') + count('context') + count('quarantined'), accepted.length);
      for (const f of fates.filter((x) => x.fate === 'alert')) {
        assert.ok(typeof f.decided_at === 'string' && Date.parse(f.decided_at) >= Date.parse(String(f.received_at)), `alert ${String(f.id)} decided after it arrived`);
      }
      const original = fates.find((x) => x.fate === 'alert' && x.id === fates.find((d) => d.fate === 'duplicate')!.duplicate_of);
      assert.ok(original, 'a duplicate names the alert it repeats');
      assert.equal(fates.find((x) => x.fate === 'duplicate')!.repeat_count, 3);
      // The latency histogram saw a decision for every incident (one observation per decision that saw new alerts).
      assert.ok((await decisionsObserved()) - observedBefore >= incidents.length);
      // The pipeline ran in this process on this store: its parsed-alert cache held documents unless it was off
      // (ingest keeps each new alert's; repeats are not read by the stages, which read the digest's alerts).
      if (withoutCaches) assert.equal(fido.store.alertDocs.size, 0, 'pipeline.cached_alerts: 0 keeps none');
      else assert.ok(fido.store.alertDocs.size >= count('alert'));

      // The line no detector knows is quarantined with its raw text; the flow and DNS events are context.
      const q = (await (await api('/quarantine')).json()) as { items: Array<{ raw: string; reason: string }> };
      assert.equal(q.items.length, 1);
      assert.match(q.items[0]!.raw, /no alert format Fido knows/);
      assert.match(q.items[0]!.reason, /no detector recognised/);

      // Listing: filters and cursor paging see every incident once.
      const seen = new Set<string>();
      let cursor: string | null = null;
      do {
        const page = (await (await api(`/incidents?limit=2${cursor ? `&cursor=${cursor}` : ''}`)).json()) as { items: Incident[]; next_cursor: string | null };
        for (const i of page.items) seen.add(i.id);
        cursor = page.next_cursor;
      } while (cursor);
      assert.equal(seen.size, incidents.length);
      const high = (await (await api('/incidents?min_score=75')).json()) as { items: Incident[] };
      assert.ok(high.items.every((i) => i.score!.total >= 75) && high.items.some((i) => i.id === pci.id));
      const q2 = (await (await api(`/incidents?q=${encodeURIComponent('50%_x')}`)).json()) as { items: Incident[] };
      assert.equal(q2.items.length, 0, 'LIKE wildcards in q are literal');

      // A verdict closes the incident and is on its timeline.
      const v = await api(`/incidents/${scanner.id}/verdict`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ verdict: 'benign', note: 'weekly scan' }) });
      assert.equal(v.status, 200);
      assert.equal(((await v.json()) as Incident).status, 'closed');
    } finally {
      await e.close();
    }
  });
}
