import { test } from 'node:test';
import assert from 'node:assert/strict';
import { simpleParser } from 'mailparser';
import { isTextPart, messageRecords } from '../../../src/intake/imap/records.js';

const crlf = (s: string) => Buffer.from(s.replace(/\r?\n/g, '\r\n'));
const recordsOf = async (raw: Buffer) => messageRecords(await simpleParser(raw), raw);

test('text attachments by type, or by name for a generic type; binary ones are not', () => {
  for (const [t, name] of [
    ['text/plain', null],
    ['Text/CSV', null],
    ['application/json', null],
    ['application/xml', null],
    ['application/alert+json', null],
    ['application/soap+xml', null],
    ['message/rfc822', null],
    ['application/octet-stream', 'alert.JSON'],
    ['application/octet-stream', 'notify.xml'],
  ] as const) {
    assert.equal(isTextPart(t, name), true, `${t} ${name}`);
  }
  for (const [t, name] of [
    ['application/pdf', 'alert.json'],
    ['image/png', null],
    ['application/octet-stream', 'a.exe'],
    ['application/octet-stream', null],
    ['application/zip', 'alerts.xml.zip'],
  ] as const) {
    assert.equal(isTextPart(t, name), false, `${t} ${name}`);
  }
});

test('multipart/alternative: the text/plain part, not the HTML; trailing line breaks dropped', async () => {
  const r = await recordsOf(
    crlf(`From: a@x.test
Subject: s
MIME-Version: 1.0
Content-Type: multipart/alternative; boundary=b

--b
Content-Type: text/plain; charset=iso-8859-1
Content-Transfer-Encoding: quoted-printable

Alerte: h=F4te compromis

--b
Content-Type: text/html

<p>HTML version</p>
--b--
`),
  );
  assert.deepEqual(r.records, [{ raw: 'Alerte: hôte compromis' }], 'decoded from its charset');
  assert.equal(r.raw, false);
});

test('a non-UTF-8 attachment is kept byte for byte (raw_base64)', async () => {
  const bytes = Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xe9, 0x22, 0x7d]); // {"a":"é"} in Latin-1
  const r = await recordsOf(
    crlf(`From: a@x.test
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary=b

--b
Content-Type: text/plain

body
--b
Content-Type: application/json
Content-Disposition: attachment; filename=a.json
Content-Transfer-Encoding: base64

${bytes.toString('base64')}
--b--
`),
  );
  assert.equal(r.records.length, 2);
  assert.equal(r.records[1]!.raw_base64, bytes.toString('base64'));
});

test('nothing usable (empty body, binary only): one record of the whole raw message', async () => {
  const raw = crlf(`From: a@x.test
Subject: blank
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary=b

--b
Content-Type: text/plain

   

--b
Content-Type: image/png
Content-Disposition: attachment; filename=x.png
Content-Transfer-Encoding: base64

iVBORw0KGgo=
--b--
`);
  const r = await recordsOf(raw);
  assert.deepEqual(r.records, [{ raw: raw.toString() }]);
  assert.equal(r.raw, true);
  assert.deepEqual(r.skipped, [{ filename: 'x.png', content_type: 'image/png', bytes: 8 }]);
});
