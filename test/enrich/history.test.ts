import { test } from 'node:test';
import assert from 'node:assert/strict';
import history, { excludeIncident, windowStart, type HistoryData } from '../../src/enrich/providers/history.js';
import { DIALECTS, openTestStore } from '../support/stores.js';
import { insertAlert, insertIncident } from './support.js';
import type { Store } from '../../src/store/store.js';
import type { LookupSubject } from '../../src/enrich/provider.js';

const DAY = 86_400_000;
const NOW = Date.parse('2026-11-27T12:00:00Z');
const signal = new AbortController().signal;

/**
 * Four incidents of ws-042 (one outside the window), alice on two alerts, 203.0.113.7 on three, one alert
 * with no incident (stored by releases before every alert had one: history no longer sees it).
 */
async function seed(db: Store['db']): Promise<void> {
  await insertIncident(db, { id: 'I-old', time: NOW - 40 * DAY, host: 'ws-042', verdict: 'true_positive' });
  await insertIncident(db, { id: 'I-tp', time: NOW - 10 * DAY, host: 'ws-042', user: 'alice', verdict: 'true_positive', score: 88 });
  await insertIncident(db, { id: 'I-fp', time: NOW - 3 * DAY, host: 'ws-042', verdict: 'false_positive' });
  await insertIncident(db, { id: 'I-now', time: NOW - 60_000, host: 'ws-042', user: 'alice' });
  // Outside the 30-day window: not counted.
  await insertAlert(db, { id: 'A0', incident: 'I-old', time: NOW - 40 * DAY, host: 'ws-042', observables: [['ip', '203.0.113.7', 'dst']] });
  await insertAlert(db, { id: 'A1', incident: 'I-tp', time: NOW - 10 * DAY, host: 'ws-042', user: 'alice', repeats: 3, observables: [['ip', '203.0.113.7', 'dst'], ['ip', '203.0.113.7', 'src']] });
  await insertAlert(db, { id: 'A2', incident: 'I-tp', time: NOW - 10 * DAY + 1000, host: 'ws-042', observables: [['host', 'ws-042', 'host']] });
  await insertAlert(db, { id: 'A3', incident: 'I-fp', time: NOW - 3 * DAY, host: 'ws-042' });
  await insertAlert(db, { id: 'A4', incident: 'I-now', time: NOW - 60_000, host: 'ws-042', user: 'alice', observables: [['ip', '203.0.113.7', 'dst']] });
  await insertAlert(db, { id: 'A5', incident: null, time: NOW - 30_000, host: 'ws-042' });
}

