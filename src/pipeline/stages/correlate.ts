/**
 * correlate: dedup and incident grouping. Runs inside the write transaction because each alert's result
 * depends on the ones before it; reads are batched (one query per table per batch) and the decisions are
 * made in memory. On PostgreSQL an advisory lock serialises correlation across processes, so two workers
 * never open two incidents for one group.
 */
import { sql } from 'kysely';
import type { Stage } from '../stage.js';
import { enqueue, type ClaimedItem } from '../../store/queue.js';
import type { Db, Store, Tx } from '../../store/store.js';
import type { Selectable } from 'kysely';
import type { IncidentTable } from '../../store/schema.js';
import type { AlertDoc } from '../../store/alert-docs.js';
import { groupKeys } from '../../correlate/keys.js';
import { addTimeline, updateIncidents } from '../../store/incidents.js';
import { updateRows } from '../../store/update-rows.js';
import { insertRows } from '../../store/insert-rows.js';
import { ulid } from '../../util/ulid.js';
import { selectInChunks } from '../../util/chunks.js';

export interface CorrelateSettings {
  dedupWindowMs: number;
  groupWindowMs: number;
}

interface AlertIn {
  alert: AlertDoc;
  fingerprint: string;
  time: number;
}

type TimelineRow = Parameters<typeof addTimeline>[1][number];
type Incident = Selectable<IncidentTable>;
/** What correlation reads and changes of an incident (not its score and decision documents). */
const TRACKED = ['id', 'status', 'first_seen', 'last_seen', 'alert_count', 'severity', 'host', 'user_name', 'updated_at'] as const;
type Tracked = Pick<Incident, (typeof TRACKED)[number]>;
const CHUNK = 400;

const selectIn = <T>(values: readonly string[], select: (chunk: string[]) => Promise<readonly T[]>) => selectInChunks(values, CHUNK, select);

export function createCorrelateStage(store: Store, settings: CorrelateSettings, batchSize = 500): Stage<AlertIn[]> {
  return {
    name: 'correlate',
    next: ['enrich'],
    batchSize,
    storeOnly: true,
    async compute(items: readonly ClaimedItem[], db: Db) {
      const rows = (
        await selectIn(items.map((i) => i.item_id), (ids) =>
          db.selectFrom('alerts').select(['id', 'fingerprint', 'time', 'incident_id']).where('id', 'in', ids).execute(),
        )
      ).filter((r) => r.incident_id === null);
      const docs = await store.alertDocs.load(db, rows.map((r) => r.id));
      return rows
        .flatMap((r) => {
          const alert = docs.get(r.id);
          return alert ? [{ alert, fingerprint: r.fingerprint, time: r.time }] : [];
        })
        .sort((a, b) => a.time - b.time || (a.alert.id < b.alert.id ? -1 : 1));
    },
    async write(tx: Tx, _items, alerts: AlertIn[]) {
      if (alerts.length === 0) return;
      if (store.dialect === 'postgres') await sql`select pg_advisory_xact_lock(727101)`.execute(tx);
      await correlateBatch(tx, alerts, settings);
    },
  };
}

