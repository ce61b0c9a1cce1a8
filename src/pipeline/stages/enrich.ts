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
 *
 * A pass is incremental when it can be: it asks only about the indicators that came to the incident since its
 * last pass (incident_observables.first_seq after incidents.enriched_seq) and leaves the stored answers
 * about the others as they are. A whole pass (every subject, each stored answer checked, stale ones removed)
 * runs when the incident has had none yet, the providers or their data changed since, or the new
 * indicators would take the incident over the cap. The last such pass is kept with the incident
 * (incidents.enrich_pass_*), so a restart or another worker goes on from it. When the reuse period of the
 * providers without a revision (history) lapses, a refresh asks those about every subject and the others
 * only about new ones. Before, every pass was whole, so it cost as much as the incident's size: at 100
 * alerts per incident, six times as much as at five.
 *
 * Both work on the whole batch at once, because per incident the overhead (a query each, a lookup call each)
 * cost far more than the work: the batch's subjects are read with a few statements, looked up with one
 * Enricher.lookupBatch (one call per provider+subject, one for all of a provider with lookupMany), and
 * written with multi-row statements. What is stored is the same as enriching each incident alone.
 */
import { sql } from 'kysely';
import type { Stage } from '../stage.js';
import { enqueue, type ClaimedItem } from '../../store/queue.js';
import type { Db, Store, Tx } from '../../store/store.js';
import type { EnrichmentTable } from '../../store/schema.js';
import { addTimeline } from '../../store/incidents.js';
import { insertRows } from '../../store/insert-rows.js';
import { updateRows } from '../../store/update-rows.js';
import { isObservableType, type ObservableType } from '../../model/observable.js';
import type { EnrichmentProvider, LookupSubject } from '../../enrich/provider.js';
import { isEnrichmentError, isLate, type BatchOptions, type Enricher, type LookupOptions, type LookupResult } from '../../enrich/layer.js';
import { errorContext, log } from '../../util/log.js';
import type { LookupPriority } from '../../enrich/quota.js';
import { columnIndicators } from '../../correlate/keys.js';
import { incidentObservations, recordObservations } from '../../store/observations.js';
import { canonicalIp, hostKeys, normalizeValue, parseIp } from '../../enrich/values.js';
import { isPublicAddress } from '../../util/outbound.js';
import { pow2ChunksOf } from '../../util/chunks.js';

export const DEFAULT_MAX_SUBJECTS = 200;
/** Distinct observables read per incident before the cap picks among them. */
const MAX_CANDIDATES = 5000;
/** Ids per IN list. */
const CHUNK = 200;
/** Incidents whose subjects one statement reads (each adds a part to a UNION ALL; SQLite allows 500). */
const INCIDENTS_PER_QUERY = 200;
/** Values per IN list of a delete. */
const ROWS_PER_STATEMENT = 100;

/** The order types are taken in when the cap applies: who and where first, then indicators. */
const TYPE_ORDER: readonly ObservableType[] = ['host', 'user', 'ip', 'domain', 'url', 'sha256', 'sha1', 'md5', 'email', 'mac'];

export interface EnrichStageDeps {
  store: Store;
  enricher: Enricher;
  now?: () => number;
  batchSize?: number;
  /** Subjects looked up per incident (default 200). */
  maxSubjects?: number;
  /**
   * How long an incident waits for answers before it goes on with what it has (default 3 s). Answers that come
   * later enrich it again.
   */
  answerWithinMs?: number;
  /** How long a batch waits for every answer before putting the incidents still waiting back in the queue (default 50 ms). */
  firstWaitMs?: number;
}

export const DEFAULT_ANSWER_WITHIN_MS = 3000;
export const DEFAULT_FIRST_WAIT_MS = 50;

export interface IncidentEnrichment {
  incidentId: string;
  /** False when the incident no longer exists: nothing is written or handed on. */
  exists: boolean;
  /** The answers asked for this time. */
  results: LookupResult[];
  /**
   * The incident's stored answers before this run, by answerKey (data only for providers without a
   * revision): every one for a whole pass, those without a revision for a refresh, none for an incremental
   * pass (it asks only about new subjects).
   */
  stored: Map<string, StoredAnswer>;
  /**
   * Stored answers kept, not asked again: made at their provider's current revision, about a subject asked
   * about this run. `rows` by answerKey; `found` counts those that found something.
   */
  kept: { rows: ReadonlySet<string>; found: number };
  /** Providers that answered (or had a kept answer about) any of its subjects. */
  providers: number;
  /** Each provider's data revision for this run (providers that have one). */
  revisions: ReadonlyMap<string, string>;
  /** The providers and revisions this run asked (passKeyOf): stored with the incident when the pass `renews`. */
  passKey: string;
  subjects: number;
  /** Subjects left out by the cap. */
  omitted: number;
  /** A whole pass: every subject, every stored answer checked, stale ones removed. */
  whole: boolean;
  /** A whole pass or a refresh (every subject asked of the providers without a revision): it starts a new reuse period. */
  renews: boolean;
  /** incidents.last_seq when read, before its indicators: the pass has seen every indicator up to it. */
  seenSeq: number;
  /** Distinct subjects the incident has, as far as this pass knows (for the cap of later incremental passes). */
  known: number;
  /** When the pass read and asked (one that `renews` stands for `refreshMs` from then). */
  computedAt: number;
  /** Hosts and users this pass learnt from answers about addresses: kept as the incident's indicators. */
  derived: Derived[];
  /** The incident's own machine and person, where its row names none (or only an address) and answers do. */
  identity: { host?: string; user?: string };
  /**
   * Answers it waits for are still running and its budget is not spent: nothing is written, and it is queued
   * again to be enriched at this time at the latest (sooner when the answers land). Null: it goes on.
   */
  deferUntil: number | null;
}

