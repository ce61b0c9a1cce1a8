/** Messages between the main thread (API, intake) and the pipeline thread (stages, action executor). */
import type { MetricObjectWithValues, MetricValue } from 'prom-client';

export interface PipelineThreadData {
  /** The config file the main thread loaded; the thread loads the same file (same version). */
  configFile: string;
  env: Record<string, string | undefined>;
  /** See FidoOptions.warmUp. */
  warmUp: boolean;
}

export type ToPipelineThread =
  | { type: 'wake' }
  | { type: 'metrics'; id: number }
  | { type: 'stop' };

export type FromPipelineThread =
  | { type: 'ready' }
  | { type: 'metrics'; id: number; metrics: MetricObjectWithValues<MetricValue<string>>[] }
  | { type: 'stopped' }
  | { type: 'failed'; error: string };
