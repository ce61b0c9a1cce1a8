/**
 * enrich: asks every configured provider about an incident's subjects (its host and user, and the observables
 * of its alerts) through the shared layer, then stores the answers in `enrichments` and hands the incident to
 * `score`. Items are incident ids.
 *
 * compute() does the lookups outside any transaction. The subjects per incident are capped (an incident with
 * thousands of scanned IPs must not issue thousands of lookups per provider); the cap takes the most frequent
 * values of each type in turn, so one flood of IPs cannot crowd out the single malware hash. write() upserts
 * the answers: a failed lookup never overwrites an earlier good answer for the same subject, and rows for
 * subjects or providers that are gone are removed.
 */
import type { Stage } from '../stage.js';
import { enqueue, type ClaimedItem } from '../../store/queue.js';
import type { Db, Store, Tx } from '../../store/store.js';
import type { EnrichmentTable } from '../../store/schema.js';
import { addTimeline } from '../../store/incidents.js';
import { OBSERVABLE_TYPES, type ObservableType } from '../../model/observable.js';
import type { LookupSubject } from '../../enrich/provider.js';
import { isEnrichmentError, type Enricher, type LookupResult } from '../../enrich/layer.js';
import { excludeIncident, isHistoryData } from '../../enrich/providers/history.js';
import { parseIp } from '../../enrich/values.js';

export const DEFAULT_MAX_SUBJECTS = 200;
/** Distinct observables read per incident before the cap picks among them. */
const MAX_CANDIDATES = 5000;
const CHUNK = 200;

/** The order types are taken in when the cap applies: who and where first, then indicators. */
const TYPE_ORDER: readonly ObservableType[] = ['host', 'user', 'ip', 'domain', 'url', 'sha256', 'sha1', 'md5', 'email', 'mac'];

export interface EnrichStageDeps {
  store: Store;
  enricher: Enricher;
  now?: () => number;
  batchSize?: number;
  /** Subjects looked up per incident (default 200). */
  maxSubjects?: number;
}

export interface IncidentEnrichment {
  incidentId: string;
  /** False when the incident no longer exists: nothing is written or handed on. */
  exists: boolean;
  results: LookupResult[];
  subjects: number;
  /** Subjects left out by the cap. */
  omitted: number;
}

/** Asks every provider that answers a subject's type about it; results in subject order, then provider order. */
export async function lookupAll(enricher: Enricher, subjects: readonly LookupSubject[]): Promise<LookupResult[]> {
  return Promise.all(subjects.flatMap((s) => enricher.providersFor(s.type).map((p) => enricher.lookup(p.name, s))));
}

const keyOf = (s: LookupSubject) => `${s.type}:${s.value}`;

/** The incident's subjects, capped: its own host and user first, then observables by type in turn, most frequent first. */
export async function incidentSubjects(
  db: Db,
  incident: { id: string; host: string | null; user_name: string | null },
  max: number,
): Promise<{ subjects: LookupSubject[]; total: number }> {
  const first: LookupSubject[] = [];
  if (incident.host) first.push({ type: parseIp(incident.host) ? 'ip' : 'host', value: incident.host });
  if (incident.user_name) first.push({ type: 'user', value: incident.user_name });

  const observed = await db
    .selectFrom('observables as o')
    .innerJoin('alerts as a', 'a.id', 'o.alert_id')
    .select(['o.type', 'o.value', (eb) => eb.fn.count<number>('o.alert_id').as('n')])
    .where('a.incident_id', '=', incident.id)
    .groupBy(['o.type', 'o.value'])
    .orderBy('n', 'desc')
    .orderBy('o.type')
    .orderBy('o.value')
    .limit(MAX_CANDIDATES)
    .execute();
  const columns = await db
    .selectFrom('alerts')
    .select(['host', 'user_name'])
    .distinct()
    .where('incident_id', '=', incident.id)
    .limit(MAX_CANDIDATES)
    .execute();

  const buckets = new Map<ObservableType, LookupSubject[]>(TYPE_ORDER.map((t) => [t, []]));
  const seen = new Set(first.map(keyOf));
  const add = (s: LookupSubject) => {
    if (!(OBSERVABLE_TYPES as readonly string[]).includes(s.type) || !s.value || seen.has(keyOf(s))) return;
    seen.add(keyOf(s));
    buckets.get(s.type)!.push(s);
  };
  for (const o of observed) add({ type: o.type as ObservableType, value: o.value });
  for (const c of columns) {
    if (c.host) add({ type: parseIp(c.host) ? 'ip' : 'host', value: c.host });
    if (c.user_name) add({ type: 'user', value: c.user_name });
  }

  const total = first.length + [...buckets.values()].reduce((n, b) => n + b.length, 0);
  const subjects = first.slice(0, max);
  // Round-robin over the types so that every kind of indicator gets its share of the cap.
  const longest = Math.max(0, ...[...buckets.values()].map((b) => b.length));
  for (let i = 0; i < longest && subjects.length < max; i++) {
    for (const t of TYPE_ORDER) {
      const s = buckets.get(t)![i];
      if (s && subjects.length < max) subjects.push(s);
    }
  }
  return { subjects, total };
}

/** History answers cover the incident itself; store them as "previous" history for scoring. */
function previousOnly(enricher: Enricher, incidentId: string, r: LookupResult): LookupResult {
  if (isEnrichmentError(r) || !isHistoryData(r.data)) return r;
  const kind = enricher.providers.find((p) => p.name === r.provider)?.kind;
  if (kind !== 'history') return r;
  const data = excludeIncident(r.data, incidentId);
  return { ...r, data: { ...data }, found: data.alerts > 0 };
}

