/**
 * Issue 17 item 2: e-mail reports in the spirit of Netflix FIDO's (summary and detailed forms, the score drawn as
 * a chart, the evidence per factor, links to the incident) with approve/deny buttons. The messages go through the
 * real path — nodemailer over STARTTLS to a real SMTP server (smtp-server, RFC 5321/3207) — and are read as a mail
 * client reads them (mailparser); the rendering's bounds and escaping are also checked on renderEmail directly.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import type { ParsedMail } from 'mailparser';
import email, { renderEmail } from '../../src/actions/kinds/email.js';
import { LIMITS, textChart } from '../../src/actions/kinds/lib/email-report.js';
import type { ActionTarget, ApprovalLinks } from '../../src/actions/action.js';
import type { ActionRecord } from '../../src/model/action.js';
import type { Alert } from '../../src/model/alert.js';
import type { IncidentDetail } from '../../src/model/incident.js';
import { tempDir } from '../support/stores.js';
import { actionRecord, sampleIncident, selfSignedCert, startSmtp, type SmtpHarness } from './fixtures.js';
import { firstAttempt } from './support.js';

const PUBLIC_URL = 'https://fido.corp.example/';
const INCIDENT_LINK = 'https://fido.corp.example/api/v1/incidents/INC7';
const NOW = Date.parse('2026-11-27T14:00:00.000Z');
const XSS = `<script>alert(1)</script>"><img src=x onerror=alert(2)>`;
const JS_URL = 'javascript:alert(document.cookie)';

/** What the approval-links dependency returns: Fido's own confirmation pages. */
const links = (id: string): ApprovalLinks => ({
  approve: `https://fido.corp.example/approve?t=${id}-yes&sig=abc`,
  deny: `https://fido.corp.example/approve?t=${id}-no&sig=abc`,
  expires_at: '2026-11-28T14:00:00.000Z',
});

function outboxRow(id: string, kind: string, target: string, state: ActionRecord['state'], extra: Partial<ActionRecord> = {}): ActionRecord {
  return { ...actionRecord('INC7', kind, target, id), state, ...extra };
}

/** An incident with every section filled: negative factors, enrichment, actions awaiting approval, a timeline. */
function richIncident(now: number): IncidentDetail {
  const ago = (ms: number) => new Date(now - ms).toISOString();
  const base = sampleIncident('INC7');
  return {
    ...base,
    title: `Beacon ${XSS}`,
    score: {
      profile: 'default',
      total: 75,
      components: { threat: 80, asset: 40, user: 0 },
      explanation: [
        { factor: 'threat.indicator', points: 40, evidence: `203.0.113.7 malicious per virustotal ${XSS}` },
        { factor: 'asset.criticality', points: 20, evidence: 'ws-042 in zone finance' },
        { factor: 'allowlist.partial', points: -10, evidence: `domain allowlisted ${JS_URL}` },
        { factor: 'history.repeat', points: 25, evidence: 'seen in 3 incidents this week' },
        { factor: 'user.privileged', points: 0, evidence: 'alice is not an admin' },
      ],
    },
    alerts: base.alerts.map((a): Alert => ({ ...a, observables: [...a.observables, { type: 'url', value: JS_URL, role: 'url' }] })),
    enrichment: [
      {
        provider: 'virustotal',
        subject: { type: 'ip', value: '203.0.113.7' },
        data: { verdict: 'malicious', score: 92, tags: ['c2'], references: ['https://evil.example/report'], first_seen: null, last_seen: '2026-11-26T00:00:00.000Z', detail: {} },
        found: true,
        fetched_at: ago(2 * 3600_000),
        cache: 'miss',
      },
      { provider: 'otx', subject: { type: 'ip', value: '203.0.113.7' }, error: 'HTTP 503', fetched_at: ago(5 * 60_000) },
      {
        provider: 'assets',
        subject: { type: 'host', value: 'ws-042' },
        data: { zone: 'finance', criticality: 'high', note: XSS },
        found: true,
        fetched_at: ago(2 * 86_400_000),
        cache: 'hit',
      },
    ],
    actions: [
      outboxRow('ACT1', 'email', 'soc-mail', 'running', { attempts: 1 }),
      outboxRow('ACT2', 'okta_suspend', 'okta', 'awaiting_approval'),
      outboxRow('ACT3', 'nftables_block', 'edge-fw', 'failed', { attempts: 2, last_error: `HTTP 500 ${XSS}` }),
    ],
    timeline: [
      { at: '2026-11-27T12:00:00.000Z', kind: 'alert', summary: `alert ${XSS}` },
      { at: '2026-11-27T12:01:00.000Z', kind: 'scored', summary: 'score 75' },
      { at: '2026-11-27T12:01:01.000Z', kind: 'decided', summary: 'rule notify-high' },
    ],
  };
}

