/**
 * `fido score [--profile NAME] [FILE|-]`: scores an incident given in the shape GET /incidents/{id} returns
 * (alerts and enrichment included) and prints the explanation — for tuning a profile and for questions like
 * "why 85?". Profile overrides come from the config (`--config`, else $FIDO_CONFIG, else none). Nothing is
 * looked up or stored: the score depends only on the file, the profile and `--at`.
 */
import type { Command } from 'commander';
import { InputError, readConfigFile, readIncident } from '../input.js';
import type { FidoConfig } from '../../config/schema.js';
import { explanationSum, formatScore, resolveProfile, scoreIncident, type ProfileOverrides } from '../../score/index.js';

interface Options {
  profile?: string;
  config?: string;
  json?: boolean;
  at?: string;
}

export function register(program: Command): void {
  program
    .command('score [file]')
    .description('Score an incident JSON (the shape of GET /incidents/{id}; "-" or no file reads stdin) and explain it')
    .option('-p, --profile <name>', 'scoring profile (default: the configured one, else "default")')
    .option('-c, --config <file>', 'fido.yaml with scoring.profiles overrides (default: $FIDO_CONFIG)')
    .option('--at <time>', 'score as of this ISO time (allowlist expiry, history windows); default now')
    .option('--json', 'print the score as JSON')
    .action((file: string | undefined, opts: Options) => {
      try {
        run(file, opts);
      } catch (e) {
        if (!(e instanceof InputError)) throw e;
        process.stderr.write(`fido score: ${e.message}\n`);
        process.exitCode = 1;
      }
    });
}

function run(file: string | undefined, opts: Options): void {
  const config = readConfig(opts.config ?? process.env.FIDO_CONFIG);
  const name = opts.profile ?? config?.scoring?.profile ?? 'default';
  let profile;
  try {
    profile = resolveProfile(name, (config?.scoring?.profiles ?? {}) as ProfileOverrides);
  } catch (e) {
    throw new InputError((e as Error).message);
  }
  const at = opts.at === undefined ? Date.now() : Date.parse(opts.at);
  if (!Number.isFinite(at)) throw new InputError(`--at: "${opts.at}" is not an ISO time`);
  const score = scoreIncident(readIncident(file), profile, at);
  if (explanationSum(score) !== score.total) throw new Error('internal error: explanation does not add up to the total');
  process.stdout.write(opts.json ? `${JSON.stringify({ ...score, profile_version: profile.version }, null, 2)}\n` : `${formatScore(score, profile.version)}\n`);
}

function readConfig(path: string | undefined): FidoConfig | null {
  return path ? readConfigFile(path).config : null;
}
