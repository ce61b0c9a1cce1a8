/**
 * `fido score [--profile NAME] [FILE|-]`: scores an incident given in the shape GET /incidents/{id} returns
 * (alerts and enrichment included) and prints the explanation — for tuning a profile and for questions like
 * "why 85?". Profile overrides come from the config (`--config`, else $FIDO_CONFIG, else none). Nothing is
 * looked up or stored: the score depends only on the file, the profile and `--at`.
 */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import type { IncidentDetail } from '../../model/incident.js';
import type { FidoConfig } from '../../config/schema.js';
import { configKinds } from '../../config/load.js';
import { formatConfigErrors, parseConfigText } from '../../config/validate.js';
import { explanationSum, formatScore, resolveProfile, scoreIncident, type ProfileOverrides } from '../../score/index.js';

interface Options {
  profile?: string;
  config?: string;
  json?: boolean;
  at?: string;
}

class InputError extends Error {}

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
  if (!path) return null;
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new InputError(`cannot read config ${path}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`);
  }
  const parsed = parseConfigText(text, configKinds);
  if (parsed.errors.length) throw new InputError(`invalid config:\n${formatConfigErrors(path, parsed.errors)}`);
  return parsed.config;
}

function readIncident(file: string | undefined): IncidentDetail {
  const source = !file || file === '-' ? 'stdin' : file;
  let text: string;
  try {
    text = readFileSync(source === 'stdin' ? 0 : source, 'utf8');
  } catch (e) {
    throw new InputError(`cannot read ${source}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`);
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new InputError(`${source} is not JSON: ${(e as Error).message}`);
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new InputError(`${source}: expected one incident object`);
  const d = doc as Partial<IncidentDetail>;
  for (const key of ['alerts', 'enrichment'] as const) {
    if (d[key] !== undefined && !Array.isArray(d[key])) throw new InputError(`${source}: "${key}" must be a list`);
  }
  // The API shape has every field; a hand-written file may not. Scoring needs only these defaults.
  return {
    id: '',
    title: '',
    status: 'new',
    verdict: null,
    first_seen: '',
    last_seen: '',
    alert_count: d.alerts?.length ?? 0,
    host: null,
    user: null,
    score: null,
    decision: null,
    decisions: [],
    actions: [],
    timeline: [],
    ...d,
    alerts: d.alerts ?? [],
    enrichment: d.enrichment ?? [],
  };
}
