/** Builds the action targets and the outbox executor from config, for the composition root. */
import type { LoadedConfig } from '../config/load.js';
import type { Store } from '../store/store.js';
import type { Logger } from '../util/log.js';
import { closeActionTargets, createActionTargets } from './registry.js';
import { createActionExecutor, executorSettings } from './executor.js';
import { approvalLinkMaker, linksPossible } from './approval-links.js';
import { parseDuration } from '../config/duration.js';

const DEFAULT_LEASE_MS = 60_000;

export interface RunningExecutor {
  start(): void;
  stop(): Promise<void>;
  runOnce(limit?: number): Promise<unknown>;
}

export async function buildActionExecutor(opts: {
  store: Store;
  loaded: LoadedConfig;
  owner: string;
  publicUrl: string;
  log: Logger;
  pollIntervalMs?: number;
  /** The approval links' key and lifetime (approval-links.ts): messages then carry approve/deny buttons. */
  links?: { key: Buffer; ttlMs: number };
}): Promise<RunningExecutor> {
  const { config, dir } = opts.loaded;
  const targets = await createActionTargets(config.actions?.targets ?? [], {
    configDir: dir,
    publicUrl: opts.publicUrl,
    ...(opts.links && linksPossible(opts.publicUrl) ? { approvalLinks: approvalLinkMaker({ publicUrl: opts.publicUrl, ...opts.links }) } : {}),
  });
  const executor = createActionExecutor({
    store: opts.store,
    targets,
    ...executorSettings(config.actions),
    // A claim is valid this long: an executor that died mid-call has its actions taken over after it.
    leaseMs: config.actions?.lease !== undefined ? parseDuration(config.actions.lease, 'actions.lease') : DEFAULT_LEASE_MS,
    owner: opts.owner,
    logger: opts.log,
    pollIntervalMs: opts.pollIntervalMs ?? 500,
    killSwitchForced: config.actions?.kill_switch ?? false,
  });
  return {
    start: () => executor.start(),
    runOnce: (limit) => executor.runOnce(limit),
    async stop() {
      await executor.stop();
      await closeActionTargets(targets);
    },
  };
}
