/**
 * `fido lookup TYPE:VALUE…`: asks every configured enrichment provider about each subject, through the same
 * layer as the pipeline (so the shared cache, rate limits and breakers apply), and prints the answers as JSON
 * with where they came from, their age, whether the cache served them, and the provider's quota and breaker
 * state. For checking a provider's setup and for questions like "what do we know about 203.0.113.7?".
 *
 *   fido lookup ip:203.0.113.7 user:alice sha256:9f86d0…   (a bare value is typed by its shape)
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { loadConfig } from '../../config/load.js';
import { openStore, type StoreOptions } from '../../store/store.js';
import { OBSERVABLE_TYPES, isObservableType, type ObservableType } from '../../model/observable.js';
import type { LookupSubject } from '../../enrich/provider.js';
import { createConfiguredEnricher } from '../../enrich/registry.js';
import { isEnrichmentError, type Enricher, type LookupResult } from '../../enrich/layer.js';
import { guessType, hashType, normalizeValue } from '../../enrich/values.js';
import { lookupAll } from '../../pipeline/stages/enrich.js';

export class SubjectArgError extends Error {}

/** "ip:203.0.113.7", "hash:…" (typed by length), or a bare value typed by its shape; values are normalised. */
export function parseSubjectArg(arg: string): LookupSubject {
  const colon = arg.indexOf(':');
  const prefix = colon > 0 ? arg.slice(0, colon).toLowerCase() : '';
  let type: ObservableType | 'hash' | 'cidr' | null;
  let value: string;
  if (isObservableType(prefix) || prefix === 'hash') {
    type = prefix as ObservableType | 'hash';
    value = arg.slice(colon + 1);
  } else {
    type = guessType(arg);
    value = arg;
  }
  if (type === 'hash') type = hashType(value);
  if (!type || type === 'cidr') {
    throw new SubjectArgError(`"${arg}": say what it is as TYPE:VALUE (types: ${OBSERVABLE_TYPES.join(', ')}, hash)`);
  }
  const normalized = normalizeValue(type, value);
  if (!normalized) throw new SubjectArgError(`"${arg}": "${value}" is not a valid ${type}`);
  return { type, value: normalized };
}

/** One printed answer: the result plus where it came from and the provider's limits right now. */
export function describeResult(enricher: Enricher, r: LookupResult, now: number): Record<string, unknown> {
  const p = enricher.providers.find((x) => x.name === r.provider);
  const state = enricher.state(r.provider);
  const common = { subject: `${r.subject.type}:${r.subject.value}`, provider: r.provider, kind: p?.kind ?? null, source: `${p?.kind ?? '?'}/${r.provider}` };
  const limits = {
    breaker: state.breaker,
    consecutive_failures: state.consecutive_failures,
    retry_at: state.retry_at,
    rate_per_second: state.rate_per_second,
    tokens: state.tokens,
    in_flight: state.in_flight,
    concurrency: state.concurrency,
    quota: state.quota,
    paused_until: state.paused_until,
  };
  if (isEnrichmentError(r)) return { ...common, result: r.result, error: r.error, state: limits };
  const fetched = Date.parse(r.fetched_at);
  return {
    ...common,
    result: r.found ? 'found' : 'not_found',
    found: r.found,
    data: r.data,
    fetched_at: r.fetched_at,
    age_seconds: Math.max(0, Math.round((now - fetched) / 1000)),
    cache: r.cache,
    state: limits,
  };
}

export function register(program: Command): void {
  program
    .command('lookup <subjects...>')
    .description('Ask every configured enrichment provider about TYPE:VALUE subjects (ip:…, domain:…, user:…, sha256:…)')
    .option('-c, --config <file>', 'config file')
    .option('-p, --provider <name...>', 'only these providers')
    .option('--ndjson', 'one JSON object per line instead of a JSON array')
    .action(async (args: string[], opts: { config?: string; provider?: string[]; ndjson?: boolean }) => {
      let subjects: LookupSubject[];
      try {
        subjects = args.map(parseSubjectArg);
      } catch (e) {
        if (!(e instanceof SubjectArgError)) throw e;
        process.stderr.write(`fido lookup: ${e.message}\n`);
        process.exitCode = 2;
        return;
      }
      const loaded = await loadConfig(opts.config);
      let entries = loaded.config.enrichment?.providers ?? [];
      if (opts.provider) {
        const unknown = opts.provider.filter((n) => !entries.some((e) => e.name === n));
        if (unknown.length) {
          process.stderr.write(`fido lookup: no provider named ${unknown.join(', ')} (configured: ${entries.map((e) => e.name).join(', ') || 'none'})\n`);
          process.exitCode = 2;
          return;
        }
        entries = entries.filter((e) => opts.provider!.includes(e.name));
      }
      if (entries.length === 0) process.stderr.write(`fido lookup: ${loaded.file} configures no enrichment providers\n`);
      const store = await openStore(lookupStore(loaded.config.store?.sqlite_synchronous));
      try {
        const enricher = await createConfiguredEnricher(entries, { store, configDir: loaded.dir, internalDomains: loaded.config.enrichment?.internal_domains });
        try {
          // Asked by a person: may use the quota reserve kept for high-priority lookups.
          const results = await lookupAll(enricher, subjects, { priority: 'high' });
          const out = results.map((r) => describeResult(enricher, r, Date.now()));
          process.stdout.write(opts.ndjson ? out.map((o) => `${JSON.stringify(o)}\n`).join('') : `${JSON.stringify(out, null, 2)}\n`);
        } finally {
          await enricher.close();
        }
      } finally {
        await store.close();
      }
    });
}

/**
 * The store a lookup reads (the shared answer cache, history): the configured one, but an empty one in memory
 * when the embedded store does not exist yet, so that a lookup never creates `./data` as a side effect.
 */
function lookupStore(sqliteSynchronous: 'FULL' | 'NORMAL' | undefined): StoreOptions {
  const dataDir = resolve(process.env.FIDO_DATA_DIR ?? './data');
  const databaseUrl = process.env.FIDO_DATABASE_URL ?? (existsSync(join(dataDir, 'fido.db')) ? undefined : 'sqlite::memory:');
  return { databaseUrl, dataDir, sqliteSynchronous };
}
