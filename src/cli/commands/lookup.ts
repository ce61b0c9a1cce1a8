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
import type { LookupSubject } from '../../enrich/provider.js';
import { createConfiguredEnricher } from '../../enrich/registry.js';
import { SubjectArgError, describeResults, parseSubjectArg } from '../../enrich/describe.js';
import { lookupAll } from '../../pipeline/stages/enrich.js';

// Shared with the API (GET /api/v1/lookup): one parser, one description of an answer.
export { SubjectArgError, parseSubjectArg, describeResult } from '../../enrich/describe.js';

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
          const out = await describeResults(enricher, results, store, Date.now());
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