/** Asks every provider that answers a subject's type about it; results in subject order, then provider order. */
export async function lookupAll(enricher: Enricher, subjects: readonly LookupSubject[], opts: LookupOptions = {}): Promise<LookupResult[]> {
  return Promise.all(subjects.flatMap((s) => enricher.providersFor(s.type).map((p) => enricher.lookup(p.name, s, opts))));
}

const keyOf = (s: LookupSubject) => `${s.type}:${s.value}`;

/** Severity from which an incident's lookups may use the quota reserve (high and critical: 70+). */
export const HIGH_PRIORITY_SEVERITY = 70;
const quotaPriority = (severity: number): LookupPriority => (severity >= HIGH_PRIORITY_SEVERITY ? 'high' : 'normal');

interface IncidentRef {
  id: string;
  host: string | null;
  user_name: string | null;
}

/** The incident's subjects, capped: its own host and user first, then observables by type in turn, most frequent first. */
export async function incidentSubjects(db: Db, incident: IncidentRef, max: number): Promise<{ subjects: LookupSubject[]; total: number }> {
  return (await subjectsOfIncidents(db, [incident], max))[0]!;
}

type Observed = { type: string; value: string; last_seen: number | string };

/** incidentSubjects for many incidents, with a few statements for all of them. */
async function subjectsOfIncidents(db: Db, incidents: readonly IncidentRef[], max: number): Promise<Array<{ subjects: LookupSubject[]; total: number }>> {
  const observed: Observed[][] = [];
  for (const chunk of pow2ChunksOf(incidents, INCIDENTS_PER_QUERY)) {
    const ids = chunk.map((i) => i.id);
    observed.push(...((await candidatesTogether(db, ids)) ?? (await candidatesApart(db, ids))));
  }
  return incidents.map((inc, i) => capSubjects(inc, observed[i]!, max));
}

/**
 * Each incident's indicators (its alerts' observables, hosts and users: incidentObservations) by how many of
 * its alerts carried them, for all the incidents at once: exact when the statement reads at most
 * MAX_CANDIDATES rows (then no incident's own LIMIT would have cut anything, and ordering the whole by
 * frequency orders each incident's rows as its own query would). Null when there are more. (Plain SQL here
 * and below: the query builder spends more building these statements than the database running them.)
 */
async function candidatesTogether(db: Db, ids: readonly string[]): Promise<Observed[][] | null> {
  const at = new Map(ids.map((id, i) => [id, i]));
  const counted = await sql<Observed & { incident_id: string }>`
    select "incident_id", "type", "value", "last_seen" from ${incidentObservations(ids)} o
    order by "alerts" desc, "type", "value" limit ${MAX_CANDIDATES + 1}`.execute(db);
  if (counted.rows.length > MAX_CANDIDATES) return null;
  const observed = ids.map(() => [] as Observed[]);
  for (const r of counted.rows) observed[at.get(r.incident_id)!]!.push(r);
  return observed;
}

/** The same with each incident's own LIMIT: UNION ALLs with one part per incident, the query it would run alone. */
async function candidatesApart(db: Db, ids: readonly string[]): Promise<Observed[][]> {
  const parts = ids.map(
    (id, i) => sql`select * from (
      select "type", "value", "alerts", "last_seen", ${sql.lit(i)} as "incident" from ${incidentObservations([id])} o
      order by "alerts" desc, "type", "value" limit ${MAX_CANDIDATES}) c`,
  );
  // The outer ORDER BY keeps each incident's rows in the order its own query gives (the database's collation).
  const { rows } = await sql<Observed & { incident: number }>`${sql.join(parts, sql` union all `)}
    order by "incident", "alerts" desc, "type", "value"`.execute(db);
  const observed = ids.map(() => [] as Observed[]);
  for (const r of rows) observed[Number(r.incident)]!.push(r);
  return observed;
}

