/**
 * The overview (GET /overview?window=): alerts over time by detector and incidents by outcome (uPlot), top
 * hosts, users and indicators, the automation rate, time to decision, provider quotas, receiver health and
 * the backlog. Every field is optional here: a missing one says "not reported" instead of breaking the page.
 * Live: read again on events, at most every 5 s.
 */
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { errorText, get, isAbort, type Backlog, type Overview } from '../api.ts';
import { TimeChart, type ChartSeries } from '../chart.tsx';
import { onLive } from '../events.ts';
import { navigate, useLocation } from '../router.tsx';
import { ErrorBox, fmtDuration, fmtNum, fmtPct, fmtTime, KeyValues, Loading, Section, useThrottled, useTitle, valueText, words } from '../ui.tsx';
import { ProvidersTable, ReceiversTable } from './shared.tsx';

const WINDOWS = ['24h', '7d', '30d'] as const;

function toSeries(m: Record<string, number[]> | undefined, n: number): ChartSeries[] {
  if (!m) return [];
  return Object.entries(m)
    .filter(([, v]) => Array.isArray(v))
    .map(([label, values]) => ({ label, values: Array.from({ length: n }, (_, i) => (typeof values[i] === 'number' ? values[i]! : null)) }))
    .sort((a, b) => b.values.reduce<number>((x, v) => x + (v ?? 0), 0) - a.values.reduce<number>((x, v) => x + (v ?? 0), 0));
}

