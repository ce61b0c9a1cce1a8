/**
 * The pipeline's composition root: from a loaded configuration and a store, the log consumer (ingest), the
 * incident stages (enrich → score → decide) and the runner that drives them. Everything that runs the
 * pipeline builds it here — `fido start` for each role and thread (app.ts), the CLI's offline tools, the
 * warm-up, the benchmarks and the tests — so that each runs what production runs.
 */
import type { LoadedConfig } from '../config/load.js';
import type { FidoConfig } from '../config/schema.js';
import { parseDuration } from '../config/duration.js';
import type { Store } from '../store/store.js';
import type { Logger } from '../util/log.js';
import { errorContext } from '../util/log.js';
import { createNormalizer, loadDetectors } from '../detectors/lib/registry.js';
import { createIngest, type CorrelateSettings, type Ingest } from './ingest/index.js';
import { DEFAULT_PARSE_TIME_LIMIT_MS, type ParseWatch } from './ingest/parse.js';
import { startParseThread, type RecordParser } from './ingest/parse-thread.js';
import { buildWorkerStages, type WorkerStages } from './stages/index.js';
import { createPipeline, type Pipeline } from './runner.js';
import type { Stage } from './stage.js';

/** The pipeline's settings as the configuration gives them, durations resolved to milliseconds. */
export interface PipelineSettings {
  parseTimeLimitMs: number;
  /** Source name → IANA time zone, for timestamps that carry none. */
  timeZones: ReadonlyMap<string, string>;
  coalesceMs: number | undefined;
  correlation: CorrelateSettings;
}

export function pipelineSettings(config: FidoConfig): PipelineSettings {
  const p = config.pipeline;
  return {
    parseTimeLimitMs: p?.parse_time_limit ? parseDuration(p.parse_time_limit, 'pipeline.parse_time_limit') : DEFAULT_PARSE_TIME_LIMIT_MS,
    timeZones: new Map((config.sources ?? []).flatMap((s) => (s.time_zone ? [[s.name, s.time_zone] as const] : []))),
    coalesceMs: p?.coalesce_when_behind === undefined ? undefined : parseDuration(p.coalesce_when_behind, 'pipeline.coalesce_when_behind'),
    correlation: {
      dedupWindowMs: parseDuration(config.correlation?.dedup_window ?? '10m', 'correlation.dedup_window'),
      groupWindowMs: parseDuration(config.correlation?.group_window ?? '2h', 'correlation.group_window'),
    },
  };
}

export interface BuildPipelineOptions {
  store: Store;
  loaded: LoadedConfig;
  /** Who holds this pipeline's leases (host:pid:random). */
  owner: string;
  log: Logger;
  /** Build ingest (the log consumer); absent: the stages only. */
  ingest?: {
    /** Parse on a thread of their own (where ingest is the busy part: its pipeline thread, a worker process). */
    parseThread?: boolean;
    /** The supervisor's side (thread/pipeline.ts): the parse watch, and the records to set aside. */
    supervision?: { watch: ParseWatch; setAside: ReadonlyMap<number, string> };
    /** Keep new alerts in memory for the stages of this process (false when they run elsewhere). */
    rememberAlerts?: boolean;
  };
  /** Build the incident stages; absent: ingest only. */
  incidents?: {
    /** Start the policy sandbox's worker now (default) rather than at the first decision. */
    startSandbox?: boolean;
    /** Work them only once ingest has had nothing to do for this long (ms): see PipelineOptions. */
    whenIngestIdleFor?: number;
  };
}

export interface BuiltPipeline {
  pipeline: Pipeline;
  ingest: Ingest | undefined;
  /** The incident stages, in order (empty when not built). */
  stages: readonly Stage<unknown>[];
  /** Stops the runner, then closes what the parts hold open (the parse thread, providers, the policy sandbox). */
  close(): Promise<void>;
}

export async function buildPipeline(opts: BuildPipelineOptions): Promise<BuiltPipeline> {
  const { store, loaded, owner, log } = opts;
  const { config } = loaded;
  const settings = pipelineSettings(config);
  const jsonMappings = config.detectors?.json ?? [];

  let ingest: Ingest | undefined;
  let parser: RecordParser | undefined;
  if (opts.ingest) {
    const { supervision } = opts.ingest;
    if (opts.ingest.parseThread) {
      parser = await startParseThread({
        jsonMappings,
        timeZones: [...settings.timeZones],
        timeLimitMs: settings.parseTimeLimitMs,
        ...(supervision ? { watch: supervision.watch.buffer as SharedArrayBuffer, setAside: [...supervision.setAside] } : {}),
      }).catch((e: unknown) => {
        log.warn({ err: errorContext(e) }, 'the parse thread did not start; ingest parses on its own thread');
        return undefined;
      });
    }
    ingest = createIngest({
      store,
      normalizer: createNormalizer(await loadDetectors({ jsonMappings })),
      timeZones: settings.timeZones,
      owner,
      log,
      rememberAlerts: opts.ingest.rememberAlerts ?? true,
      parse: { timeLimitMs: settings.parseTimeLimitMs, ...supervision },
      ...(parser ? { parser } : {}),
      coalesceMs: settings.coalesceMs,
      correlation: settings.correlation,
    });
  }

  let workers: WorkerStages | undefined;
  if (opts.incidents) workers = await buildWorkerStages({ store, loaded, startSandbox: opts.incidents.startSandbox ?? true });
  const stages = workers?.stages ?? [];
  const helpAfter = opts.incidents?.whenIngestIdleFor;
  const pipeline = createPipeline({ store, ingest, stages, owner, log, ...(helpAfter !== undefined ? { stagesWhenIngestIdleFor: helpAfter } : {}) });

  return {
    pipeline,
    ingest,
    stages,
    async close() {
      await pipeline.stop();
      await parser?.close();
      await workers?.close();
    },
  };
}