function capSubjects(incident: IncidentRef, observed: readonly Observed[], max: number): { subjects: LookupSubject[]; total: number } {
  // Each subject at the time of the newest alert that carried it (what time-bound providers answer for).
  const lastSeen = new Map(observed.map((o) => [`${o.type}:${o.value}`, Number(o.last_seen)]));
  const timed = (type: ObservableType, value: string): LookupSubject => {
    const at = lastSeen.get(`${type}:${value}`);
    return at === undefined || !Number.isFinite(at) ? { type, value } : { type, value, at };
  };
  const first: LookupSubject[] = columnIndicators(incident).map(([type, value]) => timed(type, value));

  const buckets = new Map<ObservableType, LookupSubject[]>(TYPE_ORDER.map((t) => [t, []]));
  const seen = new Set(first.map(keyOf));
  const add = (s: LookupSubject) => {
    if (!isObservableType(s.type) || !s.value || seen.has(keyOf(s))) return;
    seen.add(keyOf(s));
    buckets.get(s.type)!.push(s);
  };
  for (const o of observed) if (isObservableType(o.type)) add(timed(o.type, o.value));

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

/**
 * The answer as its provider says it stands without the asking incident (EnrichmentProvider.withoutIncident:
 * history counts the incident's own alerts), so that scoring reads "earlier" as earlier.
 */
function withoutItself(counting: ReadonlyMap<string, EnrichmentProvider>, incidentId: string, r: LookupResult): LookupResult {
  if (isEnrichmentError(r)) return r;
  const provider = counting.get(r.provider);
  if (!provider?.withoutIncident) return r;
  const answer = provider.withoutIncident({ found: r.found, data: r.data }, incidentId);
  return answer.data === r.data && answer.found === r.found ? r : { ...r, found: answer.found, data: answer.data };
}

/**
 * The batch's incidents: their subjects, every provider's answers for them, in the order of `ids`. A stored
 * answer made at its provider's current revision, or confirmed within its provider's reuse period before `t`
 * (now), is kept instead of asked again: an incident is re-enriched whenever an alert joins it, and asking
 * about all its subjects every time made each update cost as much as the incident's size.
 */
async function enrichMany(
  deps: EnrichStageDeps,
  counting: ReadonlyMap<string, EnrichmentProvider>,
  refreshMs: number,
  ids: readonly string[],
  t: number,
  waiting: Map<string, number>,
): Promise<IncidentEnrichment[]> {
  const max = deps.maxSubjects ?? DEFAULT_MAX_SUBJECTS;
  const found = new Map<string, IncidentRef & { severity: number; last_seq: number; enriched_seq: number; pass: LastPass | null }>();
  for (const chunk of pow2ChunksOf(ids, CHUNK)) {
    const rows = await deps.store.db
      .selectFrom('incidents')
      .select(['id', 'host', 'user_name', 'severity', 'last_seq', 'enriched_seq', 'enrich_pass_at', 'enrich_pass_key', 'enrich_known'])
      .where('id', 'in', chunk)
      .execute();
    for (const r of rows) {
      const pass = r.enrich_pass_at === null || r.enrich_pass_key === null ? null : { at: Number(r.enrich_pass_at), key: r.enrich_pass_key, known: Number(r.enrich_known) };
      found.set(r.id, {
        id: r.id,
        host: r.host,
        user_name: r.user_name,
        severity: Number(r.severity),
        last_seq: Number(r.last_seq),
        enriched_seq: Number(r.enriched_seq),
        pass,
      });
    }
  }
  const incidents = ids.flatMap((id) => found.get(id) ?? []);
  const revisions = await providerRevisions(deps.enricher);
  const passKey = passKeyOf(deps.enricher.providers, revisions);
  // Where the incident's last pass over every subject still stands (same providers, same revisions):
  // incremental, asking only about the indicators new since, until the reuse period of the providers without
  // a revision lapses; then a refresh, which asks those providers about every subject again and the others
  // only about the new ones (their stored answers are current by revision). Otherwise a whole pass.
  const incremental = new Map<string, LookupSubject[]>();
  const refresh = new Map<string, Set<string>>(); // incident → keyOf its new subjects
  const standing = incidents.filter((inc) => inc.enriched_seq > 0 && inc.pass?.key === passKey);
  for (const [id, fresh] of await newSubjects(deps.store.db, standing.map((i) => i.id))) {
    const last = found.get(id)!.pass!;
    if (last.known + fresh.length > max) continue;
    if (t - last.at < refreshMs) incremental.set(id, fresh);
    else refresh.set(id, new Set(fresh.map(keyOf)));
  }
  // Whole passes and refreshes ask about every subject.
  const everySubject = incidents.filter((inc) => !incremental.has(inc.id));
  const at = new Map(everySubject.map((inc, i) => [inc.id, i] as const));
  const allSubjects = await subjectsOfIncidents(deps.store.db, everySubject, max);
  const subjects = incidents.map((inc) => {
    const fresh = incremental.get(inc.id);
    return fresh ? { subjects: fresh, total: fresh.length } : allSubjects[at.get(inc.id)!]!;
  });
  // Read outside the write transaction: the queue's lease makes this worker the only one on these incidents.
  // A whole pass needs every stored answer; a refresh those of providers without a revision (the ones it
  // asks again and compares); an incremental pass only asks new subjects, and reads none.
  const stored = new Map<string, Map<string, StoredAnswer>>();
  const refreshed = incidents.filter((i) => refresh.has(i.id)).map((i) => i.id);
  for (const [id, answers] of await storedAnswers(deps.store.db, refreshed, { withoutRevision: true })) stored.set(id, answers);
  for (const [id, answers] of await storedAnswers(deps.store.db, everySubject.filter((i) => !refresh.has(i.id)).map((i) => i.id))) stored.set(id, answers);
  // Per incident, the stored answers kept this run: current ones about the subjects asked about now (a
  // subject over the cap is not asked about, and its answers go as stale).
  const kept = incidents.map((inc, i) => {
    const mine = stored.get(inc.id);
    const rows = new Set<string>(); // answerKey, for lookupBatch to skip and writeEnrichments to keep
    const providers = new Set<string>();
    let found = 0;
    if (mine?.size) {
      for (const subject of subjects[i]!.subjects) {
        for (const p of deps.enricher.providersFor(subject.type)) {
          const key = answerKey(p.name, subject.type, subject.value);
          const row = mine.get(key);
          if (!row || row.error !== null || !stillCurrent(row, p, revisions, t)) continue;
          rows.add(key);
          providers.add(p.name);
          if (Number(row.found)) found++;
        }
      }
    }
    return { rows, providers, found };
  });
  const refreshing = incidents.map((inc) => refresh.get(inc.id));
  // A slow or silent service holds back only the incidents that asked it, and those by at most the budget. The
  // batch waits a moment (firstWaitMs) for every answer; an incident still waiting then is put back in the
  // queue (deferred) while the rest go on to scoring, and is enriched again when its answers land or its
  // budget (answerWithinMs) is spent, whichever comes first: then it goes on with what it has, and answers
  // arriving later enrich it again.
  const budget: BatchOptions = {
    priorities: incidents.map((inc) => quotaPriority(inc.severity)),
    within: deps.firstWaitMs ?? DEFAULT_FIRST_WAIT_MS,
    onLate: (lists) => {
      const again = [...new Set(lists.map((l) => incidents[l]!.id))];
      enqueue(deps.store.db, 'enrich', again, (deps.now ?? Date.now)()).catch((e: unknown) =>
        log.warn({ incidents: again.length, err: errorContext(e) }, 'enrich: incidents with late answers not queued again; their next alert brings them'),
      );
    },
  };
  const results = await deps.enricher.lookupBatch(
    subjects.map((s) => s.subjects),
    (list, provider, subject) =>
      (kept[list]!.rows.size > 0 && kept[list]!.rows.has(answerKey(provider.name, subject.type, subject.value))) ||
      // A refresh asks a provider with a revision only about new subjects, and ones it failed on before.
      (refreshing[list] !== undefined &&
        provider.revision !== undefined &&
        !refreshing[list]!.has(keyOf(subject)) &&
        !failedBefore(stored.get(incidents[list]!.id), answerKey(provider.name, subject.type, subject.value))),
    budget,
  );
  // Round two: the machines and people that answers about addresses named (the inventory's host with that
  // address, whoever held it at the time) are asked about in turn, so that inventory facts, directory facts
  // and allowlist entries for them apply to an alert that named only the address.
  const derived = incidents.map((inc, i) => {
    const asked = new Set(subjects[i]!.subjects.map(keyOf));
    // A short name and its FQDN are one machine: "ws-042" asked, "ws-042.corp.example" derived adds nothing.
    const shortNames = new Set(subjects[i]!.subjects.filter((x) => x.type === 'host').map((x) => hostKeys(x.value).short));
    return derivedSubjects(results[i]!).filter((d) => !asked.has(keyOf(d.subject)) && !(d.subject.type === 'host' && shortNames.has(hostKeys(d.subject.value).short)));
  });
  if (derived.some((d) => d.length > 0)) {
    const second = await deps.enricher.lookupBatch(
      derived.map((d) => d.map((x) => x.subject)),
      undefined,
      budget,
    );
    second.forEach((rs, i) => results[i]!.push(...rs));
  }
  /** When to look at the incident again if it waits on late answers within its budget; null: go on now. */
  const deferral = (id: string, rs: readonly LookupResult[]): number | null => {
    if (!rs.some(isLate)) {
      waiting.delete(id);
      return null;
    }
    const since = waiting.get(id) ?? t;
    const until = since + (deps.answerWithinMs ?? DEFAULT_ANSWER_WITHIN_MS);
    if (t >= until) {
      waiting.delete(id);
      return null;
    }
    waiting.set(id, since);
    return until;
  };
  const computed = new Map(
    incidents.map((inc, i) => {
      const providers = new Set(kept[i]!.providers);
      for (const r of results[i]!) providers.add(r.provider);
      const incrementalSubjects = incremental.get(inc.id);
      return [
        inc.id,
        {
          incidentId: inc.id,
          exists: true,
          results: results[i]!.map((r) => withoutItself(counting, inc.id, r)),
          stored: stored.get(inc.id) ?? new Map<string, StoredAnswer>(),
          kept: { rows: kept[i]!.rows, found: kept[i]!.found },
          providers: providers.size,
          revisions,
          passKey,
          subjects: subjects[i]!.subjects.length,
          omitted: subjects[i]!.total - subjects[i]!.subjects.length,
          whole: !incrementalSubjects && !refresh.has(inc.id),
          renews: !incrementalSubjects,
          seenSeq: inc.last_seq,
          known: incrementalSubjects ? inc.pass!.known + incrementalSubjects.length : subjects[i]!.total,
          computedAt: t,
          derived: derived[i]!,
          identity: identityOf(inc, results[i]!),
          deferUntil: deferral(inc.id, results[i]!),
        },
      ] as const;
    }),
  );
  return ids.map(
    (id) =>
      computed.get(id) ?? {
        incidentId: id,
        exists: false,
        results: [],
        stored: new Map(),
        kept: { rows: new Set<string>(), found: 0 },
        providers: 0,
        revisions,
        passKey,
        subjects: 0,
        omitted: 0,
        whole: true,
        renews: true,
        seenSeq: 0,
        known: 0,
        computedAt: t,
        derived: [],
        identity: {},
        deferUntil: null,
      },
  );
}

/** A stored answer that is a failure (failures are stored without a revision, so a refresh reads them). */
const failedBefore = (stored: ReadonlyMap<string, StoredAnswer> | undefined, key: string) => (stored?.get(key)?.error ?? null) !== null;

/** An incident's last pass over every subject (incidents.enrich_pass_*). */
interface LastPass {
  at: number;
  key: string;
  known: number;
}

/**
 * What a pass asked: every provider by name, with its data revision where it has one. A pass made with
 * another set (a provider added, removed or renamed, a data file changed) does not stand for this one.
 */
const passKeyOf = (providers: readonly EnrichmentProvider[], revisions: ReadonlyMap<string, string>) =>
  providers.map((p) => (revisions.has(p.name) ? `${p.name}=${revisions.get(p.name)}` : p.name)).join(',');

/**
 * How long a pass that asked about every subject stands before the next must refresh: the shortest reuse
 * period of the providers without a data revision (their answers change with time or with other incidents:
 * history), none (0: every pass refreshes) when such a provider has no reuse period, for ever when every
 * provider has a revision (a new revision makes the next pass whole anyway).
 */
function refreshEvery(providers: readonly EnrichmentProvider[]): number {
  let every = Infinity;
  for (const p of providers) if (!p.revision) every = Math.min(every, p.reuseMs ?? 0);
  return every;
}

/**
 * The indicators that came to each incident after its enrichment last saw it (first_seq > enriched_seq),
 * as subjects; every incident asked for is in the answer, with none when nothing is new.
 */
async function newSubjects(db: Db, ids: readonly string[]): Promise<Map<string, LookupSubject[]>> {
  const out = new Map<string, LookupSubject[]>(ids.map((id) => [id, []]));
  for (const chunk of pow2ChunksOf(ids, CHUNK)) {
    const { rows } = await sql<Observed & { incident_id: string }>`
      select o."incident_id", o."type", o."value", o."last_seen" from ${incidentObservations(chunk)} o join "incidents" i on i."id" = o."incident_id"
      where o."first_seq" > i."enriched_seq"`.execute(db);
    for (const r of rows) {
      if (isObservableType(r.type) && r.value) out.get(r.incident_id)!.push({ type: r.type, value: r.value, at: Number(r.last_seen) });
    }
  }
  return out;
}

/**
 * A stored answer that need not be asked again: made at its provider's current revision, or, for a provider
 * with a reuse period, fetched within it.
 */
function stillCurrent(row: StoredAnswer, p: EnrichmentProvider, revisions: ReadonlyMap<string, string>, now: number): boolean {
  if (row.revision !== null) return row.revision === revisions.get(row.provider);
  return p.reuseMs !== undefined && now - Number(row.fetched_at) < p.reuseMs;
}

/** An answer's key among its incident's answers. */
const answerKey = (provider: string, type: string, value: string) => `${provider}\u0000${type}\u0000${value}`;

/** The current data revision of every provider that has one (a stat of its files at most once a second). */
async function providerRevisions(enricher: Enricher): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const p of enricher.providers) {
    if (!p.revision) continue;
    try {
      out.set(p.name, await p.revision());
    } catch {
      // No revision this time: its answers are asked for (and its errors reported) as usual.
    }
  }
  return out;
}

