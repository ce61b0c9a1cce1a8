/**
 * Configuration, read-only (GET /configuration): sources and receivers with their health, providers with
 * quota and cache figures, policy rules with their recent hits, the latest backtest; and the containment
 * kill switch (GET /kill-switch), which an admin can turn (PUT /kill-switch, with a reason).
 */
import { useEffect, useState } from 'preact/hooks';
import { atLeast, errorText, get, send, type BacktestSummary, type Configuration, type KillSwitch, type Receiver } from '../api.ts';
import { ErrorBox, fmtAgo, fmtNum, fmtTime, KeyValues, Loading, Section, StateBadge, useRole, useTitle, valueText, words } from '../ui.tsx';
import { ProvidersTable, ReceiversTable } from './shared.tsx';

/** Who may turn the kill switch (PUT /kill-switch's role). */
const KILL_SWITCH_ROLE = 'admin';

function KillSwitchView({ initial }: { initial: Partial<KillSwitch> | undefined }) {
  const role = useRole();
  const [ks, setKs] = useState<Partial<KillSwitch> | null>(initial ?? null);
  const [reason, setReason] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  // GET /kill-switch is the authority; the configuration's copy only fills in until it answers.
  useEffect(() => {
    if (initial) setKs((k) => k ?? initial);
  }, [initial]);
  useEffect(() => {
    get<KillSwitch>('/kill-switch')
      .then(setKs)
      .catch((e: unknown) => setError(`The kill switch could not be read: ${errorText(e)}`));
  }, []);
  const canTurn = atLeast(role, KILL_SWITCH_ROLE);
  const on = ks?.on === true;
  const turn = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      setKs(await send<KillSwitch>('PUT', '/kill-switch', { on: !on, reason: reason.trim() }));
      setReason('');
    } catch (err) {
      setError(`The kill switch was not changed: ${errorText(err)}`);
    } finally {
      setBusy(false);
    }
  };
  return (
    <Section title="Containment kill switch" id="kill-switch">
      <p data-testid="kill-switch-state" data-on={String(on)}>
        {ks === null ? (
          'Unknown.'
        ) : on ? (
          <strong class="danger">ON: no containment action starts (queued ones wait; undos and notifications still run).</strong>
        ) : (
          <strong>Off: containment actions run as the policy decides.</strong>
        )}
      </p>
      {ks?.actor ? (
        <p class="small muted">
          Set by {ks.actor}
          {ks.at ? ` at ${fmtTime(ks.at)}` : ''}
          {ks.reason ? `: ${ks.reason}` : ''}
        </p>
      ) : null}
      <ErrorBox error={error} />
      {canTurn && ks !== null ? (
        <form class="inline" onSubmit={turn}>
          <label for="ks-reason">Reason</label>
          <input id="ks-reason" required maxLength={2000} value={reason} onInput={(e) => setReason(e.currentTarget.value)} />
          <button type="submit" class={on ? 'primary' : 'danger-button'} disabled={busy || !reason.trim()}>
            {on ? 'Allow containment (turn off)' : 'Stop all containment (turn on)'}
          </button>
        </form>
      ) : (
        <p class="small muted">Only an {KILL_SWITCH_ROLE} can turn it.</p>
      )}
    </Section>
  );
}

