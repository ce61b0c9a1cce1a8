/** Tables the overview and the configuration both show: providers (quota, cache) and receivers (health). */
import type { ProviderInfo, QuotaPeriod, Receiver } from '../api.ts';
import { fmtAgo, fmtDuration, fmtNum, fmtTime, StateBadge, valueText, words } from '../ui.tsx';

function isPeriods(q: unknown): q is QuotaPeriod[] {
  return Array.isArray(q) && q.every((p) => p && typeof p === 'object' && 'limit' in p);
}

/** A quota in words: "day: 120 of 500 used (380 left, resets 2026-12-08 00:00)". */
export function QuotaText({ quota }: { quota: ProviderInfo['quota'] }) {
  if (quota === null || quota === undefined) return <span class="muted">no quota</span>;
  if (isPeriods(quota)) {
    return (
      <ul class="plain">
        {quota.map((p) => {
          const used = p.limit > 0 ? p.used / p.limit : 0;
          return (
            <li key={p.period}>
              {p.period}: {fmtNum(p.used)} of {fmtNum(p.limit)} used ({fmtNum(p.remaining)} left{p.resets_at ? `, resets ${fmtTime(p.resets_at)}` : ''})
              <meter min={0} max={1} low={0.7} high={0.9} optimum={0} value={used} aria-label={`${p.period} quota used`} />
              {used >= 0.9 ? <strong> nearly spent</strong> : null}
            </li>
          );
        })}
      </ul>
    );
  }
  return <span>{valueText(quota)}</span>;
}

function CacheText({ p }: { p: ProviderInfo }) {
  const c = p.cache;
  const parts: string[] = [];
  if (c && typeof c === 'object' && typeof c.entries === 'number') {
    // GET /configuration's figures: { entries, live, exact }.
    parts.push(`${fmtNum(c.entries)}${c.exact === false ? '+' : ''} answers cached`);
    if (typeof c.live === 'number') parts.push(`${fmtNum(c.live)} not expired`);
  } else if (c && typeof c === 'object') {
    for (const [k, v] of Object.entries(c)) {
      if (typeof v === 'number' && /rate|ratio/.test(k)) parts.push(`${words(k)} ${(v * 100).toFixed(1)} %`);
      else if (typeof v === 'number' && /_ms$/.test(k)) parts.push(`${words(k.replace(/_ms$/, ''))} ${fmtDuration(v)}`);
      else parts.push(`${words(k)} ${valueText(v)}`);
    }
  }
  if (typeof p.ttl_ms === 'number') parts.push(`keeps answers ${fmtDuration(p.ttl_ms)}`);
  if (typeof p.negative_ttl_ms === 'number' && !(c && 'negative_ttl_ms' in c)) parts.push(`misses ${fmtDuration(p.negative_ttl_ms)}`);
  return <span>{parts.length ? parts.join(' · ') : '—'}</span>;
}

export function ProvidersTable({ providers }: { providers: ProviderInfo[] | undefined }) {
  if (!providers) return <p class="muted">Not reported.</p>;
  if (!providers.length) return <p class="muted">No enrichment providers are configured.</p>;
  return (
    <div class="table-wrap">
      <table>
        <thead>
          <tr>
            <th scope="col">Provider</th>
            <th scope="col">Kind</th>
            <th scope="col">State</th>
            <th scope="col">Quota</th>
            <th scope="col">Cache</th>
          </tr>
        </thead>
        <tbody>
          {providers.map((p, i) => {
            const name = String(p.name ?? p.provider ?? `provider ${i + 1}`);
            const paused = typeof p.paused_until === 'string' && Date.parse(p.paused_until) > Date.now();
            return (
              <tr key={name} data-testid="provider-row">
                <th scope="row">{name}</th>
                <td>{p.kind ?? '—'}</td>
                <td>
                  {p.breaker ? <StateBadge state={p.breaker === 'closed' ? 'ok' : `circuit ${p.breaker}`} kind="breaker" /> : '—'}
                  {paused ? <div class="small">paused until {fmtTime(p.paused_until as string)}</div> : null}
                  {typeof p.in_flight === 'number' ? (
                    <div class="small muted">
                      {p.in_flight} in flight{typeof p.waiting === 'number' ? `, ${p.waiting} waiting` : ''}
                    </div>
                  ) : null}
                </td>
                <td>
                  <QuotaText quota={p.quota} />
                </td>
                <td class="small">
                  <CacheText p={p} />
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}

export function ReceiversTable({ receivers }: { receivers: Receiver[] | undefined }) {
  if (!receivers) return <p class="muted">Not reported.</p>;
  if (!receivers.length) return <p class="muted">No receivers.</p>;
  return (
    <div class="table-wrap">
      <table>
        <thead>
          <tr>
            <th scope="col">Receiver</th>
            <th scope="col">Kind</th>
            <th scope="col">Health</th>
            <th scope="col">Last record</th>
            <th scope="col">Error</th>
          </tr>
        </thead>
        <tbody>
          {receivers.map((r, i) => (
            <tr key={`${r.name}-${i}`} data-testid="receiver-row">
              <th scope="row">{r.name}</th>
              <td>{r.kind ?? '—'}</td>
              <td>
                <StateBadge state={r.state ?? 'unknown'} kind="health" />
              </td>
              <td>
                {r.last_record_at ? (
                  <span title={fmtTime(r.last_record_at)}>{fmtAgo(r.last_record_at)}</span>
                ) : (
                  <span class="muted">none yet</span>
                )}
              </td>
              <td>{r.error ? <span class="field-error">{r.error}</span> : '—'}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
