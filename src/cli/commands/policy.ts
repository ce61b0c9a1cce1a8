/**
 * `fido policy try [FILE|-]`: runs the configured policy on one incident (the JSON GET /incidents/{id}
 * returns) and prints, for every rule and not only up to the deciding one, whether it matched and why not
 * (policy/dryrun.ts): the answer to "why didn't my rule fire?". Nothing is queued or stored.
 *
 * `fido policy explain INCIDENT_ID`: the same for an incident read from the store (backtest/explain.ts),
 * as the decide stage reads it, with the decision it has now beside the one the policy gives.
 */
import { dirname } from 'node:path';
import type { Command } from 'commander';
import { configPath } from '../../config/load.js';
import { dryRunRules, type DryRunReport } from '../../policy/dryrun.js';
import { loadPolicyFromConfig, PolicyLoadError } from '../../policy/rules.js';
import { InputError, readConfigFile, readIncident } from '../input.js';
import { explainIncident } from '../../backtest/explain.js';
import { openExistingStore } from '../../backtest/store.js';
import { BacktestInputError } from '../../backtest/sources.js';
import { defaultSandbox } from '../../policy/sandbox.js';

export function register(program: Command): void {
  const policy = program.command('policy').description('Policy rules');
  policy
    .command('try [file]')
    .description('Run the policy on an incident JSON (the shape of GET /incidents/{id}; "-" or no file reads stdin) and say what each rule did')
    .option('-c, --config <file>', 'config whose policy to run (default: $FIDO_CONFIG, else the demo configuration)')
    .option('--json', 'print the report as JSON')
    .action((file: string | undefined, opts: { config?: string; json?: boolean }) => {
      try {
        const report = dryRunRules(loadConfiguredPolicy(opts.config), readIncident(file));
        process.stdout.write(opts.json ? `${JSON.stringify(report, null, 2)}\n` : formatReport(report));
      } catch (e) {
        if (!(e instanceof InputError)) throw e;
        process.stderr.write(`fido policy try: ${e.message}\n`);
        process.exitCode = 1;
      }
    });
  policy
    .command('explain <incident>')
    .description('Run the configured policy on a stored incident (by id) and say which rule matches and why the others do not')
    .option('-c, --config <file>', 'config whose policy to run (default: $FIDO_CONFIG, else the demo configuration)')
    .option('--json', 'print the report as JSON')
    .action(async (id: string, opts: { config?: string; json?: boolean }) => {
      try {
        const file = configPath(opts.config);
        const policy = loadConfiguredPolicy(opts.config);
        const store = await openExistingStore(readConfigFile(file).config);
        try {
          const report = await explainIncident(store, policy, id);
          if (!report) throw new InputError(`no incident ${id} in the store`);
          const was = report.incident.decision;
          const head = `incident ${id}: ${JSON.stringify(report.incident.title)}, score ${report.incident.score?.total ?? '(none)'}, decided now: ${was ? `rule "${was.rule}" → ${was.outcome}` : '(never decided)'}\n`;
          process.stdout.write(opts.json ? `${JSON.stringify(report, null, 2)}\n` : head + formatReport(report));
        } finally {
          await store.close();
        }
      } catch (e) {
        if (!(e instanceof InputError || e instanceof BacktestInputError)) throw e;
        process.stderr.write(`fido policy explain: ${e.message}\n`);
        process.exitCode = 1;
      } finally {
        await defaultSandbox().close();
      }
    });
}

function loadConfiguredPolicy(configFile: string | undefined) {
  const file = configPath(configFile);
  const { config, text } = readConfigFile(file);
  try {
    return loadPolicyFromConfig({ config, dir: dirname(file), file, text });
  } catch (e) {
    if (e instanceof PolicyLoadError) throw new InputError(e.message);
    throw e;
  }
}

/** The decision, then a line per rule: ✔ matched, · did not, ✖ failed, with the reason. */
function formatReport(report: DryRunReport): string {
  const d = report.decision;
  const mark = { match: '✔', 'no-match': '·', error: '✖' } as const;
  const lines = [
    `decision: rule "${d.rule}" → ${d.outcome}${d.actions.length ? ` (${d.actions.map((a) => `${a.kind} → ${a.target}`).join(', ')})` : ''}`,
    ...report.rules.map((r) => `${mark[r.result]} ${r.rule}${r.decides ? ' (decides)' : ''}: ${r.reason}`),
  ];
  return `${lines.join('\n')}\n`;
}
