import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { Value } from 'typebox/value';
import email, { EmailConfigSchema, escapeHtml, html, messageIdFor, renderEmail, renderSubject } from '../../src/actions/kinds/email.js';
import { ActionError, type ActionTarget } from '../../src/actions/action.js';
import { tempDir } from '../support/stores.js';
import { HOSTILE_TITLE, SCORE, actionRecord, sampleIncident, selfSignedCert, startSmtp, type Cert, type SmtpHarness } from './fixtures.js';
import { firstAttempt } from './support.js';

const PUBLIC_URL = 'https://fido.corp.example/';

describe('escapeHtml and the html tag', () => {
  test('escapes the five HTML-significant characters', () => {
    assert.equal(escapeHtml(`<a href="x">'&'</a>`), '&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
    assert.equal(escapeHtml('plain text, ünïcode'), 'plain text, ünïcode');
    assert.equal(escapeHtml('&amp;'), '&amp;amp;', 'already-escaped text is escaped again, not trusted');
  });

  test('html escapes interpolations, keeps nested html, flattens arrays, drops null', () => {
    const inner = html`<b>${'<i>'}</b>`;
    assert.equal(html`<p>${HOSTILE_TITLE}</p>`.value, '<p>&lt;script&gt;alert(&quot;pwned&quot;)&lt;/script&gt; &amp; &#39;single&#39; &quot;double&quot;</p>');
    assert.equal(html`<div>${inner}${['<x>', inner]}${null}${undefined}${42}</div>`.value, '<div><b>&lt;i&gt;</b>&lt;x&gt;<b>&lt;i&gt;</b>42</div>');
  });
});

describe('renderEmail', () => {
  const incident = sampleIncident();
  const action = actionRecord(incident.id, 'email', 'soc-mail');
  const msg = renderEmail(incident, action, { subject: '[Fido] {{outcome}} {{score}}: {{title}}', publicUrl: PUBLIC_URL });

  test('HTML part: alert text arrives escaped, never as markup', () => {
    assert.ok(!msg.html.includes('<script>'), 'no live script tag');
    assert.ok(!msg.html.includes(`"double"`));
    assert.ok(msg.html.includes('&lt;script&gt;alert(&quot;pwned&quot;)&lt;/script&gt; &amp; &#39;single&#39; &quot;double&quot;'));
    assert.ok(msg.html.includes('http://evil.example/a?x=&lt;b&gt;&amp;y=&quot;1&quot;'), 'observables escaped');
    assert.ok(msg.html.includes('abuse.ch &lt;feodo&gt;'), 'score evidence escaped');
  });

  test('both parts carry summary, score explanation, decision, evidence and the link', () => {
    for (const part of [msg.text, msg.html]) {
      for (const s of ['ws-042', 'alice', '2026-11-27T12:00:00.000Z', '2026-11-27T12:05:00.000Z', 'notify-high', 'notify', 'suricata', '203.0.113.7', 'evil.example']) {
        assert.ok(part.includes(s), `${s} in ${part === msg.text ? 'text' : 'html'}`);
      }
      for (const f of SCORE.explanation) {
        assert.ok(part.includes(f.factor) && part.includes(String(f.points)), `factor ${f.factor}`);
      }
      assert.ok(part.includes('https://fido.corp.example/api/v1/incidents/INC1'));
    }
    assert.ok(msg.text.includes(HOSTILE_TITLE), 'the text part shows the title as it is');
    assert.match(msg.text, /60 {2}threat\.intel: evil\.example listed by abuse\.ch <feodo>/);
    assert.match(msg.html, /<td[^>]*>threat\.intel<\/td><td[^>]*>60<\/td><td[^>]*>evil\.example listed by abuse\.ch &lt;feodo&gt;<\/td>/);
  });

  test('subject: template filled, line breaks removed', () => {
    const i = { ...incident, title: 'two\r\nlines' };
    assert.equal(renderSubject('{{outcome}} {{score}} {{host}}: {{title}}', i), 'notify 85 ws-042: two lines');
    assert.equal(msg.subject.startsWith('[Fido] notify 85: Beacon from ws-042'), true);
  });

  test('format: detailed by default (what this kind always sent), summary on request; the schema knows both', () => {
    const base = { name: 'm', kind: 'email', host: 'smtp.corp.example', from: 'fido@corp.example', to: ['soc@corp.example'] };
    assert.ok(Value.Check(EmailConfigSchema, base), 'format is optional');
    assert.ok(Value.Check(EmailConfigSchema, { ...base, format: 'summary' }), 'summary');
    assert.ok(Value.Check(EmailConfigSchema, { ...base, format: 'detailed' }), 'detailed');
    assert.ok(!Value.Check(EmailConfigSchema, { ...base, format: 'full' }), 'an unknown format is refused');
    const summary = renderEmail(incident, action, { subject: '{{title}}', publicUrl: PUBLIC_URL, format: 'summary' });
    assert.ok(msg.text.includes('Score breakdown (points):') && msg.html.includes('class="fido-chart"'), 'the default is detailed');
    assert.ok(!summary.text.includes('Score breakdown') && !summary.html.includes('class="fido-chart"'), 'summary has no chart');
    assert.ok(summary.text.includes('Top factors:') && summary.html.includes('Top factors'), 'summary has the top factors');
  });

  test('Message-ID depends only on the idempotency key and the sender domain', () => {
    const a = messageIdFor('INC1:ACT1:soc-mail', 'Fido <fido@corp.example>');
    assert.equal(a, messageIdFor('INC1:ACT1:soc-mail', 'Fido <fido@corp.example>'));
    assert.notEqual(a, messageIdFor('INC1:ACT2:soc-mail', 'Fido <fido@corp.example>'));
    assert.match(a, /^<[0-9a-f]{40}\.fido@corp\.example>$/);
  });
});

describe('email over a real SMTP server (STARTTLS, AUTH PLAIN)', () => {
  let dir: string;
  let cert: Cert;
  let smtp: SmtpHarness;
  const targets: ActionTarget[] = [];

  before(async () => {
    dir = tempDir('fido-smtp-');
    cert = selfSignedCert(dir);
    smtp = await startSmtp(cert, 'fido', 's3cret pass');
  });
  after(async () => {
    await Promise.all(targets.map((t) => t.close?.()));
    await smtp.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function target(extra: Record<string, unknown> = {}, port = smtp.port): Promise<ActionTarget> {
    process.env.FIDO_TEST_SMTP_PASSWORD = 's3cret pass';
    const t = await email.create(
      {
        name: 'soc-mail',
        kind: 'email',
        host: '127.0.0.1',
        port,
        user: 'fido',
        password: '${env:FIDO_TEST_SMTP_PASSWORD}',
        tls_ca_file: 'server.crt',
        from: 'Fido <fido@corp.example>',
        to: ['soc@corp.example', 'oncall@corp.example'],
        timeout: 5,
        ...extra,
      },
      { configDir: dir, publicUrl: PUBLIC_URL },
    );
    targets.push(t);
    return t;
  }

  const ctx = (key = 'INC1:ACT1:soc-mail') => ({
    action: actionRecord('INC1', 'email', 'soc-mail'),
    incident: sampleIncident(),
    idempotencyKey: key,
    signal: AbortSignal.timeout(10_000), ...firstAttempt,
  });

  test('delivers text and HTML over STARTTLS; a retry is the same message', async () => {
    const t = await target();
    const first = await t.execute(ctx());
    const second = await t.execute(ctx()); // as after a crash: same action, same key
    assert.equal(smtp.messages.length, 2);
    assert.deepEqual(smtp.secured, [true, true], 'STARTTLS was used');
    assert.deepEqual(smtp.authMethods, ['PLAIN', 'PLAIN']);
    const [m1, m2] = smtp.messages;
    assert.equal(m1!.messageId, m2!.messageId, 'Message-ID stable across a retry');
    assert.equal(m1!.messageId, first.detail.message_id, 'the Message-ID is the one derived from the key');
    assert.equal(first.detail.message_id, second.detail.message_id);
    assert.equal(m1!.headers.get('x-fido-idempotency-key'), 'INC1:ACT1:soc-mail');
    assert.deepEqual(first.detail.accepted, ['soc@corp.example', 'oncall@corp.example']);

    assert.ok(m1!.text && m1!.text.includes(HOSTILE_TITLE), 'text part');
    const body = String(m1!.html);
    assert.ok(body.length > 0, 'html part');
    assert.ok(!body.includes('<script>'));
    assert.ok(body.includes('&lt;script&gt;alert(&quot;pwned&quot;)&lt;/script&gt; &amp; &#39;single&#39; &quot;double&quot;'));
    for (const f of SCORE.explanation) assert.ok(body.includes(`>${f.factor}</td>`) && m1!.text!.includes(f.factor));
    assert.match(String(m1!.subject), /^\[Fido\] notify: Beacon from ws-042/);
  });

  test('refuses a server whose certificate it does not trust', async () => {
    const before = smtp.messages.length;
    const t = await target({ tls_ca_file: undefined });
    await assert.rejects(t.execute(ctx()), (e: unknown) => {
      assert.ok(e instanceof ActionError);
      assert.match(e.message, /certificate/i);
      return true;
    });
    assert.equal(smtp.messages.length, before, 'nothing was delivered');
  });

  test('explicit allow_insecure_tls accepts the same server (and is the only way to)', async () => {
    const before = smtp.messages.length;
    const t = await target({ tls_ca_file: undefined, allow_insecure_tls: true });
    await t.execute(ctx('INC1:ACT9:soc-mail'));
    assert.equal(smtp.messages.length, before + 1);
  });

  test('require_tls (the default) refuses a server without STARTTLS', async () => {
    const plain = await startSmtp(cert, 'fido', 's3cret pass', { starttls: false });
    try {
      const t = await target({}, plain.port);
      await assert.rejects(t.execute(ctx()), (e: unknown) => e instanceof ActionError && /STARTTLS|TLS/i.test(e.message));
      assert.equal(plain.messages.length, 0);
      assert.deepEqual(plain.authMethods, [], 'the password never went over the plain connection');
    } finally {
      await plain.close();
    }
  });

  test('a wrong password is a permanent failure (SMTP 5xx)', async () => {
    process.env.FIDO_TEST_SMTP_WRONG = 'nope';
    const t = await target({ password: '${env:FIDO_TEST_SMTP_WRONG}' });
    await assert.rejects(t.execute(ctx()), (e: unknown) => {
      assert.ok(e instanceof ActionError);
      assert.equal(e.retryable, false);
      assert.ok(!e.message.includes('nope'), 'the secret is not in the error');
      return true;
    });
  });

  test('summary format with signed approval links: buttons in the delivered message', async () => {
    process.env.FIDO_TEST_SMTP_PASSWORD = 's3cret pass';
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
        format: 'summary',
        timeout: 5,
      },
      {
        configDir: dir,
        publicUrl: PUBLIC_URL,
        approvalLinks: (id) => ({ approve: `${PUBLIC_URL}approval/${id}/yes`, deny: `${PUBLIC_URL}approval/${id}/no`, expires_at: '2026-11-28T12:00:00.000Z' }),
      },
    );
    targets.push(t);
    const incident = { ...sampleIncident(), actions: [{ ...actionRecord('INC1', 'okta_suspend', 'okta', 'ACT5'), state: 'awaiting_approval' as const }] };
    const before = smtp.messages.length;
    await t.execute({ ...ctx('INC1:ACT1:soc-mail:summary'), incident });
    const m = smtp.messages[before]!;
    const body = String(m.html);
    assert.ok(body.includes('href="https://fido.corp.example/approval/ACT5/yes"') && body.includes('href="https://fido.corp.example/approval/ACT5/no"'), 'buttons');
    assert.ok(m.text!.includes('Approve: https://fido.corp.example/approval/ACT5/yes'), 'approve URL in the text part');
    assert.ok(!body.includes('class="fido-chart"'), 'summary: no chart');
  });

  test('config mistakes fail when the target is created', async () => {
    await assert.rejects(target({ subject: '{{title}} {{nope}}' }), /unknown placeholder \{\{nope\}\}/);
    await assert.rejects(target({ tls_ca_file: 'missing.pem' }), /tls_ca_file: cannot read/);
    await assert.rejects(target({ password: undefined }), /user and password go together/);
  });
});