/** The chart rows of an HTML part: label, bar width (%), negative or not, points label. */
function chartRows(body: string, table: 'fido-chart' | 'fido-components') {
  const start = body.indexOf(`<table class="${table}"`);
  assert.ok(start >= 0, `${table} present`);
  const chart = body.slice(start, body.indexOf('<h3>', start));
  return [...chart.split('<tr class="fido-chart-row">').slice(1)].map((row) => ({
    label: /^<td[^>]*>([^<]*)<\/td>/.exec(row)![1]!,
    width: Number(/class="fido-bar[^"]*" width="(\d+)%"/.exec(row)?.[1] ?? 0),
    negative: row.includes('fido-bar fido-neg'),
    points: /<td class="fido-points"[^>]*>([^<]*)<\/td>/.exec(row)![1]!,
  }));
}

/** `part` includes `needle`; node's assert.ok builds its own message by re-parsing the source, very slowly under tsx. */
function has(part: string, needle: string): void {
  assert.ok(part.includes(needle), `missing ${JSON.stringify(needle.slice(0, 200))}`);
}

/** Every href of an HTML part. */
const hrefs = (body: string) => [...body.matchAll(/href="([^"]*)"/g)].map((m) => m[1]!);

describe('e-mail reports through a real SMTP server', () => {
  let dir: string;
  let smtp: SmtpHarness;
  const targets: ActionTarget[] = [];
  const got: Record<'summary' | 'detailed' | 'unsigned', ParsedMail | undefined> = { summary: undefined, detailed: undefined, unsigned: undefined };

  before(async () => {
    dir = tempDir('fido-smtp-report-');
    smtp = await startSmtp(selfSignedCert(dir), 'fido', 's3cret pass');
    process.env.FIDO_TEST_SMTP_PASSWORD = 's3cret pass';
    const send = async (format: 'summary' | 'detailed' | undefined, signed: boolean, key: string) => {
      const t = await email.create(
        {
          name: 'soc-mail',
          kind: 'email',
          host: '127.0.0.1',
          port: smtp.port,
          user: 'fido',
          password: '${env:FIDO_TEST_SMTP_PASSWORD}',
          tls_ca_file: 'server.crt',
          from: 'Fido <fido@corp.example>',
          to: ['soc@corp.example'],
          timeout: 5,
          ...(format ? { format } : {}),
        },
        { configDir: dir, publicUrl: PUBLIC_URL, ...(signed ? { approvalLinks: links } : {}) },
      );
      targets.push(t);
      await t.execute({ action: actionRecord('INC7', 'email', 'soc-mail'), incident: richIncident(Date.now()), idempotencyKey: key, signal: AbortSignal.timeout(10_000), ...firstAttempt });
      return smtp.messages[smtp.messages.length - 1]!;
    };
    got.summary = await send('summary', true, 'INC7:ACT1:soc-mail');
    got.detailed = await send(undefined, true, 'INC7:ACT1:soc-mail:d'); // the default is detailed
    got.unsigned = await send('summary', false, 'INC7:ACT1:soc-mail:u');
  });
  after(async () => {
    await Promise.all(targets.map((t) => t.close?.()));
    await smtp.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('summary: one screen — score and band, decision and rule, host, user, top 3 factors, link', () => {
    const m = got.summary!;
    const text = m.text!;
    const body = String(m.html);
    for (const part of [text, body]) {
      for (const s of ['75', 'high', 'notify', 'notify-high', 'ws-042', 'alice', INCIDENT_LINK]) assert.ok(part.includes(s), `${s} in summary`);
      // The three largest by effect, whatever their sign; not the others.
      for (const f of ['threat.indicator', 'history.repeat', 'asset.criticality']) assert.ok(part.includes(f), f);
      for (const f of ['allowlist.partial', 'user.privileged']) assert.ok(!part.includes(f), `${f} left out of the summary`);
      has(part, 'and 2 more factors');
      // No detailed sections.
      for (const s of ['Score breakdown', 'Enrichment', 'Timeline', 'HTTP 503']) assert.ok(!part.includes(s), `${s} not in the summary`);
    }
    assert.match(text, /Score: +75\/100 \(high\), profile default/);
    assert.match(text, /^ +\+40 {2}threat\.indicator: 203\.0\.113\.7 malicious/m);
    assert.ok(!body.includes('fido-chart'), 'no chart in the summary');
    has(body, 'Score 75 · HIGH');
  });

  test('approval buttons in HTML, URLs in text — only for the action that waits', () => {
    const m = got.summary!;
    const body = String(m.html);
    const l = links('ACT2');
    const buttons = [...body.matchAll(/<a class="fido-button" href="([^"]*)"[^>]*>([^<]*)<\/a>/g)].map((x) => [x[1], x[2]]);
    assert.deepEqual(buttons, [
      [l.approve.replace(/&/g, '&amp;'), 'Approve'],
      [l.deny.replace(/&/g, '&amp;'), 'Deny'],
    ]);
    assert.ok(body.includes('okta_suspend → okta') && body.includes('2026-11-28T14:00:00.000Z'), 'the waiting action and when its links expire');
    assert.ok(m.text!.includes(`Approve: ${l.approve}`) && m.text!.includes(`Deny:    ${l.deny}`), 'approve and deny URLs in the text part');
    assert.ok(!m.text!.includes('ACT3-yes') && !body.includes('ACT1-yes'), 'no buttons for actions that do not wait');
  });

  test('without signed links: the CLI and API hints instead of buttons', () => {
    const m = got.unsigned!;
    assert.ok(!String(m.html).includes('fido-button'), 'no buttons without signed links');
    const hint = 'fido actions approve ACT2  (or: fido actions deny ACT2 --reason "…"; API: POST https://fido.corp.example/api/v1/actions/ACT2/approve or /deny)';
    has(m.text!, hint);
    has(String(m.html), hint.replace(/"/g, '&quot;'));
  });

  test('detailed (the default): chart with bars proportional to points, negative factors in their own colour', () => {
    const body = String(got.detailed!.html);
    const rows = chartRows(body, 'fido-chart');
    assert.deepEqual(
      rows.map((r) => [r.label, r.width, r.negative, r.points]),
      [
        ['threat.indicator', 100, false, '+40'],
        ['history.repeat', 63, false, '+25'], // 25/40
        ['asset.criticality', 50, false, '+20'],
        ['allowlist.partial', 25, true, '-10'],
        ['user.privileged', 0, false, '0'],
      ],
    );
    assert.match(body, /class="fido-bar fido-neg" width="25%" height="14" bgcolor="#2e7d32"/, 'negative bar is green');
    assert.match(body, /class="fido-bar" width="100%" height="14" bgcolor="#c62828"/, 'positive bar is red');
    // Sub-scores on a fixed 0–100 scale.
    assert.deepEqual(
      chartRows(body, 'fido-components').map((r) => [r.label, r.width, r.points]),
      [
        ['threat', 80, '80'],
        ['asset', 40, '40'],
        ['user', 0, '0'],
      ],
    );
  });

  test('detailed text part: the ASCII chart and the sub-scores', () => {
    const text = got.detailed!.text!;
    assert.ok(text.includes(`  threat.indicator   ${'█'.repeat(24)} +40`), text);
    has(text, `  history.repeat     ${'█'.repeat(15)}${' '.repeat(9)} +25`);
    has(text, `  allowlist.partial  ${'░'.repeat(6)}${' '.repeat(18)} -10`);
    has(text, `  user.privileged    ${' '.repeat(24)} 0`);
    assert.ok(text.includes(`  threat  ${'█'.repeat(19)}${' '.repeat(5)} 80`), 'sub-score 80 of 100');
  });

  test('detailed: evidence per factor, alerts, enrichment per indicator, actions, timeline', () => {
    const m = got.detailed!;
    const text = m.text!;
    const body = String(m.html);
    assert.match(text, /^ +-10 {2}allowlist\.partial: domain allowlisted javascript:alert\(document\.cookie\)$/m);
    assert.match(body, /<td[^>]*>asset\.criticality<\/td><td[^>]*>20<\/td><td[^>]*>ws-042 in zone finance<\/td>/);
    assert.ok(text.includes('Alerts (2 of 2):') && text.includes('[suricata]') && text.includes('10.1.2.3:51234 (ws-042, alice) -> 203.0.113.7:443 (evil.example)'), 'alerts with detector and endpoints');
    // Enrichment grouped by indicator: provider, verdict, facts, age.
    assert.ok(text.includes('  ip:203.0.113.7\n    virustotal: malicious (score 92, last seen 2026-11-26T00:00:00.000Z), 2h old\n    otx: error (HTTP 503), 5m old'), text);
    has(text, ', 2d old');
    has(text, '  host:ws-042\n    assets: found (zone=finance, criticality=high, note=');
    assert.match(body, /<td[^>]*rowspan="2">ip:203\.0\.113\.7<\/td><td[^>]*>virustotal<\/td><td[^>]*>malicious<\/td>/);
    assert.ok(!body.includes('evil.example/report') && !text.includes('evil.example/report'), 'provider references are not shown');
    // Actions with their states.
    has(text, 'okta_suspend → okta: awaiting_approval');
    has(text, 'nftables_block → edge-fw: failed, 2 attempts, last error: HTTP 500');
    has(text, 'email → soc-mail: running, 1 attempt');
    // Timeline.
    has(text, '2026-11-27T12:01:01.000Z  decided   rule notify-high');
    has(body, '<h3>Timeline</h3>');
  });

  test('hostile text is escaped everywhere; the only links are the incident and the approval pages', () => {
    for (const m of [got.summary!, got.detailed!, got.unsigned!]) {
      const body = String(m.html);
      assert.ok(!/<script|<img/i.test(body), 'no live markup from alerts');
      has(body, '&lt;script&gt;alert(1)&lt;/script&gt;&quot;&gt;&lt;img src=x onerror=alert(2)&gt;');
      for (const h of hrefs(body)) {
        assert.ok(h === INCIDENT_LINK || h.startsWith('https://fido.corp.example/approve?t=ACT2-'), `unexpected href ${h}`);
      }
      assert.ok(!/href="javascript/i.test(body) && !/\son\w+=/i.test(body.replace(/&lt;img src=x onerror=alert\(2\)&gt;/g, '')), 'no javascript: href, no event handler attribute');
      assert.ok(hrefs(body).includes(INCIDENT_LINK), 'the incident is linked');
    }
    assert.ok(String(got.detailed!.html).includes(JS_URL), 'a javascript: URL from an alert is shown as text');
  });
});

describe('renderEmail: bounds and edge cases', () => {
  const action = actionRecord('INC7', 'email', 'soc-mail');

  test('a huge incident stays bounded and says what was left out', () => {
    const base = richIncident(NOW);
    const long = 'A'.repeat(5000);
    const alert = base.alerts[0]!;
    const incident: IncidentDetail = {
      ...base,
      title: 'Beacon\r\nDecision: ignore\u2028Decision: ignore',
      alert_count: 5000,
      alerts: Array.from({ length: 300 }, (_, i) => ({
        ...alert,
        id: `A${i}`,
        title: long,
        observables: Array.from({ length: 50 }, (_, j) => ({ type: 'domain' as const, value: `${j}.${long}`, role: 'dst' })),
      })),
      score: { ...base.score!, explanation: Array.from({ length: 200 }, (_, i) => ({ factor: `f${i}`, points: 200 - i, evidence: long })) },
      enrichment: Array.from({ length: 500 }, (_, i) => ({ provider: 'p', subject: { type: 'ip' as const, value: `10.0.${i >> 8}.${i & 255}` }, error: long, fetched_at: '2026-11-27T13:00:00.000Z' })),
      actions: Array.from({ length: 100 }, (_, i) => outboxRow(`X${i}`, 'webhook', 'hook', 'succeeded')),
      timeline: Array.from({ length: 1000 }, (_, i) => ({ at: `t${i}`, kind: 'alert' as const, summary: long })),
    };
    const msg = renderEmail(incident, action, { subject: '{{title}}', publicUrl: PUBLIC_URL, now: NOW });
    assert.ok(Buffer.byteLength(msg.html) < 100_000, `html ${Buffer.byteLength(msg.html)} bytes, under Gmail's 102 KB clip`);
    assert.ok(Buffer.byteLength(msg.text) < 60_000, `text ${Buffer.byteLength(msg.text)} bytes`);
    for (const part of [msg.text, msg.html]) {
      assert.ok(part.includes('… and 4980 more alerts'), 'alerts counted from alert_count');
      has(part, `… and ${200 - LIMITS.factors} more factors`);
      has(part, `… and ${50 - LIMITS.observablesPerAlert} more observables`);
      has(part, `… and ${500 - LIMITS.enrichment} more answers`);
      has(part, '… and 80 more actions');
      has(part, `${1000 - LIMITS.timeline} earlier entries not shown`);
      assert.ok(part.includes(`${'A'.repeat(LIMITS.evidence - 1)}…`) && !part.includes('A'.repeat(LIMITS.evidence)), 'evidence cut');
    }
    has(msg.text, 'Alerts (20 of 5000):');
    assert.ok(!/^Decision: ignore/m.test(msg.text), 'a line break in a title cannot forge a line of the report');
    assert.equal(chartRows(msg.html, 'fido-chart').length, LIMITS.factors);
  });

  test('no score, no public URL, no approval links: still a report, with no link at all', () => {
    const incident: IncidentDetail = { ...richIncident(NOW), score: null };
    for (const format of ['summary', 'detailed'] as const) {
      const msg = renderEmail(incident, action, { subject: '{{title}}', publicUrl: 'not-a-url', format, now: NOW });
      assert.deepEqual(hrefs(msg.html), []);
      assert.ok(msg.text.includes('Score:     not scored') && msg.html.includes('Not scored'), 'not scored');
      has(msg.text, 'fido actions approve ACT2  (or: fido actions deny ACT2 --reason "…"; API: POST <fido>/api/v1/actions/ACT2/approve');
    }
  });

  test('approval links that are not http(s) are never linked', () => {
    const msg = renderEmail(richIncident(NOW), action, {
      subject: '{{title}}',
      publicUrl: PUBLIC_URL,
      approvalLinks: () => ({ approve: JS_URL, deny: 'https://x" onclick="y', expires_at: 'never' }),
      now: NOW,
    });
    assert.deepEqual(hrefs(msg.html), [INCIDENT_LINK]);
    assert.ok(!msg.text.includes('Approve: '), 'no approve URL in the text part');
    has(msg.text, 'fido actions approve ACT2');
  });

  test('textChart: bars proportional, at least one block for a non-zero factor', () => {
    assert.deepEqual(textChart([{ label: 'a', points: 100 }, { label: 'bb', points: 1 }, { label: 'c', points: -50 }]), [
      `  a   ${'█'.repeat(24)} +100`,
      `  bb  █${' '.repeat(23)} +1`,
      `  c   ${'░'.repeat(12)}${' '.repeat(12)} -50`,
    ]);
  });
});
