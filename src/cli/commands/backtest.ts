/**
 * `fido backtest --policy FILE [--profile NAME] --since 30d`: replays the stored incidents of a window
 * through a changed policy and/or scoring profile and prints which decisions and actions would change
 * (backtest/run.ts). Reads the store the configuration's processes use (FIDO_DATABASE_URL, else
 * FIDO_DATA_DIR/fido.db) and writes nothing to it.
 *
 *   fido backtest --policy rules-next.yaml --since 90d --limit 20
 *   fido backtest --profile strict --since 2026-01-01 --until 2026-02-01 --json
 */
import { dirname } from 'node:path';
import type { Command } from 'commander';
import cliProgress from 'cli-progress';
import { configPath } from '../../config/load.js';
import { runBacktest, DEFAULT_LISTED, DEFAULT_SCORE_DELTA } from '../../backtest/run.js';
import { BacktestInputError, backtestProfile, configuredPolicy, policyFromFile, type BaseConfig } from '../../backtest/sources.js';
import { backtestWindow } from '../../backtest/window.js';
import { formatBacktest } from '../../backtest/format.js';
import { openExistingStore } from '../../backtest/store.js';
import { ProfileError } from '../../score/profile.js';
import { defaultSandbox } from '../../policy/sandbox.js';
import { InputError, readConfigFile } from '../input.js';

interface Options {
  policy?: string;
  profile?: string;
  config?: string;
  since: string;
  until?: string;
  json?: boolean;
  limit: string;
  scoreDelta: string;
}

export function register(program: Command): void {
  program
    .command('backtest')
    .description('Replay stored incidents through a changed policy and/or scoring profile and show which decisions and actions would change (writes nothing)')
    .option('--policy <file>', 'rules file (`rules:` like policy.files) or a whole fido.yaml (default: the configured policy)')
    .option('--profile <name>', 'rescore with this scoring profile (default: keep the stored scores)')
    .option('-c, --config <file>', 'the configuration Fido runs with (default: $FIDO_CONFIG, else the demo configuration)')
    .option('--since <when>', 'incidents last seen since: a duration back from now (30d) or an ISO date', '30d')
    .option('--until <when>', 'and before: a duration back from now or an ISO date (default: now)')
    .option('--limit <n>', 'changed incidents listed', String(DEFAULT_LISTED))
    .option('--score-delta <n>', 'a score change counts when it is more than this many points', String(DEFAULT_SCORE_DELTA))
    .option('--json', 'print the report as JSON')
    .action(async (opts: Options) => {
      try {
        await backtest(opts);
      } catch (e) {
        if (!(e instanceof InputError || e instanceof BacktestInputError || e instanceof ProfileError)) throw e;
        process.stderr.write(`fido backtest: ${e.message}\n`);
        process.exitCode = 1;
      } finally {
        await defaultSandbox().close();
      }
    });
}

async function backtest(opts: Options): Promise<void> {
  if (!opts.policy && !opts.profile) throw new InputError('give --policy FILE, --profile NAME or both: what should be tried?');
  const limit = count(opts.limit, '--limit');
  const scoreDelta = count(opts.scoreDelta, '--score-delta');
  const window = backtestWindow(opts.since, opts.until, Date.now());
  const file = configPath(opts.config);
  const base: BaseConfig = { ...readConfigFile(file), file, dir: dirname(file) };
  const changed = opts.policy ? policyFromFile(base, opts.policy) : { policy: configuredPolicy(base), config: base.config };
  const profile = opts.profile ? backtestProfile(opts.profile, changed.config) : undefined;
  const store = await openExistingStore(base.config);
  const bar = process.stderr.isTTY
    ? new cliProgress.SingleBar({ format: 'backtest [{bar}] {percentage}% | {value}/{total} incidents | {eta_formatted} left', stream: process.stderr }, cliProgress.Presets.shades_classic)
    : null;
  let shownTenth = -1;
  try {
    const report = await runBacktest(
      store,
      { policy: changed.policy, ...(profile ? { profile } : {}), dryRun: changed.config.policy?.dry_run ?? false },
      {
        ...window,
        limit,
        scoreDelta,
        onProgress(done, total) {
          if (bar) {
            if (done === 0) bar.start(total, 0);
            else bar.update(done);
            return;
          }
          // Not a terminal: a line per tenth, not per chunk.
          const tenth = total ? Math.floor((done / total) * 10) : 10;
          if (tenth > shownTenth) process.stderr.write(`backtest: ${done}/${total} incidents\n`);
          shownTenth = tenth;
        },
      },
    );
    bar?.stop();
    process.stdout.write(opts.json ? `${JSON.stringify(report, null, 2)}\n` : formatBacktest(report));
  } finally {
    bar?.stop();
    await store.close();
  }
}

function count(value: string, flag: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InputError(`${flag}: expected a whole number, got "${value}"`);
  return n;
}