for (const dialect of DIALECTS) {
  test(`history on ${dialect}: counts, last seen, verdicts for a host, a user and an indicator over the window`, async () => {
    const t = await openTestStore(dialect);
    try {
      await seed(t.store.db);
      const p = await history.create({ name: 'history', kind: 'history', window: '30d' }, { store: t.store, configDir: '/', now: () => NOW });
      const host = await p.lookup({ type: 'host', value: 'WS-042' }, signal);
      const h = host.data as unknown as HistoryData;
      assert.equal(host.found, true);
      assert.equal(host.ttlMs, 0, 'history is not cached by default');
      assert.equal(h.alerts, 4);
      assert.equal(h.events, 6, 'repeats count as events');
      assert.equal(h.incident_count, 3);
      assert.deepEqual(h.incidents.map((i) => [i.id, i.alerts, i.verdict]), [
        ['I-now', 1, null],
        ['I-fp', 1, 'false_positive'],
        ['I-tp', 2, 'true_positive'],
      ]);
      assert.deepEqual(h.verdicts, { true_positive: 1, false_positive: 1, benign: 0 });
      assert.equal(h.last_seen, new Date(NOW - 60_000).toISOString());
      assert.deepEqual(h.ungrouped, { alerts: 0, events: 0, last_seen: null });
      assert.equal(h.incidents.find((i) => i.id === 'I-tp')!.score, 88);

      // "Previous" history of the current incident: itself removed from every count.
      const prev = excludeIncident(h, 'I-now');
      assert.equal(prev.alerts, 3);
      assert.equal(prev.incident_count, 2);
      assert.deepEqual(prev.incidents.map((i) => i.id), ['I-fp', 'I-tp']);
      const prevFp = excludeIncident(h, 'I-fp');
      assert.deepEqual(prevFp.verdicts, { true_positive: 1, false_positive: 0, benign: 0 });
      assert.equal(excludeIncident(h, 'not-there'), h);

      const ip = (await p.lookup({ type: 'ip', value: '203.0.113.7' }, signal)).data as unknown as HistoryData;
      assert.equal(ip.alerts, 2, 'one alert counts once even with the value in two roles');
      assert.deepEqual(ip.incidents.map((i) => i.id), ['I-now', 'I-tp']);
      assert.equal(ip.last_seen, new Date(NOW - 60_000).toISOString());

      const user = (await p.lookup({ type: 'user', value: 'alice' }, signal)).data as unknown as HistoryData;
      assert.equal(user.alerts, 2);
      assert.deepEqual(user.verdicts, { true_positive: 1, false_positive: 0, benign: 0 });

      const none = await p.lookup({ type: 'sha256', value: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855' }, signal);
      assert.equal(none.found, false);
      assert.equal((none.data as unknown as HistoryData).incident_count, 0);
    } finally {
      await t.cleanup();
    }
  });
  test(`history on ${dialect}: lookupMany answers each subject exactly as lookup does`, async () => {
    const t = await openTestStore(dialect);
    try {
      await seed(t.store.db);
      const p = await history.create({ name: 'history', kind: 'history', window: '30d' }, { store: t.store, configDir: '/', now: () => NOW });
      const subjects: LookupSubject[] = [
        { type: 'host', value: 'WS-042' },
        { type: 'user', value: 'alice' },
        { type: 'ip', value: '203.0.113.7' },
        { type: 'host', value: 'ws-042' },
        { type: 'sha256', value: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855' },
        { type: 'ip', value: '203.0.113.7' },
      ];
      const many = await p.lookupMany!(subjects, signal);
      const one = await Promise.all(subjects.map((s) => p.lookup(s, signal)));
      assert.deepEqual(many, one);
      assert.deepEqual(many.map((a) => (a.data as unknown as HistoryData).alerts), [4, 2, 2, 4, 0, 2]);
      assert.deepEqual(await p.lookupMany!([], signal), []);
    } finally {
      await t.cleanup();
    }
  });

  test(`history on ${dialect}: a subject in more than max_alerts incidents reads its newest; the others in the same call are exact`, async () => {
    const t = await openTestStore(dialect);
    try {
      const db = t.store.db;
      await seed(db);
      // 150 incidents of one alert each to the same address, 120 of them on the same host.
      for (let i = 0; i < 150; i++) {
        const time = NOW - DAY + i * 1000;
        await insertIncident(db, { id: `I-scan-${i}`, time, host: 'scanner-01' });
        await insertAlert(db, { id: `S${i}`, incident: `I-scan-${i}`, time, host: i < 120 ? 'scanner-01' : null, observables: [['ip', '198.51.100.9', 'dst']] });
      }
      const p = await history.create({ name: 'history', kind: 'history', window: '30d', max_alerts: 100 }, { store: t.store, configDir: '/', now: () => NOW });
      // Behind 110 subjects without history: the two over max_alerts are read again apart (one statement per
      // 100 subjects), the others keep what the statement for all of them read.
      const unseen: LookupSubject[] = Array.from({ length: 110 }, (_, i) => ({ type: 'ip', value: `192.0.2.${i}` }));
      const subjects: LookupSubject[] = [
        ...unseen,
        { type: 'ip', value: '198.51.100.9' },
        { type: 'host', value: 'scanner-01' },
        { type: 'host', value: 'ws-042' },
        { type: 'ip', value: '203.0.113.7' },
      ];
      const many = await p.lookupMany!(subjects, signal);
      const one = await Promise.all(subjects.map((s) => p.lookup(s, signal)));
      assert.deepEqual(many, one);
      assert.ok(many.slice(0, unseen.length).every((a) => !a.found));
      const [scanIp, scanHost, ws, c2] = many.slice(unseen.length).map((a) => a.data as unknown as HistoryData) as [HistoryData, HistoryData, HistoryData, HistoryData];
      assert.deepEqual([scanIp.alerts, scanIp.truncated, scanIp.last_seen], [100, true, new Date(NOW - DAY + 149_000).toISOString()]);
      assert.deepEqual([scanHost.alerts, scanHost.truncated, scanHost.last_seen], [100, true, new Date(NOW - DAY + 119_000).toISOString()]);
      assert.deepEqual([ws.alerts, ws.truncated, ws.incident_count], [4, false, 3]);
      assert.deepEqual([c2.alerts, c2.truncated], [2, false]);
    } finally {
      await t.cleanup();
    }
  });
}

test('the history window starts in steps, so an answer stays the same between alerts', () => {
  const DAY30 = 30 * 86_400_000;
  const now = Date.parse('2026-11-27T12:34:56.789Z');
  const start = windowStart(now, DAY30);
  assert.ok(start <= now - DAY30 && start > now - DAY30 - 3_600_000, 'a 30-day window is 30 days and up to an hour');
  assert.equal(windowStart(now + 60_000, DAY30), start, 'a minute later: the same window');
  assert.equal(windowStart(now + 3_600_000, DAY30), start + 3_600_000, 'an hour later: one step on');
  const hour = windowStart(now, 3_600_000);
  assert.ok(hour <= now - 3_600_000 && hour > now - 3_600_000 - 36_000, 'a 1-hour window steps by 36 s');
});