/**
 * The stored answers of these incidents, by incident and answerKey. `data` is read only for answers without a
 * revision (history, remote sources): those are compared with the new answer; an answer with a revision is
 * either kept as it is or, its provider's data having changed, written again.
 */
async function storedAnswers(db: Db, ids: Iterable<string>, opts: { withoutRevision?: boolean } = {}): Promise<Map<string, Map<string, StoredAnswer>>> {
  const out = new Map<string, Map<string, StoredAnswer>>();
  for (const chunk of pow2ChunksOf([...ids], CHUNK)) {
    const rows = await db
      .selectFrom('enrichments')
      .select(['incident_id', 'provider', 'subject_type', 'subject_value', 'found', 'error', 'revision', 'fetched_at'])
      .select(sql<string | null>`case when "revision" is null then "data" else null end`.as('data'))
      .where('incident_id', 'in', chunk)
      .$if(opts.withoutRevision === true, (q) => q.where('revision', 'is', null))
      .execute();
    for (const r of rows) {
      let m = out.get(r.incident_id);
      if (!m) out.set(r.incident_id, (m = new Map()));
      m.set(keyOfRow(r), r);
    }
  }
  return out;
}

/** Turns answers into rows; identical data (one answer shared by several incidents) is serialised once. */
function rowMaker(now: number, revisions: ReadonlyMap<string, string>): (incidentId: string, r: LookupResult) => EnrichmentTable {
  const json = new Map<Record<string, unknown>, string>();
  let fetchedText = '';
  let fetchedMs = 0;
  return (incidentId, r) => {
    if (isEnrichmentError(r)) {
      return {
        incident_id: incidentId,
        provider: r.provider,
        subject_type: r.subject.type,
        subject_value: r.subject.value,
        found: 0,
        data: JSON.stringify({ result: r.result }),
        error: `${r.result}: ${r.error}`,
        fetched_at: now,
        revision: null,
        cache: null,
      };
    }
    let data = json.get(r.data);
    if (data === undefined) json.set(r.data, (data = JSON.stringify(r.data)));
    if (r.fetched_at !== fetchedText) fetchedMs = Date.parse((fetchedText = r.fetched_at));
    return {
      incident_id: incidentId,
      provider: r.provider,
      subject_type: r.subject.type,
      subject_value: r.subject.value,
      found: r.found ? 1 : 0,
      data,
      error: null,
      fetched_at: fetchedMs,
      revision: revisions.get(r.provider) ?? null,
      cache: r.cache,
    };
  };
}

