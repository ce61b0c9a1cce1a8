/**
 * Issue 13 item 9: header-level tricks in alert text, each sent through the real e-mail path (nodemailer over
 * STARTTLS to a real SMTP server) and checked in the message as received — decoded the way a mail client decodes
 * it (mailparser), and raw.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import type { ParsedMail } from 'mailparser';
import email, { headerText, renderSubject } from '../../src/actions/kinds/email.js';
import type { ActionTarget } from '../../src/actions/action.js';
import { tempDir } from '../support/stores.js';
import { actionRecord, sampleIncident, selfSignedCert, startSmtp, type SmtpHarness } from './fixtures.js';
import { firstAttempt } from './support.js';

const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');

interface Trick {
  name: string;
  /** The alert title (the incident's title), as an attacker would choose it. */
  title: string;
  /** The subject as the mail client must show it. */
  shown: string;
  /** Text that must not appear in the shown subject (what the trick would have made the client show). */
  absent?: string[];
}

const TRICKS: Trick[] = [
  {
    name: 'RFC 2047 encoded word (base64)',
    title: `=?utf-8?B?${b64('Password reset required: reply with your token!!')}?=`,
    shown: `= ?utf-8?B?${b64('Password reset required: reply with your token!!')}?=`,
    absent: ['Password reset'],
  },
  {
    name: 'RFC 2047 encoded word (quoted-printable), mid-text',
    title: 'Invoice =?iso-8859-1?Q?=50aid_in_full?= thanks',
    shown: 'Invoice = ?iso-8859-1?Q?=50aid_in_full?= thanks',
    absent: ['Paid in full'],
  },
  {
    name: 'encoded word hidden behind a zero-width space',
    title: `=\u200B?utf-8?B?${b64('All clear')}?=`,
    shown: `= ?utf-8?B?${b64('All clear')}?=`,
    absent: ['All clear'],
  },
  {
    name: 'encoded word amid non-ASCII text (the subject is then encoded by nodemailer itself)',
    title: `Ünïcödé =?utf-8?B?${b64('Benign')}?= end`,
    shown: `Ünïcödé = ?utf-8?B?${b64('Benign')}?= end`,
    absent: ['Benign'],
  },
  {
    name: 'CRLF header injection',
    title: 'Hello\r\nBcc: attacker@evil.example\r\nX-Injected: yes\r\n\r\nbody',
    shown: 'Hello Bcc: attacker@evil.example X-Injected: yes body',
  },
  { name: 'bare LF and bare CR', title: 'a\nX-Injected: lf\rX-Injected: cr', shown: 'a X-Injected: lf X-Injected: cr' },
  { name: 'header folding', title: 'a\r\n\tX-Folded: yes\r\n continued', shown: 'a X-Folded: yes continued' },
  { name: 'Unicode line breaks (NEL, LS, PS)', title: 'a\u0085X-Injected: nel\u2028b\u2029c', shown: 'a X-Injected: nel b c' },
  { name: 'NUL, ESC and DEL', title: 'a\u0000b\u001b[31mred\u007f', shown: 'a b [31mred' },
  {
    name: 'bidi override and isolates (a name that displays reversed)',
    title: 'invoice\u202Efdp.exe \u2067x\u2069',
    shown: 'invoicefdp.exe x',
  },
  { name: 'white space pushing the rest out of sight', title: `Urgent${' '.repeat(400)}\u00a0\u2003real subject`, shown: 'Urgent real subject' },
  { name: 'oversized title, cut at whole characters', title: '😀'.repeat(400), shown: `${'😀'.repeat(249)}…` },
];

// Headers that Fido's message has; anything else in a received message came from somewhere else.
const EXPECTED_HEADERS = new Set(['from', 'to', 'subject', 'message-id', 'date', 'mime-version', 'content-type', 'x-fido-idempotency-key']);

