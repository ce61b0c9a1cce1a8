/**
 * The stages after correlate (enrich → score → decide), built from config. Returns them with a close()
 * for what they hold open (enrichment providers, the policy sandbox).
 */
import type { LoadedConfig } from '../../config/load.js';
import type { Store } from '../../store/store.js';
import type { Stage } from '../stage.js';
import { createConfiguredEnricher } from '../../enrich/registry.js';
import { createEnrichStage } from './enrich.js';
import { createScoreStage } from './score.js';
import { createDecideStage } from './decide.js';
import { resolveProfile } from '../../score/profile.js';
import { loadPolicyFromConfig, targetKinds } from '../../policy/rules.js';
import { defaultSandbox } from '../../policy/sandbox.js';
import { parseDuration } from '../../config/duration.js';
import type { FidoConfig } from '../../config/schema.js';
import type { ActionGuard } from '../../policy/evaluate.js';
import { compileLimits, protectedGuard, type Limit } from '../../actions/guards.js';

export interface WorkerStages {
  stages: Stage<unknown>[];
  close(): Promise<void>;
}

export interface WorkerStagesOptions {
  store: Store;
  loaded: LoadedConfig;
  /**
   * Start the policy sandbox's worker now (default), so that the first decisions need not wait for it to
   * boot. False for a thread that decides only now and then (the ingest thread, which works incident passes
   * only when it has nothing to ingest): its first decision starts the worker.
   */
  startSandbox?: boolean;
}

export async function buildWorkerStages(opts: WorkerStagesOptions): Promise<WorkerStages> {
  const { store, loaded } = opts;
  const { config, version } = loaded;
  const profile = resolveProfile(config.scoring?.profile ?? 'default', config.scoring?.profiles ?? {});
  const policy = loadPolicyFromConfig(loaded);
  const enricher = await createConfiguredEnricher(config.enrichment?.providers ?? [], {
    store,
    configDir: loaded.dir,
    internalDomains: config.enrichment?.internal_domains,
  });
  const sandbox = defaultSandbox();
  if (policy.rules.length > 0 && opts.startSandbox !== false) sandbox.start();
  const stages = [
    createEnrichStage({
      store,
      enricher,
      ...(config.enrichment?.answer_within !== undefined ? { answerWithinMs: parseDuration(config.enrichment.answer_within, 'enrichment.answer_within') } : {}),
    }),
    createScoreStage({ store, profile, configVersion: version }),
    createDecideStage({
      store,
      policy,
      configVersion: version,
      targetKinds: targetKinds(config),
      dryRun: config.policy?.dry_run ?? false,
      sandbox,
      ...guardsOf(config),
    }),
  ] as Stage<unknown>[];
  return {
    stages,
    async close() {
      await enricher.close();
      await sandbox.close();
    },
  };
}

/** `actions.guards`: the protected-names guard for the policy and the limits for the queue. */
function guardsOf(config: FidoConfig): { guards?: ActionGuard[]; limits?: Limit[] } {
  const g = config.actions?.guards;
  const prot = protectedGuard(g?.protected);
  const limits = compileLimits(g?.limits);
  return { ...(prot ? { guards: [prot] } : {}), ...(limits.length ? { limits } : {}) };
}