function SourcesTable({ sources }: { sources: NonNullable<Configuration['sources']> }) {
  if (!sources.length) return <p class="muted">No sources are configured.</p>;
  return (
    <div class="table-wrap">
      <table>
        <thead>
          <tr>
            <th scope="col">Source</th>
            <th scope="col">Detector</th>
            <th scope="col">Receivers and health</th>
            <th scope="col">Other settings</th>
          </tr>
        </thead>
        <tbody>
          {sources.map((s) => {
            const { name, detector, receiver, receivers: many, health, ...rest } = s;
            const receivers = many ?? (receiver ? [receiver] : undefined);
            return (
              <tr key={name} data-testid="source-row">
                <th scope="row">{name}</th>
                <td>{detector ?? '—'}</td>
                <td>
                  {Array.isArray(receivers) && receivers.length ? (
                    <ul class="plain">
                      {(receivers as Receiver[]).map((r, i) => (
                        <li key={i}>
                          {r.kind ?? r.name} <StateBadge state={r.state ?? 'unknown'} kind="health" />
                          {r.last_record_at ? <span class="small muted"> last record {fmtAgo(r.last_record_at)}</span> : null}
                          {r.error ? <span class="field-error"> {r.error}</span> : null}
                        </li>
                      ))}
                    </ul>
                  ) : health !== undefined ? (
                    <StateBadge state={typeof health === 'string' ? health : valueText(health)} kind="health" />
                  ) : (
                    <span class="muted">—</span>
                  )}
                </td>
                <td class="small">{Object.keys(rest).length ? <KeyValues obj={rest} /> : '—'}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}

function RulesTable({ rules }: { rules: NonNullable<Configuration['rules']> }) {
  if (!rules.length) return <p class="muted">No policy rules.</p>;
  return (
    <div class="table-wrap">
      <table>
        <thead>
          <tr>
            <th scope="col">Rule</th>
            <th scope="col">When</th>
            <th scope="col">Outcome</th>
            <th scope="col">Actions</th>
            <th scope="col" class="num">
              Hits 24 h
            </th>
            <th scope="col" class="num">
              Hits 7 d
            </th>
            <th scope="col">Last hit</th>
          </tr>
        </thead>
        <tbody>
          {rules.map((r, i) => (
            <tr key={`${r.name}-${i}`} data-testid="rule-row">
              <th scope="row">
                <span class="mono">{r.name}</span>
                {r.description ? <div class="small muted">{r.description}</div> : null}
              </th>
              <td class="mono small break">{r.when ?? '—'}</td>
              <td>
                {r.outcome ? words(r.outcome) : '—'}
                {r.dry_run ? <div class="small muted">dry run</div> : null}
                {r.continue ? <div class="small muted">continues</div> : null}
              </td>
              <td class="small">
                {Array.isArray(r.actions) && r.actions.length
                  ? r.actions
                      .map((a) => (a && typeof a === 'object' && 'kind' in a ? `${String((a as { kind: unknown }).kind)}${'target' in a ? ` → ${String((a as { target: unknown }).target)}` : ''}` : valueText(a)))
                      .join('; ')
                  : '—'}
                {r.approval === 'required' ? <div class="muted">needs approval</div> : null}
              </td>
              <td class="num">{fmtNum(r.hits_24h)}</td>
              <td class="num">{fmtNum(r.hits_7d)}</td>
              <td>{r.last_hit_at ? <span title={fmtTime(r.last_hit_at)}>{fmtAgo(r.last_hit_at)}</span> : <span class="muted">never</span>}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

const BACKTEST_ROLE = 'analyst';
const BACKTEST_FIGURES: Array<[string, string]> = [
  ['incidents', 'incidents replayed'],
  ['changed', 'changed'],
  ['outcome_changed', 'outcome changed'],
  ['rule_changed', 'deciding rule changed'],
  ['actions_added', 'actions added'],
  ['actions_removed', 'actions removed'],
  ['score_changed', 'score changed'],
];

/** The latest backtest, and (for analysts) a form that runs one: a policy's YAML over a window of stored incidents. */
function BacktestView({ b, onRan }: { b: BacktestSummary | null | undefined; onRan: () => void }) {
  const role = useRole();
  const [policy, setPolicy] = useState('');
  const [since, setSince] = useState('30d');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const run = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await send('POST', '/backtests', { ...(policy.trim() ? { policy } : { profile: 'default' }), since: since.trim() || '30d' });
      onRan();
    } catch (err) {
      setError(`The backtest did not run: ${errorText(err)}`);
    } finally {
      setBusy(false);
    }
  };
  return (
    <>
      {b ? (
        <div data-testid="backtest-latest">
          <p>
            Run by {b.actor} at {fmtTime(b.created_at)} over incidents last seen {fmtTime(b.report.since)} to {fmtTime(b.report.until)}, with{' '}
            {b.policy === null ? 'the configured policy' : 'a changed policy'}
            {b.profile ? ` and profile ${b.profile}` : ''} ({b.report.rules} rules){b.report.truncated ? '; only the oldest incidents were replayed' : ''}.
          </p>
          <table class="table compact">
            <caption class="sr-only">Backtest figures</caption>
            <tbody>
              {BACKTEST_FIGURES.map(([key, label]) => (
                <tr key={key}>
                  <th scope="row">{label}</th>
                  <td class="num">{fmtNum(b.report.counts[key] ?? 0)}</td>
                </tr>
              ))}
            </tbody>
          </table>
          {Object.keys(b.report.outcome_changes).length ? (
            <>
              <h3>Outcome changes</h3>
              <ul>
                {Object.entries(b.report.outcome_changes).map(([change, n]) => (
                  <li key={change}>
                    {change}: {fmtNum(n)}
                  </li>
                ))}
              </ul>
            </>
          ) : null}
          {b.policy !== null ? (
            <details>
              <summary>The policy tried</summary>
              <pre class="raw">{b.policy}</pre>
            </details>
          ) : null}
        </div>
      ) : (
        <p class="muted">No backtest was run yet.</p>
      )}
      {atLeast(role, BACKTEST_ROLE) ? (
        <form class="backtest-form" onSubmit={(e) => void run(e)}>
          <h3>Run a backtest</h3>
          <label for="backtest-policy">Policy rules to try (YAML, as in a rules file; empty: the configured policy, rescored)</label>
          <textarea id="backtest-policy" rows={6} value={policy} onInput={(e) => setPolicy((e.target as HTMLTextAreaElement).value)} />
          <label for="backtest-since">Incidents last seen since</label>
          <input id="backtest-since" value={since} onInput={(e) => setSince((e.target as HTMLInputElement).value)} />
          <button type="submit" disabled={busy}>
            {busy ? 'Running…' : 'Run backtest'}
          </button>
          {error ? (
            <p class="field-error" role="alert">
              {error}
            </p>
          ) : null}
        </form>
      ) : null}
    </>
  );
}

export function ConfigPage() {
  useTitle('Configuration');
  const [cfg, setCfg] = useState<Configuration | null>(null);
  const [error, setError] = useState<string | null>(null);
  const load = () => {
    setError(null);
    get<Configuration>('/configuration')
      .then(setCfg)
      .catch((e: unknown) => setError(`The configuration could not be loaded: ${errorText(e)}`));
  };
  useEffect(load, []);

  const receivers = cfg?.receivers;
  return (
    <div class="config">
      <div class="page-head">
        <h1>Configuration</h1>
        <p class="muted small">
          Read-only: the configuration file is the place to change it.{cfg?.config_version ? ` Version ${cfg.config_version}.` : ''}
        </p>
      </div>
      <KillSwitchView initial={cfg?.kill_switch} />
      <ErrorBox error={error} onRetry={load} />
      {!cfg && !error ? <Loading what="the configuration" /> : null}
      {cfg ? (
        <>
          <Section title="Sources and receivers" id="sources">
            {cfg.sources ? <SourcesTable sources={cfg.sources} /> : <p class="muted">Not reported.</p>}
            {receivers ? (
              <>
                <h3>Receivers</h3>
                <ReceiversTable receivers={receivers} />
              </>
            ) : null}
          </Section>
          <Section title="Enrichment providers" id="providers">
            {cfg.providers_error ? <p class="field-error">The providers could not be described: {cfg.providers_error}</p> : null}
            <ProvidersTable providers={cfg.providers} />
          </Section>
          <Section title="Policy rules" id="rules">
            {cfg.rules_error ? <p class="field-error">The policy could not be read: {cfg.rules_error}</p> : null}
            {cfg.rules ? <RulesTable rules={cfg.rules} /> : <p class="muted">Not reported.</p>}
          </Section>
          <Section title="Latest backtest" id="backtest">
            <BacktestView b={cfg.backtest} onRan={load} />
          </Section>
        </>
      ) : null}
    </div>
  );
}