async function enrichOne(deps: EnrichStageDeps, id: string): Promise<IncidentEnrichment> {
  const inc = await deps.store.db.selectFrom('incidents').select(['id', 'host', 'user_name']).where('id', '=', id).executeTakeFirst();
  if (!inc) return { incidentId: id, exists: false, results: [], subjects: 0, omitted: 0 };
  const { subjects, total } = await incidentSubjects(deps.store.db, inc, deps.maxSubjects ?? DEFAULT_MAX_SUBJECTS);
  const results = (await lookupAll(deps.enricher, subjects)).map((r) => previousOnly(deps.enricher, id, r));
  return { incidentId: id, exists: true, results, subjects: subjects.length, omitted: total - subjects.length };
}

function toRow(incidentId: string, r: LookupResult, now: number): EnrichmentTable {
  const base = { incident_id: incidentId, provider: r.provider, subject_type: r.subject.type, subject_value: r.subject.value };
  if (isEnrichmentError(r)) {
    return { ...base, found: 0, data: JSON.stringify({ result: r.result }), error: `${r.result}: ${r.error}`, fetched_at: now };
  }
  return { ...base, found: r.found ? 1 : 0, data: JSON.stringify(r.data), error: null, fetched_at: Date.parse(r.fetched_at) };
}

const rowKey = (r: Pick<EnrichmentTable, 'provider' | 'subject_type' | 'subject_value'>) => `${r.provider}\u0000${r.subject_type}\u0000${r.subject_value}`;

async function writeOne(tx: Tx, e: IncidentEnrichment, now: number): Promise<void> {
  const rows = e.results.map((r) => toRow(e.incidentId, r, now));
  const good = rows.filter((r) => r.error === null);
  const failed = rows.filter((r) => r.error !== null);
  for (let i = 0; i < good.length; i += CHUNK) {
    await tx
      .insertInto('enrichments')
      .values(good.slice(i, i + CHUNK))
      .onConflict((oc) =>
        oc.columns(['incident_id', 'provider', 'subject_type', 'subject_value']).doUpdateSet((eb) => ({
          found: eb.ref('excluded.found'),
          data: eb.ref('excluded.data'),
          error: null,
          fetched_at: eb.ref('excluded.fetched_at'),
        })),
      )
      .execute();
  }
  for (let i = 0; i < failed.length; i += CHUNK) {
    await tx
      .insertInto('enrichments')
      .values(failed.slice(i, i + CHUNK))
      .onConflict((oc) =>
        oc
          .columns(['incident_id', 'provider', 'subject_type', 'subject_value'])
          .doUpdateSet((eb) => ({ data: eb.ref('excluded.data'), error: eb.ref('excluded.error'), fetched_at: eb.ref('excluded.fetched_at') }))
          // An earlier good answer beats a new failure (a rate-limited re-run must not erase what we knew).
          .where('enrichments.error', 'is not', null),
      )
      .execute();
  }
  await deleteStale(tx, e.incidentId, new Set(rows.map(rowKey)));
  await addTimeline(tx, [{ incident_id: e.incidentId, at: now, kind: 'enriched', summary: summarize(e) }]);
}

/** Rows of providers or subjects this run no longer asked about (provider removed, subject over the cap). */
async function deleteStale(tx: Tx, incidentId: string, keep: ReadonlySet<string>): Promise<void> {
  const existing = await tx
    .selectFrom('enrichments')
    .select(['provider', 'subject_type', 'subject_value'])
    .where('incident_id', '=', incidentId)
    .execute();
  for (const r of existing.filter((x) => !keep.has(rowKey(x)))) {
    await tx
      .deleteFrom('enrichments')
      .where('incident_id', '=', incidentId)
      .where('provider', '=', r.provider)
      .where('subject_type', '=', r.subject_type)
      .where('subject_value', '=', r.subject_value)
      .execute();
  }
}

function summarize(e: IncidentEnrichment): string {
  const found = e.results.filter((r) => !isEnrichmentError(r) && r.found).length;
  const errors = e.results.filter(isEnrichmentError);
  const providers = new Set(e.results.map((r) => r.provider)).size;
  let s = `enriched ${e.subjects} subject${e.subjects === 1 ? '' : 's'} with ${providers} provider${providers === 1 ? '' : 's'}: ${found} found`;
  if (e.omitted > 0) s += `, ${e.omitted} more subjects over the cap`;
  if (errors.length) {
    const byWhat = new Map<string, number>();
    for (const r of errors) byWhat.set(`${r.provider} ${r.result}`, (byWhat.get(`${r.provider} ${r.result}`) ?? 0) + 1);
    s += `, ${errors.length} failed (${[...byWhat].map(([k, n]) => `${k} ×${n}`).join(', ')})`;
  }
  return s;
}

export function createEnrichStage(deps: EnrichStageDeps): Stage<IncidentEnrichment[]> {
  const now = deps.now ?? Date.now;
  return {
    name: 'enrich',
    batchSize: deps.batchSize ?? 20,
    async compute(items: readonly ClaimedItem[]) {
      const ids = [...new Set(items.map((i) => i.item_id))];
      return Promise.all(ids.map((id) => enrichOne(deps, id)));
    },
    async write(tx: Tx, _items, computed: IncidentEnrichment[]) {
      const t = now();
      const present = computed.filter((e) => e.exists);
      for (const e of present) await writeOne(tx, e, t);
      await enqueue(tx, 'score', present.map((e) => e.incidentId), t);
    },
  };
}