async function correlateBatch(tx: Tx, alerts: AlertIn[], s: CorrelateSettings): Promise<void> {
  const now = Date.now();
  const keysOf = new Map(alerts.map((a) => [a.alert.id, groupKeys(a.alert)]));
  const fps = await selectIn([...new Set(alerts.map((a) => a.fingerprint))], (c) =>
    tx.selectFrom('fingerprints').selectAll().where('fingerprint', 'in', c).execute(),
  );
  const keyRows = await selectIn([...new Set([...keysOf.values()].flat())], (c) =>
    tx.selectFrom('incident_keys').selectAll().where('key', 'in', c).execute(),
  );
  const incidentIds = [...new Set([...fps.map((f) => f.incident_id), ...keyRows.map((k) => k.incident_id)].filter((x): x is string => !!x))];
  const incidents = new Map(
    (await selectIn(incidentIds, (c) => tx.selectFrom('incidents').select(TRACKED).where('id', 'in', c).execute())).map((i): [string, Tracked] => [i.id, i]),
  );

  const fpMap = new Map(fps.map((f) => [f.fingerprint, { ...f }]));
  const keyMap = new Map(keyRows.map((k) => [k.key, { ...k }]));
  const created = new Map<string, Incident>();
  const changed = new Set<string>();
  const touched = new Set<string>(); // incidents with new (non-repeat) alerts: re-enrich, re-score, re-decide
  const assign = new Map<string, string[]>(); // incident → alert ids
  const repeats = new Map<string, { count: number; last: number }>(); // original alert → its repeat_count, last repeat
  const repeatIds = new Set<string>(); // the repeats themselves: done here (they make no new decision)
  const timeline: TimelineRow[] = [];
  const open = (id: string | null | undefined) => {
    const inc = id ? incidents.get(id) : undefined;
    return inc && inc.status !== 'closed' ? inc : undefined;
  };
  const link = (inc: Tracked, a: AlertIn) => {
    const list = assign.get(inc.id) ?? [];
    list.push(a.alert.id);
    assign.set(inc.id, list);
    inc.last_seen = Math.max(inc.last_seen, a.time);
    inc.first_seen = Math.min(inc.first_seen, a.time);
    inc.updated_at = now;
    if (!created.has(inc.id)) changed.add(inc.id);
  };

  for (const a of alerts) {
    const fp = fpMap.get(a.fingerprint);
    const fpIncident = fp && a.time - fp.last_seen <= s.dedupWindowMs ? open(fp.incident_id) : undefined;
    if (fp && fpIncident) {
      fp.count += 1;
      fp.last_seen = Math.max(fp.last_seen, a.time);
      // The fingerprint counts its original alert and each repeat since, as the original's repeat_count does.
      repeats.set(fp.alert_id, { count: fp.count, last: Math.max(repeats.get(fp.alert_id)?.last ?? 0, a.time) });
      repeatIds.add(a.alert.id);
      link(fpIncident, a);
      timeline.push({ incident_id: fpIncident.id, at: a.time, kind: 'repeat', summary: `repeat #${fp.count}: ${a.alert.title}`, alert_id: a.alert.id });
      continue;
    }
    const keys = keysOf.get(a.alert.id)!;
    let inc: Tracked | undefined;
    for (const k of keys) {
      const row = keyMap.get(k);
      const cand = row && a.time - row.last_seen <= s.groupWindowMs ? open(row.incident_id) : undefined;
      if (cand && (!inc || cand.last_seen > inc.last_seen)) inc = cand;
    }
    if (!inc) {
      const fresh = newIncident(a, now);
      incidents.set(fresh.id, fresh);
      created.set(fresh.id, fresh);
      inc = fresh;
    } else {
      inc.alert_count += 1;
      inc.severity = Math.max(inc.severity, a.alert.severity);
      inc.host ??= a.alert.host?.name?.toLowerCase() ?? a.alert.host?.ip ?? null;
      inc.user_name ??= a.alert.user?.name?.toLowerCase() ?? null;
    }
    link(inc, a);
    touched.add(inc.id);
    for (const k of keys) keyMap.set(k, { key: k, incident_id: inc.id, last_seen: Math.max(keyMap.get(k)?.last_seen ?? 0, a.time) });
    fpMap.set(a.fingerprint, { fingerprint: a.fingerprint, alert_id: a.alert.id, incident_id: inc.id, last_seen: a.time, count: 1 });
    timeline.push({ incident_id: inc.id, at: a.time, kind: 'alert', summary: `${a.alert.detector}: ${a.alert.title}`, alert_id: a.alert.id });
  }

  // A new incident's row is the object correlation went on changing.
  await insertRows(tx, 'incidents', INCIDENT_COLUMNS, [...created.values()]);
  await updateIncidents(
    tx,
    [...changed].map((id) => {
      const inc = incidents.get(id)!;
      const { alert_count, severity, first_seen, last_seen, host, user_name } = inc;
      return { id, alert_count, severity, first_seen, last_seen, host, user_name };
    }),
    now,
  );
  // A repeat makes no new decision: it is done here.
  const assigned = [...assign].flatMap(([incidentId, ids]) =>
    ids.map((id) => (repeatIds.has(id) ? { id, incident_id: incidentId, decided_at: now } : { id, incident_id: incidentId })),
  );
  await updateRows(tx, 'alerts', assigned);
  await updateRows(tx, 'alerts', [...repeats].map(([id, r]) => ({ id, repeat_count: r.count, last_repeat_at: r.last })));
  await insertRows(tx, 'incident_keys', ['key', 'incident_id', 'last_seen'], [...keyMap.values()], {
    onConflict: 'on conflict ("key") do update set "incident_id" = excluded."incident_id", "last_seen" = excluded."last_seen"',
  });
  await insertRows(tx, 'fingerprints', ['fingerprint', 'alert_id', 'incident_id', 'last_seen', 'count'], [...fpMap.values()], {
    onConflict: `on conflict ("fingerprint") do update set "alert_id" = excluded."alert_id", "incident_id" = excluded."incident_id",
      "last_seen" = excluded."last_seen", "count" = excluded."count"`,
  });
  await addTimeline(tx, timeline);
  await enqueue(tx, 'enrich', [...touched], now);
}

const INCIDENT_COLUMNS = [
  'id', 'title', 'status', 'verdict', 'first_seen', 'last_seen', 'alert_count', 'severity', 'host', 'user_name',
  'score_total', 'score', 'decision', 'created_at', 'updated_at', 'enrich_version',
] as const satisfies ReadonlyArray<keyof Incident>;

function newIncident(a: AlertIn, now: number): Incident {
  return {
    id: ulid(),
    title: a.alert.title.slice(0, 500),
    status: 'new',
    verdict: null,
    first_seen: a.time,
    last_seen: a.time,
    alert_count: 1,
    severity: a.alert.severity,
    host: a.alert.host?.name?.toLowerCase() ?? a.alert.host?.ip ?? (a.alert.user?.name ? null : a.alert.src?.ip ?? null),
    user_name: a.alert.user?.name?.toLowerCase() ?? null,
    score_total: null,
    score: null,
    decision: null,
    created_at: now,
    updated_at: now,
    enrich_version: 0,
  };
}
