/** The backtest report as text, for the CLI. */
import type { BacktestReport, ChangedIncident } from './run.js';

export function formatBacktest(r: BacktestReport): string {
  const c = r.counts;
  const lines = [
    `backtest ${r.since} → ${r.until}: ${c.incidents} incidents${r.truncated ? ' (truncated: only the oldest were replayed)' : ''}, ${r.rules} rules, ` +
      `score ${r.profile ? `recomputed with profile ${r.profile.name}@${r.profile.version}` : 'as stored'}`,
    `  same:             ${c.same}`,
    `  changed:          ${c.changed}`,
    `  outcome changed:  ${c.outcome_changed}${Object.keys(r.outcome_changes).length ? ` (${Object.entries(r.outcome_changes).map(([k, n]) => `${k}: ${n}`).join(', ')})` : ''}`,
    `  rule changed:     ${c.rule_changed}`,
    `  actions added:    ${c.actions_added} on ${c.incidents_with_actions_added} incidents`,
    `  actions removed:  ${c.actions_removed} on ${c.incidents_with_actions_removed} incidents`,
    `  score moved > ${r.score_delta}: ${c.score_changed}`,
    ...(c.undecided ? [`  never decided:    ${c.undecided}`] : []),
    `  (${r.elapsed_ms} ms)`,
  ];
  if (r.changed.length) {
    lines.push('', `changed incidents${r.changed.length < c.changed ? ` (first ${r.changed.length} of ${c.changed})` : ''}:`);
    for (const x of r.changed) lines.push(changedLine(x));
  }
  return `${lines.join('\n')}\n`;
}

const arrow = <T>(a: T, b: T, show: (v: T) => string = String) => (a === b ? show(a) : `${show(a)} → ${show(b)}`);
const orNone = (v: string | number | null) => (v === null ? '(none)' : String(v));

function changedLine(x: ChangedIncident): string {
  const acts = [...x.actions.added.map((a) => `+${a}`), ...x.actions.removed.map((a) => `-${a}`)];
  return (
    `${x.id}  ${JSON.stringify(x.title.slice(0, 80))}  score ${arrow(x.score.old, x.score.new, orNone)}  ` +
    `outcome ${arrow(x.outcome.old, x.outcome.new, orNone)}  rule ${arrow(x.rule.old, x.rule.new, orNone)}${acts.length ? `  actions ${acts.join(', ')}` : ''}`
  );
}