function TopTable({ title, rows, cols }: { title: string; rows: Array<Record<string, unknown>> | undefined; cols: Array<[string, string]> }) {
  return (
    <Section title={title}>
      {!rows ? (
        <p class="muted">Not reported.</p>
      ) : !rows.length ? (
        <p class="muted">None in this window.</p>
      ) : (
        <table class="small">
          <thead>
            <tr>
              {cols.map(([k, label]) => (
                <th scope="col" key={k} class={k === 'value' || k === 'type' ? '' : 'num'}>
                  {label}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {rows.map((r, i) => (
              <tr key={i}>
                {cols.map(([k]) => (
                  <td key={k} class={k === 'value' ? 'mono break' : k === 'type' ? '' : 'num'}>
                    {typeof r[k] === 'number' ? fmtNum(r[k] as number) : valueText(r[k])}
                  </td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </Section>
  );
}

/** How far the pipeline is behind: intake records not yet ingested, and each stage's queue. */
function BacklogView({ backlog }: { backlog: Overview['backlog'] }) {
  if (!backlog) return <p class="muted">Not reported.</p>;
  const { ingest, stages, ...rest } = backlog as Backlog & Record<string, unknown>;
  const lag = (s: number | undefined) => (typeof s === 'number' ? fmtDuration(s * 1000) : '—');
  return (
    <>
      {ingest ? (
        <p class="big">
          {fmtNum(ingest.records)} record{ingest.records === 1 ? '' : 's'} to ingest
          {ingest.records ? <span class="small muted"> (oldest waits {lag(ingest.lag_seconds)})</span> : null}
        </p>
      ) : null}
      {stages && Object.keys(stages).length ? (
        <table class="small">
          <thead>
            <tr>
              <th scope="col">Stage</th>
              <th scope="col" class="num">
                Waiting
              </th>
              <th scope="col" class="num">
                Lag
              </th>
            </tr>
          </thead>
          <tbody>
            {Object.entries(stages).map(([name, s]) => (
              <tr key={name}>
                <td>{words(name)}</td>
                <td class="num">{fmtNum(s.items)}</td>
                <td class="num">{s.items ? lag(s.lag_seconds) : '—'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
      {Object.keys(rest).length ? <KeyValues obj={rest} /> : null}
    </>
  );
}

export function OverviewPage() {
  useTitle('Overview');
  const { search } = useLocation();
  const w = new URLSearchParams(search).get('window');
  const win = (WINDOWS as readonly string[]).includes(w ?? '') ? (w as (typeof WINDOWS)[number]) : '24h';
  const [data, setData] = useState<Overview | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [updated, setUpdated] = useState<number | null>(null);
  const abort = useRef<AbortController | null>(null);

  const load = async () => {
    abort.current?.abort();
    const ac = new AbortController();
    abort.current = ac;
    try {
      setData(await get<Overview>('/overview', { window: win }, ac.signal));
      setUpdated(Date.now());
      setError(null);
    } catch (e) {
      if (!isAbort(e)) setError(`The overview could not be loaded: ${errorText(e)}`);
    }
  };
  useEffect(() => {
    setData(null);
    void load();
    return () => abort.current?.abort();
  }, [win]);

  const refresh = useThrottled(() => void load(), 5000);
  useEffect(() => onLive(() => refresh()), [refresh]);

  const t = useMemo(() => (data?.series?.t ?? []).filter((x) => typeof x === 'number'), [data]);
  const alerts = useMemo(() => toSeries(data?.series?.alerts_by_detector, t.length), [data, t]);
  const outcomes = useMemo(() => toSeries(data?.series?.incidents_by_outcome, t.length), [data, t]);
  const auto = data?.automation;
  const ttd = data?.time_to_decision;

  return (
    <div class="overview">
      <div class="page-head">
        <h1>Overview</h1>
        <div class="field inline">
          <label for="ov-window">Window</label>
          <select id="ov-window" value={win} onChange={(e) => navigate(`/overview?window=${e.currentTarget.value}`, true)}>
            <option value="24h">Last 24 hours</option>
            <option value="7d">Last 7 days</option>
            <option value="30d">Last 30 days</option>
          </select>
        </div>
        {updated ? <p class="muted small">Updated {fmtTime(updated)}</p> : null}
      </div>
      <ErrorBox error={error} onRetry={() => void load()} />
      {!data && !error ? <Loading what="the overview" /> : null}
      {data ? (
        <>
          <div class="stats">
            <div class="stat card" data-testid="automation-rate">
              <h2>Automation rate</h2>
              <p class="big">{fmtPct(auto?.rate)}</p>
              <p class="small muted">
                {!auto
                  ? 'Not reported.'
                  : auto.closed
                    ? `${fmtNum(auto.closed_without_person)} of ${fmtNum(auto.closed)} closed incidents closed without a person`
                    : 'Nothing was closed in this window.'}
              </p>
            </div>
            <div class="stat card" data-testid="decided-without-person">
              <h2>Decided without a person</h2>
              <p class="big">{typeof auto?.decided === 'number' ? fmtPct(auto.decided_rate) : '—'}</p>
              <p class="small muted">
                {typeof auto?.decided !== 'number'
                  ? 'Not reported by this server.'
                  : auto.decided
                    ? `${fmtNum(auto.decided_without_person)} of ${fmtNum(auto.decided)} incidents first decided in this window, no person acting on them`
                    : 'Nothing was first decided in this window.'}
              </p>
            </div>
            <div class="stat card" data-testid="time-to-decision">
              <h2>Time to decision</h2>
              <p class="big">
                p50 {fmtDuration(ttd?.p50_ms)} · p90 {fmtDuration(ttd?.p90_ms)}
              </p>
              <p class="small muted">{ttd ? `over ${fmtNum(ttd.n)} decided incidents` : 'Not reported.'}</p>
            </div>
            <div class="stat card" data-testid="backlog">
              <h2>Backlog</h2>
              <BacklogView backlog={data.backlog} />
            </div>
          </div>

          <div class="grid-2">
            <Section title="Alerts by detector">
              <TimeChart title="Alerts by detector" t={t} series={alerts} unit="alerts" />
            </Section>
            <Section title="Incidents by outcome">
              <TimeChart title="Incidents by decision outcome" t={t} series={outcomes.map((s) => ({ ...s, label: words(s.label) }))} unit="incidents" />
            </Section>
          </div>

          <div class="grid-3">
            <TopTable title="Top hosts" rows={data.top?.hosts} cols={[['value', 'Host'], ['incidents', 'Incidents'], ['alerts', 'Alerts']]} />
            <TopTable title="Top users" rows={data.top?.users} cols={[['value', 'User'], ['incidents', 'Incidents'], ['alerts', 'Alerts']]} />
            <TopTable title="Top indicators" rows={data.top?.indicators} cols={[['type', 'Type'], ['value', 'Indicator'], ['incidents', 'Incidents']]} />
          </div>

          <Section title="Provider quotas">
            {data.providers_error ? <p class="field-error">The providers could not be described: {data.providers_error}</p> : null}
            <ProvidersTable providers={data.providers} />
          </Section>
          <Section title="Receiver health">
            <ReceiversTable receivers={data.receivers} />
          </Section>
        </>
      ) : null}
    </div>
  );
}