describe('e-mail headers built from alert text, through a real SMTP server', () => {
  let dir: string;
  let smtp: SmtpHarness;
  let target: ActionTarget;
  const received = new Map<string, ParsedMail>();

  before(async () => {
    dir = tempDir('fido-smtp-headers-');
    const cert = selfSignedCert(dir);
    smtp = await startSmtp(cert, 'fido', 's3cret pass');
    process.env.FIDO_TEST_SMTP_PASSWORD = 's3cret pass';
    target = await email.create(
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
        subject: '{{title}}',
        timeout: 5,
      },
      { configDir: dir, publicUrl: 'https://fido.corp.example/' },
    );
    // Every trick as the title of an incident, one message each, in order.
    for (const [i, trick] of TRICKS.entries()) {
      const incident = { ...sampleIncident(`INC${i}`), title: trick.title };
      await target.execute({ action: actionRecord(incident.id, 'email', 'soc-mail'), incident, idempotencyKey: `INC${i}:ACT1:soc-mail`, signal: AbortSignal.timeout(10_000), ...firstAttempt });
      received.set(trick.name, smtp.messages[i]!);
    }
  });
  after(async () => {
    await target.close?.();
    await smtp.close();
    rmSync(dir, { recursive: true, force: true });
  });

  for (const trick of TRICKS) {
    test(trick.name, () => {
      const m = received.get(trick.name)!;
      // What the client shows is the text as sent, neutralised; never what the trick encoded.
      assert.equal(m.subject, trick.shown);
      for (const a of trick.absent ?? []) assert.ok(!m.subject!.includes(a), `"${a}" is not shown`);
      assert.ok(!/\p{Cc}|\p{Cf}|\p{Zl}|\p{Zp}|\p{Cs}/u.test(m.subject!), 'no control, format or separator character');

      // One Subject header, no header of the attacker's, recipients as configured.
      const keys = [...m.headers.keys()];
      assert.deepEqual(keys.filter((k) => !EXPECTED_HEADERS.has(k) && k !== 'content-transfer-encoding'), []);
      assert.equal(m.headerLines.filter((h) => h.key === 'subject').length, 1);
      assert.equal(m.bcc, undefined);
      assert.equal(m.to && !Array.isArray(m.to) ? m.to.text : '', 'soc@corp.example');
      // Raw: the subject line holds no line break but folding (CRLF + white space), and an encoded word only if
      // it is nodemailer's own encoding of the whole value.
      const raw = m.headerLines.find((h) => h.key === 'subject')!.line;
      assert.ok(!/\r?\n(?![ \t])/.test(raw), `raw subject is one header: ${JSON.stringify(raw)}`);
      const words = raw.match(/=\?[^?\s]*\?[BbQq]\?/g) ?? [];
      assert.ok(words.every((w) => /^=\?UTF-8\?[BQ]\?$/.test(w)), `encoded words only nodemailer's: ${words.join(', ')}`);
    });
  }

  test('the idempotency key header goes through the same neutraliser', () => {
    const m = received.get(TRICKS[0]!.name)!;
    assert.equal(m.headers.get('x-fido-idempotency-key'), 'INC0:ACT1:soc-mail');
  });
});

test('a trick split across the template and a field, or two fields, is caught in the whole subject', () => {
  // The host ends with "=", the title starts with "?": together they would open an encoded word.
  const incident = { ...sampleIncident(), host: 'ws-042 =', title: `?utf-8?B?${b64('Benign')}?=` };
  assert.equal(renderSubject('{{host}}{{title}}', incident), `ws-042 = ?utf-8?B?${b64('Benign')}?=`);
  assert.equal(renderSubject('Alert ={{title}}', incident), `Alert = ?utf-8?B?${b64('Benign')}?=`);
  assert.equal(headerText('a'.repeat(300), 250), `${'a'.repeat(249)}…`);
  assert.equal(headerText('\uD83D lone surrogate', 250), '\uFFFD lone surrogate');
});
