/**
 * The demo's stand-in mailbox and webhook receiver, over real sockets: a real SMTP client (nodemailer)
 * and signed POSTs. What they serve and what they leave alone.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type AddressInfo } from 'node:net';
import nodemailer from 'nodemailer';
import { headerValue, startDemoReceivers, type Delivery } from '../../src/demo/receivers.js';
import { signBody } from '../../src/actions/kinds/webhook.js';
import { freePort } from '../support/servers.js';


test('mail and signed webhooks are received and reported; a bad signature is refused', async () => {
  const [smtpPort, hookPort] = [await freePort(), await freePort()];
  const got: Delivery[] = [];
  const receivers = await startDemoReceivers(
    [
      { name: 'soc-mail', kind: 'email', host: '127.0.0.1', port: smtpPort, require_tls: false, from: 'fido@x.example', to: ['soc@x.example'] },
      { name: 'soar', kind: 'webhook', url: `http://127.0.0.1:${hookPort}/hook`, secret: 's3cret', allow_private: true },
    ],
    (d) => got.push(d),
  );
  try {
    assert.deepEqual(receivers.listening, [`soc-mail (smtp://127.0.0.1:${smtpPort})`, `soar (http://127.0.0.1:${hookPort}/hook)`]);
    assert.deepEqual(receivers.skipped, []);

    const mailer = nodemailer.createTransport({ host: '127.0.0.1', port: smtpPort, secure: false, ignoreTLS: true });
    await mailer.sendMail({ from: 'fido@x.example', to: ['soc@x.example', 'ir@x.example'], subject: '[Fido] notify: Überwachung <b>x</b> (score 50)', text: 'body' });
    assert.deepEqual(got.shift(), { kind: 'email', target: 'soc-mail', summary: 'e-mail to soc@x.example, ir@x.example: [Fido] notify: Überwachung <b>x</b> (score 50)' });

    const body = JSON.stringify({ incident: { title: 'Beacon', score: { total: 85 } }, decision: { outcome: 'escalate' } });
    const ts = String(Math.floor(Date.now() / 1000));
    const post = (path: string, signature: string) =>
      fetch(`http://127.0.0.1:${hookPort}${path}`, { method: 'POST', headers: { 'x-fido-timestamp': ts, 'x-fido-signature': signature }, body });
    assert.equal((await post('/hook', signBody('s3cret', ts, body))).status, 204);
    assert.deepEqual(got.shift(), { kind: 'webhook', target: 'soar', summary: 'webhook /hook: escalate: Beacon (score 85)', signatureValid: true });
    assert.equal((await post('/hook', signBody('wrong', ts, body))).status, 401);
    assert.equal(got.shift()?.signatureValid, false);
    assert.equal((await post('/elsewhere', signBody('s3cret', ts, body))).status, 404);
    assert.equal(got.length, 0, 'a POST to another path is not a delivery');
  } finally {
    await receivers.close();
  }
});

test("someone's real services, and busy addresses, are left alone with a reason", async () => {
  const busy = createServer();
  await new Promise<void>((r) => busy.listen(0, '127.0.0.1', r));
  const busyPort = (busy.address() as AddressInfo).port;
  try {
    const mail = { kind: 'email', from: 'f@x.example', to: ['t@x.example'] };
    const receivers = await startDemoReceivers(
      [
        { ...mail, name: 'tls', host: '127.0.0.1', port: 2587 },
        { ...mail, name: 'remote', host: 'smtp.corp.example', port: 25, require_tls: false },
        { ...mail, name: 'login', host: '127.0.0.1', port: 2588, require_tls: false, user: 'u', password: 'p' },
        { ...mail, name: 'taken', host: '127.0.0.1', port: busyPort, require_tls: false },
        { name: 'https-hook', kind: 'webhook', url: 'https://127.0.0.1:9443/x', secret: 's' },
        { name: 'far-hook', kind: 'webhook', url: 'http://soar.corp.example/x', secret: 's' },
        { name: 'chat', kind: 'slack', url: 'http://127.0.0.1:1/' },
      ],
      () => assert.fail('nothing is served'),
    );
    assert.deepEqual(receivers.listening, []);
    assert.deepEqual(receivers.skipped, [
      'tls: it requires TLS',
      'remote: smtp.corp.example is not this machine',
      'login: it logs in (AUTH)',
      'taken: its address is in use (something already listens there)',
      'https-hook: https://127.0.0.1:9443 is not plain http on this machine',
      'far-hook: http://soar.corp.example is not plain http on this machine',
    ]);
    await receivers.close();
  } finally {
    await new Promise<void>((r) => busy.close(() => r()));
  }
});

test('headerValue unfolds headers and decodes RFC 2047 words', () => {
  const msg = 'From: a@x\r\nSubject: =?UTF-8?B?w5xiZXI=?=\r\n =?UTF-8?Q?_wachung_=3D_ok?= plain\r\n\r\nSubject: not a header';
  assert.equal(headerValue(msg, 'subject'), 'Über wachung = ok plain');
  assert.equal(headerValue(msg, 'from'), 'a@x');
  assert.equal(headerValue(msg, 'to'), undefined);
  assert.equal(headerValue('Subject: =?koi8-r?B?abc?=\n\n', 'Subject'), '=?koi8-r?B?abc?=', 'an unknown charset is shown as written');
});