/**
 * Subject types whose not-found answers are stored: that the inventory or the directory does not know the
 * incident's host or user is a fact scoring and policy use (fido-classic: a host missing from the inventory
 * has no managed antivirus). For indicators (addresses, domains, hashes…) nothing found is the common case
 * and says nothing: stored, it was a row per provider for every new indicator of every incident, most of
 * the enrichment's writes and reads. The incident lists what was found and what failed; the timeline says
 * how many subjects were asked.
 */
const UNFOUND_KEPT_FOR: ReadonlySet<string> = new Set<ObservableType>(['host', 'user']);

type RowKey = Pick<EnrichmentTable, 'incident_id' | 'provider' | 'subject_type' | 'subject_value'>;
const keyOfRow = (r: RowKey) => answerKey(r.provider, r.subject_type, r.subject_value);

/**
 * Stores the answers of a batch of incidents: multi-row upserts of the answers that are new or differ from
 * the stored ones (a failed lookup never overwrites an earlier good answer), then deletes the rows of
 * providers or subjects this run no longer asked about (provider removed, subject over the cap). Returns,
 * per incident, whether anything stored changed. Skipping unchanged answers matters: an incident is
 * re-enriched whenever an alert joins it, and most of its answers are the same as last time.
 */
async function writeEnrichments(tx: Tx, batch: readonly IncidentEnrichment[], now: number): Promise<Set<string>> {
  const changed = new Set<string>();
  if (batch.length === 0) return changed;
  const good: EnrichmentTable[] = [];
  const failed: EnrichmentTable[] = [];
  const stale: StoredAnswer[] = [];
  for (const e of batch) {
    const toRow = rowMaker(now, e.revisions);
    const asked = new Set<string>();
    /** A stored answer goes: its row is deleted. */
    const drop = (row: StoredAnswer) => {
      stale.push(row);
      changed.add(e.incidentId);
    };
    for (const r of e.results) {
      const row = toRow(e.incidentId, r);
      const key = keyOfRow(row);
      const before = e.stored.get(key);
      asked.add(key);
      if (row.error === null && !row.found && !UNFOUND_KEPT_FOR.has(row.subject_type)) {
        // Nothing known about an indicator is not stored; an answer stored before (found, or failed) goes.
        if (before) drop(before);
        continue;
      }
      if (before && (row.error === null ? sameAnswer(before, row) : before.error === null || sameAnswer(before, row))) {
        continue; // stored as it was, with its first fetch time
      }
      (row.error === null ? good : failed).push(row);
      changed.add(e.incidentId);
    }
    // Stored rows neither kept nor asked about again are stale (an incremental pass asks only new subjects,
    // so it leaves the others' rows as they are).
    if (e.whole) for (const [key, row] of e.stored) if (!e.kept.rows.has(key) && !asked.has(key)) drop(row);
  }
  await insertRows(tx, 'enrichments', COLUMNS, good, { onConflict: ON_CONFLICT.answers });
  await insertRows(tx, 'enrichments', COLUMNS, failed, { onConflict: ON_CONFLICT.failures });
  if (stale.length > 0) await deleteStale(tx, stale);
  return changed;
}

