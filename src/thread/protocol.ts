/** Messages between the main thread (API, intake) and a pipeline thread (ingest, or the incident stages and action executor). */
import type { MetricsJson } from '../metrics.js';
import type { Part } from '../app.js';

export interface PipelineThreadData {
  /** The config file the main thread loaded; the thread loads the same file (same version). */
  configFile: string;
  env: Record<string, string | undefined>;
  /** See FidoOptions.warmUp. */
  warmUp: boolean;
  /** What this thread runs (FidoOptions.parts). */
  parts: Part[];
  /** The ingest thread's parse watch (FidoOptions.parseWatch), shared with its supervisor. */
  parseWatch?: SharedArrayBuffer;
  /** Records (seq, reason) the supervisor stopped a parse of: ingest sets them aside unparsed. */
  setAside?: Array<[number, string]>;
}

export type ToPipelineThread =
  | { type: 'wake' }
  | { type: 'stop' };

export type FromPipelineThread =
  | { type: 'ready' }
  /**
   * A snapshot of the thread's registry, pushed unasked: once before 'ready', every METRICS_PUSH_MS while
   * running, and once before 'stopped'. Each replaces the previous one; /metrics serves the last.
   */
  | { type: 'metrics'; metrics: MetricsJson }
  | { type: 'stopped' }
  | { type: 'failed'; error: string };

/** How often the pipeline thread pushes its metrics (a scrape sees them at most about this late). */
export const METRICS_PUSH_MS = 500;
