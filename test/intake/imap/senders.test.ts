import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseSenderRule, senderAllowed, singleFrom, type SenderRule } from '../../../src/intake/imap/senders.js';

const rules = (...entries: string[]) => entries.map((e) => parseSenderRule(e) as SenderRule);
const from = (address: string) => {
  const f = singleFrom([{ address }]);
  assert.ok(!('reason' in f));
  return f;
};

test('entries: exact addresses and @domain, case-insensitive; malformed ones are errors', () => {
  assert.deepEqual(parseSenderRule(' Alerts@FireEye.Example '), { address: 'alerts@fireeye.example' });
  assert.deepEqual(parseSenderRule('@FireEye.Example'), { domain: 'fireeye.example' });
  for (const bad of ['fireeye.example', '@', '@.example', 'a@', 'a b@x.example', '"a"@x.example', '<a@x.example>', 'a@x..example', '@x.example.', 'a@x_y.example']) {
    assert.equal(typeof parseSenderRule(bad), 'string', bad);
  }
});

test('matching: exact address, or exactly the domain (not subdomains, not suffixes)', () => {
  const r = rules('alerts@fireeye.example', '@ex.fireeye.example');
  assert.equal(senderAllowed(from('ALERTS@FireEye.example'), r), true);
  assert.equal(senderAllowed(from('other@fireeye.example'), r), false);
  assert.equal(senderAllowed(from('anyone@ex.fireeye.example'), r), true);
  assert.equal(senderAllowed(from('a@sub.ex.fireeye.example'), r), false);
  assert.equal(senderAllowed(from('a@evilex.fireeye.example'), r), false);
  assert.equal(senderAllowed(from('alerts@fireeye.example.attacker.test'), r), false);
  assert.equal(senderAllowed(from('alerts@fireeye.example'), []), false, 'an empty list accepts nobody');
});

test('From must be exactly one address', () => {
  assert.deepEqual(singleFrom([]), { reason: 'no From address' });
  assert.deepEqual(singleFrom([{ address: 'a@x.example' }, { address: 'b@x.example' }]), { reason: 'several From addresses' });
  assert.deepEqual(singleFrom([{ address: '', group: [] }]), { reason: 'the From header is a group or has no address' });
  assert.deepEqual(singleFrom([{ address: 'nodomain' }]), { reason: 'the From address has no domain' });
  assert.deepEqual(singleFrom([{ address: ' A@X.Example ' }]), { address: 'a@x.example', domain: 'x.example' });
});