type StoredAnswer = RowKey & Pick<EnrichmentTable, 'found' | 'error' | 'revision' | 'fetched_at'> & { data: string | null };

/** Same content (when it was fetched aside): a good answer stays as stored, with its first fetch time. */
const sameAnswer = (a: StoredAnswer, b: EnrichmentTable) =>
  Number(a.found) === Number(b.found) && a.data === b.data && a.error === b.error && a.revision === b.revision;

const COLUMNS = ['incident_id', 'provider', 'subject_type', 'subject_value', 'found', 'data', 'error', 'fetched_at', 'revision', 'cache'] as const;
const ON_CONFLICT = {
  answers: `on conflict ("incident_id", "provider", "subject_type", "subject_value") do update set
    "found" = excluded."found", "data" = excluded."data", "error" = null, "fetched_at" = excluded."fetched_at",
    "revision" = excluded."revision", "cache" = excluded."cache"`,
  // An earlier good answer beats a new failure (a rate-limited re-run must not erase what we knew).
  failures: `on conflict ("incident_id", "provider", "subject_type", "subject_value") do update set
    "data" = excluded."data", "error" = excluded."error", "fetched_at" = excluded."fetched_at"
    where "enrichments"."error" is not null`,
};

/** Deletes these rows: one statement per incident, provider and subject type. */
async function deleteStale(tx: Tx, stale: readonly RowKey[]): Promise<void> {
  const groups = new Map<string, { incident_id: string; provider: string; subject_type: string; values: string[] }>();
  for (const r of stale) {
    const k = `${r.incident_id}\u0000${r.provider}\u0000${r.subject_type}`;
    const g = groups.get(k) ?? { incident_id: r.incident_id, provider: r.provider, subject_type: r.subject_type, values: [] };
    g.values.push(r.subject_value);
    groups.set(k, g);
  }
  for (const g of groups.values()) {
    for (const values of pow2ChunksOf(g.values, ROWS_PER_STATEMENT)) {
      await tx
        .deleteFrom('enrichments')
        .where('incident_id', '=', g.incident_id)
        .where('provider', '=', g.provider)
        .where('subject_type', '=', g.subject_type)
        .where('subject_value', 'in', values)
        .execute();
    }
  }
}

function summarize(e: IncidentEnrichment): string {
  const found = e.results.filter((r) => !isEnrichmentError(r) && r.found).length + e.kept.found;
  const errors = e.results.filter(isEnrichmentError);
  const providers = e.providers;
  let s = `enriched ${e.subjects} subject${e.subjects === 1 ? '' : 's'} with ${providers} provider${providers === 1 ? '' : 's'}: ${found} found`;
  if (e.omitted > 0) s += `, ${e.omitted} more subjects over the cap`;
  if (errors.length) {
    const byWhat = new Map<string, number>();
    for (const r of errors) byWhat.set(`${r.provider} ${r.result}`, (byWhat.get(`${r.provider} ${r.result}`) ?? 0) + 1);
    s += `, ${errors.length} failed (${[...byWhat].map(([k, n]) => `${k} ×${n}`).join(', ')})`;
  }
  return s;
}

/** A host or user an answer about an address named, with the address it came from. */
export interface Derived {
  subject: LookupSubject & { type: 'host' | 'user' };
  from: LookupSubject;
  provider: string;
}

/**
 * The hosts and users that found answers about addresses name: by convention an answer about an `ip` or a
 * `mac` whose data has `host` (an inventory's asset, the holder of a lease) or `user` (the holder of a VPN
 * session or sign-on) names the organisation's machine or person behind it. Each once, first answer first.
 */
export function derivedSubjects(results: readonly LookupResult[]): Derived[] {
  const out: Derived[] = [];
  const seen = new Set<string>();
  for (const r of results) {
    if (isEnrichmentError(r) || !r.found || (r.subject.type !== 'ip' && r.subject.type !== 'mac')) continue;
    for (const type of ['host', 'user'] as const) {
      const raw = r.data[type];
      const value = typeof raw === 'string' ? normalizeValue(type, raw) : null;
      if (!value) continue;
      const subject = { type, value };
      if (seen.has(keyOf(subject))) continue;
      seen.add(keyOf(subject));
      out.push({ subject, from: r.subject, provider: r.provider });
    }
  }
  return out;
}

/**
 * The incident's own machine and person when its row has none (or only an address for the host) and the
 * answers say: the holder of the incident's own address first; otherwise the one host (user) that its
 * internal addresses resolve to (an inbound attack's target, not the attacker's public address). Several candidates (lateral movement between two machines) name none:
 * guessing would put the wrong machine on the incident.
 */
export function identityOf(incident: IncidentRef, results: readonly LookupResult[]): { host?: string; user?: string } {
  const hostIsAddress = incident.host !== null && parseIp(incident.host) !== null;
  const out: { host?: string; user?: string } = {};
  const candidates = (type: 'host' | 'user') => {
    const all = new Set<string>();
    const fromOwn = new Set<string>();
    for (const r of results) {
      if (isEnrichmentError(r) || !r.found || r.subject.type !== 'ip') continue;
      const value = typeof r.data[type] === 'string' ? normalizeValue(type, r.data[type]) : null;
      if (!value) continue;
      if (hostIsAddress && canonicalIp(r.subject.value) === canonicalIp(incident.host!)) fromOwn.add(value);
      else if (!isPublicAddress(r.subject.value)) all.add(value);
    }
    return fromOwn.size > 0 ? fromOwn : all;
  };
  if (incident.host === null || hostIsAddress) {
    const hosts = candidates('host');
    if (hosts.size === 1) out.host = [...hosts][0]!;
  }
  if (incident.user_name === null) {
    const users = candidates('user');
    if (users.size === 1) out.user = [...users][0]!;
  }
  return out;
}

export function createEnrichStage(deps: EnrichStageDeps): Stage<IncidentEnrichment[]> {
  const now = deps.now ?? Date.now;
  // The providers whose answers can count the incident that asks.
  const counting = new Map(deps.enricher.providers.filter((p) => p.withoutIncident).map((p) => [p.name, p]));
  const refreshMs = refreshEvery(deps.enricher.providers);
  /** Incidents put back to wait for late answers, since when (this process; another worker starts its own count). */
  const waiting = new Map<string, number>();
  return {
    name: 'enrich',
    next: ['score'],
    awaitsServices: true, // providers may ask services over the network
    batchSize: deps.batchSize ?? 200,
    async compute(items: readonly ClaimedItem[]) {
      return enrichMany(deps, counting, refreshMs, [...new Set(items.map((i) => i.item_id))], now(), waiting);
    },
    async write(tx: Tx, _items, computed: IncidentEnrichment[]) {
      const t = now();
      const deferred = computed.filter((e) => e.exists && e.deferUntil !== null);
      for (const e of deferred) await enqueue(tx, 'enrich', [e.incidentId], e.deferUntil!);
      const present = computed.filter((e) => e.exists && e.deferUntil === null);
      const changed = await writeEnrichments(tx, present, t);
      // Derived hosts and users become the incident's indicators (no alert carried them: counts 0), so later
      // passes ask about them like any other and the incident lists them; history counts only what alerts carried.
      await recordObservations(
        tx,
        present.flatMap((e) =>
          e.derived.map((d) => ({
            incident_id: e.incidentId,
            type: d.subject.type,
            value: d.subject.value,
            alerts: 0,
            events: 0,
            first_seen: d.from.at ?? t,
            last_seen: d.from.at ?? t,
            first_seq: e.seenSeq,
          })),
        ),
      );
      // The indicators up to seenSeq have been asked about: the next pass asks only later ones. A pass over
      // every subject is the one later passes go on from, whichever worker makes them.
      await updateRows(
        tx,
        'incidents',
        present.map((e) => ({
          id: e.incidentId,
          enriched_seq: e.seenSeq,
          enrich_known: e.known,
          ...(e.identity.host ? { host: e.identity.host } : {}),
          ...(e.identity.user ? { user_name: e.identity.user } : {}),
          ...(e.renews ? { enrich_pass_at: e.computedAt, enrich_pass_key: e.passKey } : {}),
        })),
      );
      // The timeline notes what the enrichment found when it changed, not every re-run that found the same.
      await addTimeline(
        tx,
        present.filter((e) => changed.has(e.incidentId)).map((e) => ({ incident_id: e.incidentId, at: t, kind: 'enriched' as const, summary: summarize(e) })),
      );
      await enqueue(tx, 'score', present.map((e) => e.incidentId), t);
    },
  };
}
