/**
 * One incident on one screen: header and workflow (status, assignee, tags, severity override: PATCH with
 * If-Match), the score's factors, score over time, the decision and why, actions (approve / deny / undo),
 * verdicts, host and user cards, indicators with each provider's verdict, the timeline, raw alerts, notes and
 * the audit trail (GET /incidents/{id}/audit, paged). Live: read again when an event names this incident or one of its actions.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import {
  ApiError,
  atLeast,
  errorText,
  get,
  isAbort,
  request,
  send,
  STATUSES,
  VERDICTS,
  type ActionRecord,
  type AuditEntry,
  type Alert,
  type Asset,
  type Enrichment,
  type Explanation,
  type Incident,
  type IncidentDetail,
  type Indicator,
  type Note,
  type TimelineEntry,
} from '../api.ts';
import { TimeChart } from '../chart.tsx';
import { onLive } from '../events.ts';
import { Link } from '../router.tsx';
import {
  ErrorBox,
  fmtAgo,
  fmtDuration,
  fmtNum,
  fmtTime,
  Loading,
  ScoreBadge,
  Section,
  StateBadge,
  useThrottled,
  useSession,
  useTitle,
  valueText,
  words,
} from '../ui.tsx';

const TAG_RE = /^[a-z0-9][a-z0-9._:-]{0,63}$/;
const AUDIT_PAGE = 25;
/** The route's limit: a reading again keeps what "load more" had shown, up to this. */
const AUDIT_MAX = 500;

interface Paged<T> {
  items: T[];
  next_cursor: string | null;
}

export function IncidentPage({ id }: { id: string }) {
  const session = useSession();
  const role = session?.user.role;
  const canEdit = atLeast(role, 'analyst');
  const [detail, setDetail] = useState<IncidentDetail | null>(null);
  const [notes, setNotes] = useState<Paged<Note> | null>(null);
  const [indicators, setIndicators] = useState<Paged<Indicator> | null>(null);
  const [explain, setExplain] = useState<Explanation | { error: string } | null>(null);
  const [audit, setAudit] = useState<{ items: AuditEntry[]; next: string | null; error: string | null } | null>(null);
  const auditShown = useRef(AUDIT_PAGE);
  const [auditBusy, setAuditBusy] = useState(false);
  const [moreAlerts, setMoreAlerts] = useState<{ items: Alert[]; next: string | null }>({ items: [], next: null });
  const [error, setError] = useState<string | null>(null);
  const [loadError, setLoadError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [busy, setBusy] = useState<string | null>(null);
  const abort = useRef<AbortController | null>(null);
  useTitle(detail?.title ?? 'Incident');

  const load = async () => {
    abort.current?.abort();
    const ac = new AbortController();
    abort.current = ac;
    try {
      const [d, n, o] = await Promise.all([
        get<IncidentDetail>(`/incidents/${id}`, undefined, ac.signal),
        get<Paged<Note>>(`/incidents/${id}/notes`, { limit: 100 }, ac.signal),
        get<Paged<Indicator>>(`/incidents/${id}/observables`, { limit: 100 }, ac.signal),
      ]);
      setDetail(d);
      setNotes(n);
      setIndicators(o);
      setMoreAlerts((m) => (m.items.length ? m : { items: [], next: d.alerts_next ?? null }));
      setLoadError(null);
    } catch (e) {
      if (isAbort(e)) return;
      setLoadError(e instanceof ApiError && e.status === 404 ? `There is no incident ${id}.` : `The incident could not be loaded: ${errorText(e)}`);
    }
    // The audit trail on its own: a failure there is said in its section and does not hide the incident.
    get<Paged<AuditEntry>>(`/incidents/${id}/audit`, { limit: Math.min(AUDIT_MAX, Math.max(AUDIT_PAGE, auditShown.current)) }, ac.signal)
      .then((a) => setAudit({ items: a.items, next: a.next_cursor, error: null }))
      .catch((e: unknown) => {
        if (!isAbort(e)) setAudit((old) => ({ items: old?.items ?? [], next: old?.next ?? null, error: errorText(e) }));
      });
    // The policy's dry run: slower, and 503 where the process has no policy; it does not hold up the page.
    get<Explanation>(`/incidents/${id}/explain`, undefined, ac.signal)
      .then(setExplain)
      .catch((e: unknown) => {
        if (!isAbort(e)) setExplain({ error: errorText(e) });
      });
  };

  useEffect(() => {
    auditShown.current = AUDIT_PAGE;
    setAudit(null);
    void load();
    return () => abort.current?.abort();
  }, [id]);

  const moreAudit = async () => {
    if (!audit?.next) return;
    setAuditBusy(true);
    try {
      const a = await get<Paged<AuditEntry>>(`/incidents/${id}/audit`, { limit: AUDIT_PAGE, cursor: audit.next });
      const items = [...audit.items, ...a.items.filter((x) => !audit.items.some((y) => y.id === x.id))];
      auditShown.current = items.length;
      setAudit({ items, next: a.next_cursor, error: null });
    } catch (e) {
      setAudit({ ...audit, error: errorText(e) });
    } finally {
      setAuditBusy(false);
    }
  };

  const liveReload = useThrottled(() => void load(), 300);
  useEffect(
    () =>
      onLive((e) => {
        if (e.type === 'reset' || e.type === 'ready' || (e.type === 'incident' && e.data.id === id) || (e.type === 'action' && e.data.incident_id === id)) liveReload();
      }),
    [id, liveReload],
  );

  /** Runs a change; shows what it did or why not, then reads the incident again. */
  const act = async (label: string, fn: () => Promise<unknown>, done?: string) => {
    setBusy(label);
    setError(null);
    setNotice(null);
    try {
      await fn();
      if (done) setNotice(done);
      await load();
    } catch (e) {
      if (e instanceof ApiError && e.status === 412) {
        setError('Someone changed this incident meanwhile: it has been read again. Check it and make your change again.');
        await load();
      } else setError(`${label} failed: ${errorText(e)}`);
    } finally {
      setBusy(null);
    }
  };

  const patch = (label: string, body: Record<string, unknown>) =>
    act(label, async () => {
      const headers: Record<string, string> = detail?.updated_at ? { 'if-match': `"${detail.updated_at}"` } : {};
      await request<Incident>(`/incidents/${id}`, { method: 'PATCH', body, headers });
    });

  if (loadError && !detail) {
    return (
      <div>
        <p>
          <Link href="/">← Queue</Link>
        </p>
        <ErrorBox error={loadError} onRetry={() => void load()} />
      </div>
    );
  }
  if (!detail) return <Loading what="the incident" />;

  const d = detail;
  const shownTags = d.tags ?? [];
  const score = d.score?.total ?? null;
  const allAlerts = [...d.alerts, ...moreAlerts.items];

  return (
    <div class="incident">
      <p class="crumbs">
        <Link href="/">← Queue</Link>
      </p>
      <header class="card incident-head" aria-labelledby="incident-title">
        <div class="head-line">
          <ScoreBadge score={d.severity_override ?? score} large />
          <div>
            <h1 id="incident-title">{d.title}</h1>
            <p class="muted small">
              {d.id} · first seen {fmtTime(d.first_seen)} · last seen {fmtTime(d.last_seen)} · {fmtNum(d.alert_count)} alert{d.alert_count === 1 ? '' : 's'}
              {d.merged_into ? (
                <>
                  {' '}
                  · merged into <Link href={`/incidents/${d.merged_into}`}>{d.merged_into}</Link>
                </>
              ) : null}
            </p>
          </div>
        </div>
        <dl class="facts">
          <div>
            <dt>Status</dt>
            <dd>
              <StateBadge state={d.status} kind="status" />
            </dd>
          </div>
          <div>
            <dt>Verdict</dt>
            <dd data-testid="incident-verdict">{d.verdict ? words(d.verdict) : 'none yet'}</dd>
          </div>
          <div>
            <dt>Assignee</dt>
            <dd data-testid="incident-assignee">{d.assignee ?? 'unassigned'}</dd>
          </div>
          <div>
            <dt>Host</dt>
            <dd>{d.host ?? '—'}</dd>
          </div>
          <div>
            <dt>User</dt>
            <dd>{d.user ?? '—'}</dd>
          </div>
          <div>
            <dt>Score</dt>
            <dd>
              {score === null ? 'not scored' : `${score} (${d.score?.profile ?? ''})`}
              {d.severity_override !== null && d.severity_override !== undefined ? `; overridden to ${d.severity_override}` : ''}
            </dd>
          </div>
          <div>
            <dt>Detectors</dt>
            <dd data-testid="incident-detectors">{d.detectors?.length ? d.detectors.join(', ') : '—'}</dd>
          </div>
          <div>
            <dt>Sources</dt>
            <dd data-testid="incident-sources">{d.sources?.length ? d.sources.join(', ') : '—'}</dd>
          </div>
          <div>
            <dt>Decision</dt>
            <dd>{d.decision ? `${words(d.decision.outcome)} (rule ${d.decision.rule}${d.decision.dry_run ? ', dry run' : ''})` : 'not decided yet'}</dd>
          </div>
        </dl>
        <div class="tags-line" data-testid="incident-tags">
          <span class="label">Tags:</span>
          {shownTags.length === 0 ? <span class="muted">none</span> : null}
          {shownTags.map((t) => (
            <span class="tag" key={t}>
              {t}
              {canEdit ? (
                <button type="button" class="tag-x" aria-label={`Remove tag ${t}`} disabled={busy !== null} onClick={() => void patch('Removing the tag', { tags: { remove: [t] } })}>
                  ×
                </button>
              ) : null}
            </span>
          ))}
          {canEdit ? <AddTag disabled={busy !== null} onAdd={(t) => patch('Adding the tag', { tags: { add: [t] } })} /> : null}
        </div>
        {canEdit ? (
          <div class="workflow">
            <div class="field inline">
              <label for="inc-status">Status</label>
              <select id="inc-status" value={d.status} disabled={busy !== null} onChange={(e) => void patch('Changing the status', { status: e.currentTarget.value })}>
                {STATUSES.map((s) => (
                  <option key={s} value={s}>
                    {words(s)}
                  </option>
                ))}
              </select>
            </div>
            {d.assignee === session?.user.name ? (
              <button type="button" disabled={busy !== null} onClick={() => void patch('Unassigning', { assignee: null })}>
                Unassign me
              </button>
            ) : (
              <button type="button" disabled={busy !== null} onClick={() => void patch('Assigning', { assignee: session!.user.name })}>
                Assign to me
              </button>
            )}
            <SeverityOverride
              value={d.severity_override ?? null}
              disabled={busy !== null}
              onSet={(v) => patch(v === null ? 'Clearing the severity override' : 'Setting the severity override', { severity_override: v })}
            />
          </div>
        ) : null}
        {canEdit ? (
          <div class="verdicts" role="group" aria-labelledby="verdict-label">
            <span id="verdict-label" class="label">
              Verdict:
            </span>
            {VERDICTS.map((v) => (
              <button
                type="button"
                key={v}
                data-verdict={v}
                aria-pressed={d.verdict === v}
                disabled={busy !== null}
                onClick={() => void act('The verdict', () => send('POST', `/incidents/${id}/verdict`, { verdict: v }), `Verdict recorded: ${words(v)}.`)}
              >
                {words(v)}
              </button>
            ))}
          </div>
        ) : null}
      </header>

      <ErrorBox error={error ?? loadError} />
      {notice ? (
        <p class="notice" role="status">
          {notice}
        </p>
      ) : null}
      {busy ? (
        <p class="muted" role="status">
          {busy}…
        </p>
      ) : null}

      <div class="grid-2">
        <Section title="Why this score" id="score">
          <ScoreFactors incident={d} />
          <ScoreHistory incident={d} />
        </Section>
        <Section title="The decision" id="decision">
          <DecisionView incident={d} explain={explain} />
        </Section>
      </div>

      <Section title="Actions" id="actions">
        <ActionsView
          actions={d.actions}
          canAct={canEdit}
          busy={busy !== null}
          onDo={(a, verb) =>
            void act(
              `${words(verb)} ${a.kind} → ${a.target}`,
              () => send('POST', `/actions/${a.id}/${verb}`, {}),
              verb === 'undo' ? `The undo of ${a.kind} is queued.` : `${a.kind} → ${a.target}: ${verb === 'approve' ? 'approved' : 'denied'}.`,
            )
          }
        />
      </Section>

      <div class="grid-2">
        <Section title="Host and user" id="entities">
          <EntityCards incident={d} />
        </Section>
        <Section title="Indicators" id="indicators">
          <IndicatorsView page={indicators} onMore={async (cursor) => {
            try {
              const p = await get<Paged<Indicator>>(`/incidents/${id}/observables`, { limit: 100, cursor });
              setIndicators((old) => ({ items: [...(old?.items ?? []), ...p.items], next_cursor: p.next_cursor }));
            } catch (e) {
              setError(`More indicators could not be loaded: ${errorText(e)}`);
            }
          }} />
        </Section>
      </div>

      <Section title="Timeline" id="timeline">
        <Timeline entries={d.timeline} />
      </Section>

      <Section title={`Raw alerts (${fmtNum(d.alerts_total ?? d.alerts.length)})`} id="alerts">
        <ul class="alerts">
          {allAlerts.map((a) => (
            <li key={a.id}>
              <details>
                <summary>
                  <span class="mono">{fmtTime(a.time)}</span> · {a.detector} · {a.title} · severity {a.severity} ({a.severity_label})
                  {a.repeat_count ? ` · repeated ${a.repeat_count}×` : ''}
                </summary>
                <p class="muted small">
                  source {a.source} · received {fmtTime(a.received_at)} · id {a.id}
                  {a.rule?.name ? ` · rule ${a.rule.name}` : ''}
                </p>
                <pre class="raw">{a.raw || '(the raw record is not kept)'}</pre>
              </details>
            </li>
          ))}
        </ul>
        {moreAlerts.next ? (
          <button
            type="button"
            onClick={async () => {
              try {
                const p = await get<{ items: Alert[]; next_cursor: string | null }>(`/incidents/${id}/alerts`, { limit: 100, cursor: moreAlerts.next });
                setMoreAlerts((m) => ({ items: [...m.items, ...p.items], next: p.next_cursor }));
              } catch (e) {
                setError(`More alerts could not be loaded: ${errorText(e)}`);
              }
            }}
          >
            Load more alerts
          </button>
        ) : null}
      </Section>

      <div class="grid-2">
        <Section title="Notes" id="notes">
          <NotesView
            notes={notes?.items ?? []}
            canAdd={canEdit}
            busy={busy !== null}
            onAdd={(body) => act('Adding the note', () => send('POST', `/incidents/${id}/notes`, { body }), 'Note added.')}
          />
        </Section>
        <Section title="Audit trail" id="audit">
          <AuditTrail audit={audit} actions={d.actions} busy={auditBusy} onMore={() => void moreAudit()} />
        </Section>
      </div>
    </div>
  );
}

function AddTag({ onAdd, disabled }: { onAdd: (t: string) => Promise<unknown>; disabled: boolean }) {
  const [v, setV] = useState('');
  const [bad, setBad] = useState(false);
  return (
    <form
      class="inline"
      onSubmit={(e) => {
        e.preventDefault();
        const t = v.trim().toLowerCase();
        if (!TAG_RE.test(t)) return setBad(true);
        setBad(false);
        void onAdd(t).then(() => setV(''));
      }}
    >
      <label for="add-tag">New tag</label>
      <input id="add-tag" value={v} aria-invalid={bad} aria-describedby={bad ? 'add-tag-err' : undefined} onInput={(e) => setV(e.currentTarget.value)} />
      <button type="submit" disabled={disabled || !v.trim()}>
        Add tag
      </button>
      {bad ? (
        <span id="add-tag-err" class="field-error">
          lower case letters, digits and . _ : - (up to 64)
        </span>
      ) : null}
    </form>
  );
}

function SeverityOverride({ value, onSet, disabled }: { value: number | null; onSet: (v: number | null) => Promise<unknown>; disabled: boolean }) {
  const [v, setV] = useState(value === null ? '' : String(value));
  useEffect(() => setV(value === null ? '' : String(value)), [value]);
  return (
    <form
      class="inline"
      onSubmit={(e) => {
        e.preventDefault();
        const n = Number(v);
        if (v.trim() !== '' && Number.isInteger(n) && n >= 0 && n <= 100) void onSet(n);
      }}
    >
      <label for="sev-override">Severity override (0–100)</label>
      <input id="sev-override" type="number" min={0} max={100} step={1} value={v} onInput={(e) => setV(e.currentTarget.value)} />
      <button type="submit" disabled={disabled || v.trim() === ''}>
        Set
      </button>
      {value !== null ? (
        <button type="button" disabled={disabled} onClick={() => void onSet(null)}>
          Clear override
        </button>
      ) : null}
    </form>
  );
}

/** The score's factors as horizontal bars, each with its points and evidence in text. */
function ScoreFactors({ incident }: { incident: IncidentDetail }) {
  const s = incident.score;
  if (!s) return <p class="muted">Not scored yet.</p>;
  const factors = s.explanation.length
    ? s.explanation
    : Object.entries(s.components).map(([factor, points]) => ({ factor, points, evidence: '' }));
  const max = Math.max(1, ...factors.map((f) => Math.abs(f.points)));
  return (
    <>
      <p>
        Total <strong>{s.total}</strong> of 100, profile {s.profile}.
      </p>
      <ul class="bars" aria-label="Score factors">
        {factors.map((f, i) => (
          <li key={`${f.factor}-${i}`} class="bar-row">
            <span class="bar-label">{words(f.factor)}</span>
            <span class="bar-track" aria-hidden="true">
              <span class={`bar ${f.points < 0 ? 'neg' : ''}`} style={{ width: `${(Math.abs(f.points) / max) * 100}%` }} />
            </span>
            <span class="bar-value">
              {f.points > 0 ? '+' : f.points < 0 ? '−' : ''}
              {Math.abs(f.points)} points
            </span>
            {f.evidence ? <span class="bar-evidence muted small">{f.evidence}</span> : null}
          </li>
        ))}
      </ul>
    </>
  );
}

/** Score over time: every scoring of the incident (GET /incidents/{id} score_history). */
function ScoreHistory({ incident }: { incident: IncidentDetail }) {
  let points: Array<{ t: number; v: number }> = (incident.score_history ?? []).map((p) => ({ t: Date.parse(p.at), v: p.total }));
  points = points.filter((p) => Number.isFinite(p.t) && Number.isFinite(p.v)).sort((a, b) => a.t - b.t);
  if (points.length < 2) return null;
  const last = points[points.length - 1]!;
  return (
    <TimeChart
      title="Score over time"
      t={points.map((p) => p.t)}
      series={[{ label: 'Score', values: points.map((p) => p.v) }]}
      height={180}
      caption={`Score over time: ${points.length} scorings, from ${points[0]!.v} to ${last.v} (last at ${fmtTime(last.t)}).`}
    />
  );
}

function DecisionView({ incident, explain }: { incident: IncidentDetail; explain: Explanation | { error: string } | null }) {
  const dec = incident.decision;
  return (
    <>
      {dec ? (
        <div class="decision">
          <p>
            Rule <strong class="mono">{dec.rule}</strong> decided <strong>{words(dec.outcome)}</strong>
            {dec.decided_at ? ` at ${fmtTime(dec.decided_at)}` : ''}
            {dec.dry_run ? ' (dry run: nothing was done)' : ''}.
          </p>
          {dec.matched?.length ? <p class="small">Rules that matched: {dec.matched.join(', ')}</p> : null}
          {dec.fallback ? (
            <p class="small">
              Fallback to {dec.fallback.outcome}: {dec.fallback.reason} ({dec.fallback.rules.join(', ')})
            </p>
          ) : null}
          {dec.errors?.length ? (
            <ul class="small">
              {dec.errors.map((e, i) => (
                <li key={i}>
                  Rule {e.rule}: {e.kind} — {e.error}
                </li>
              ))}
            </ul>
          ) : null}
          {dec.actions.length ? (
            <p class="small">
              Planned: {dec.actions.map((a) => `${a.kind} → ${a.target}${a.approval === 'required' ? ' (needs approval)' : ''}`).join('; ')}
            </p>
          ) : null}
        </div>
      ) : (
        <p class="muted">Not decided yet.</p>
      )}
      {incident.decisions.length > 1 ? (
        <details>
          <summary>Earlier decisions ({incident.decisions.length})</summary>
          <ul class="small">
            {incident.decisions.map((x, i) => (
              <li key={i}>
                {fmtTime(x.decided_at)}: {x.rule} → {words(x.outcome)}
                {x.dry_run ? ' (dry run)' : ''}
              </li>
            ))}
          </ul>
        </details>
      ) : null}
      <h3>Why: the policy's rules on this incident now</h3>
      {explain === null ? (
        <Loading what="the explanation" />
      ) : 'error' in explain ? (
        <p class="muted">The explanation is not available: {explain.error}</p>
      ) : (
        <div class="table-wrap">
          <table class="small">
            <caption class="sr-only">Each rule of the policy, whether it matches and why</caption>
            <thead>
              <tr>
                <th scope="col">Rule</th>
                <th scope="col">Result</th>
                <th scope="col">Why</th>
              </tr>
            </thead>
            <tbody>
              {explain.rules.map((r) => (
                <tr key={r.rule} class={r.result === 'match' ? 'hit' : ''}>
                  <td class="mono">
                    {r.rule}
                    {r.decides ? <span class="badge">decides</span> : null}
                  </td>
                  <td>
                    <StateBadge state={r.result} kind="rule" />
                  </td>
                  <td>{r.reason || (r.result === 'match' ? 'every condition holds' : '—')}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </>
  );
}

function ActionsView({ actions, canAct, busy, onDo }: { actions: ActionRecord[]; canAct: boolean; busy: boolean; onDo: (a: ActionRecord, verb: 'approve' | 'deny' | 'undo') => void }) {
  if (!actions.length) return <p class="muted">No actions.</p>;
  const undone = new Set(actions.map((a) => a.undo_of).filter((x): x is string => !!x));
  return (
    <div class="table-wrap">
      <table>
        <thead>
          <tr>
            <th scope="col">Action</th>
            <th scope="col">State</th>
            <th scope="col">Details</th>
            <th scope="col">
              <span class="sr-only">Buttons</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {actions.map((a) => (
            <tr key={a.id} data-testid="action-row" data-action-id={a.id} data-state={a.state}>
              <td>
                <strong>{a.kind}</strong> → <span class="mono">{a.target}</span>
                {a.undo_of ? <div class="small muted">undoes {a.undo_of}</div> : null}
                {a.dry_run ? <div class="small muted">dry run</div> : null}
              </td>
              <td>
                <StateBadge state={a.state} kind="action" />
              </td>
              <td class="small">
                {a.held_by ? <div>Waits for a person: {a.held_by}</div> : null}
                {a.approval_due_at ? (
                  <div>
                    Decide by {fmtTime(a.approval_due_at)}
                    {a.approval_default ? `, else ${a.approval_default}` : ''}
                  </div>
                ) : null}
                {a.approved_by ? <div>Approved by {a.approved_by}</div> : null}
                {a.denied_by ? (
                  <div>
                    Denied by {a.denied_by}
                    {a.denial_reason ? `: ${a.denial_reason}` : ''}
                  </div>
                ) : null}
                {a.last_error ? <div class="field-error">Error: {a.last_error}</div> : null}
                {a.expires_at ? <div>Undone at {fmtTime(a.expires_at)}</div> : null}
                <div class="muted">
                  {a.attempts} attempt{a.attempts === 1 ? '' : 's'} · updated {fmtAgo(a.updated_at)}
                </div>
              </td>
              <td class="buttons">
                {canAct && a.state === 'awaiting_approval' ? (
                  <>
                    <button type="button" class="primary" disabled={busy} onClick={() => onDo(a, 'approve')} aria-describedby={`act-${a.id}`}>
                      Approve
                    </button>
                    <button type="button" disabled={busy} onClick={() => onDo(a, 'deny')} aria-describedby={`act-${a.id}`}>
                      Deny
                    </button>
                  </>
                ) : null}
                {canAct && a.state === 'succeeded' && !a.undo_of && !undone.has(a.id) ? (
                  <button type="button" disabled={busy} onClick={() => onDo(a, 'undo')} aria-describedby={`act-${a.id}`}>
                    Undo
                  </button>
                ) : null}
                <span id={`act-${a.id}`} class="sr-only">
                  {a.kind} {a.target}
                </span>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** Facts from an answer's data, flat: primitive values and short lists. */
function facts(data: Record<string, unknown> | undefined): Array<[string, string]> {
  if (!data) return [];
  const out: Array<[string, string]> = [];
  for (const [k, v] of Object.entries(data)) {
    if (v === null || v === undefined || v === '') continue;
    if (Array.isArray(v) && v.every((x) => typeof x !== 'object')) out.push([k, v.join(', ')]);
    else out.push([k, valueText(v)]);
    if (out.length >= 12) break;
  }
  return out;
}

function EntityCards({ incident }: { incident: IncidentDetail }) {
  const assets = incident.assets ?? [];
  const about = (type: string, value: string | null) =>
    value ? incident.enrichment.filter((e) => e.subject.type === type && e.subject.value.toLowerCase() === value.toLowerCase()) : [];
  const userAnswers = about('user', incident.user);
  const hostAnswers = assets.length ? [] : about('host', incident.host);
  return (
    <div class="entities">
      {assets.map((a) => (
        <AssetCard key={a.name} asset={a} />
      ))}
      {hostAnswers.length ? <AnswerCard title={`Host ${incident.host}`} answers={hostAnswers} /> : null}
      {!assets.length && !hostAnswers.length ? (
        <article class="entity">
          <h3>Host {incident.host ?? '—'}</h3>
          <p class="muted">No inventory knows this host.</p>
        </article>
      ) : null}
      {userAnswers.length ? (
        <AnswerCard title={`User ${incident.user}`} answers={userAnswers} />
      ) : (
        <article class="entity">
          <h3>User {incident.user ?? '—'}</h3>
          <p class="muted">{incident.user ? 'No directory knows this user.' : 'No user in this incident.'}</p>
        </article>
      )}
    </div>
  );
}

function AssetCard({ asset }: { asset: Asset }) {
  const row = (label: string, v: { value: string; source: string; fetched_at: string } | null) =>
    v ? (
      <div>
        <dt>{label}</dt>
        <dd>
          {v.value} <span class="muted small">({v.source}, {fmtAgo(v.fetched_at)})</span>
        </dd>
      </div>
    ) : null;
  return (
    <article class="entity">
      <h3>Host {asset.name}</h3>
      <dl class="kv">
        {row('Host name', asset.host)}
        {row('Owner', asset.owner)}
        {row('OS', asset.os)}
        {row('Criticality', asset.criticality)}
        {asset.ips.length ? (
          <div>
            <dt>IPs</dt>
            <dd>{asset.ips.map((i) => i.value).join(', ')}</dd>
          </div>
        ) : null}
        {asset.tags.length ? (
          <div>
            <dt>Tags</dt>
            <dd>{asset.tags.map((i) => i.value).join(', ')}</dd>
          </div>
        ) : null}
        {Object.entries(asset.attributes).map(([k, v]) => row(words(k), v))}
      </dl>
      {asset.conflicts.length ? (
        <p class="small">
          Inventories disagree on: {asset.conflicts.map((c) => `${c.field} (${c.values.map((v) => `${v.value} per ${v.source}`).join(' / ')})`).join('; ')}
        </p>
      ) : null}
      <p class="muted small">From {asset.sources.map((s) => `${s.provider} (${fmtAgo(s.fetched_at)})`).join(', ') || '—'}</p>
    </article>
  );
}

function AnswerCard({ title, answers }: { title: string; answers: Enrichment[] }) {
  return (
    <article class="entity">
      <h3>{title}</h3>
      {answers.map((a, i) => (
        <div key={`${a.provider}-${i}`} class="answer">
          <p class="small">
            <strong>{a.provider}</strong> · {fmtAgo(a.fetched_at)}
            {a.error ? ` · error: ${a.error}` : a.found === false ? ' · knows nothing about it' : ''}
          </p>
          {a.data ? (
            <dl class="kv">
              {facts(a.data).map(([k, v]) => (
                <div key={k}>
                  <dt>{words(k)}</dt>
                  <dd>{v}</dd>
                </div>
              ))}
            </dl>
          ) : null}
        </div>
      ))}
    </article>
  );
}

function IndicatorsView({ page, onMore }: { page: Paged<Indicator> | null; onMore: (cursor: string) => Promise<void> }) {
  if (!page) return <Loading what="indicators" />;
  if (!page.items.length) return <p class="muted">No indicators.</p>;
  return (
    <>
      <div class="table-wrap">
        <table class="small">
          <thead>
            <tr>
              <th scope="col">Indicator</th>
              <th scope="col">Seen</th>
              <th scope="col">Providers (verdict, age)</th>
            </tr>
          </thead>
          <tbody>
            {page.items.map((o) => (
              <tr key={`${o.type}:${o.value}`} data-testid="indicator-row">
                <td>
                  <span class="badge">{o.type}</span> <span class="mono break">{o.value}</span>
                </td>
                <td>
                  {fmtNum(o.alerts)} alert{o.alerts === 1 ? '' : 's'}
                  {o.events !== o.alerts ? ` (${fmtNum(o.events)} events)` : ''}, last {fmtAgo(o.last_seen)}
                </td>
                <td>
                  {o.enrichment.length ? (
                    <ul class="plain">
                      {o.enrichment.map((e, i) => (
                        <li key={`${e.provider}-${i}`}>
                          <strong>{e.provider}</strong>:{' '}
                          <span class={`verdict verdict-${e.verdict ?? (e.error ? 'error' : e.found === false ? 'unknown' : 'none')}`}>
                            {e.error ? `error (${e.error})` : e.verdict ? e.verdict : e.found === false ? 'not known' : 'known, no verdict'}
                          </span>{' '}
                          <span class="muted">({fmtDuration(e.age_seconds * 1000)} old)</span>
                        </li>
                      ))}
                    </ul>
                  ) : (
                    <span class="muted">not asked</span>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {page.next_cursor ? (
        <button type="button" onClick={() => void onMore(page.next_cursor!)}>
          Load more indicators
        </button>
      ) : null}
    </>
  );
}

function Timeline({ entries }: { entries: TimelineEntry[] }) {
  const [kind, setKind] = useState('');
  if (!entries.length) return <p class="muted">Nothing yet.</p>;
  const kinds = [...new Set(entries.map((e) => e.kind))];
  const shown = kind ? entries.filter((e) => e.kind === kind) : entries;
  return (
    <>
      <div class="field inline">
        <label for="tl-kind">Show</label>
        <select id="tl-kind" value={kind} onChange={(e) => setKind(e.currentTarget.value)}>
          <option value="">everything ({entries.length})</option>
          {kinds.map((k) => (
            <option key={k} value={k}>
              {words(k)}
            </option>
          ))}
        </select>
      </div>
      <ol class="timeline" aria-label="Timeline" tabIndex={0}>
        {shown.map((e, i) => (
          <li key={`${e.at}-${i}`} class={`tl-${e.kind}`}>
            <time dateTime={e.at} class="mono small">
              {fmtTime(e.at)}
            </time>
            <span class={`badge kind-${e.kind}`}>{words(e.kind)}</span>
            <span class="tl-summary">{e.summary}</span>
          </li>
        ))}
      </ol>
    </>
  );
}

function NotesView({ notes, canAdd, busy, onAdd }: { notes: Note[]; canAdd: boolean; busy: boolean; onAdd: (body: string) => Promise<unknown> }) {
  const [text, setText] = useState('');
  return (
    <>
      {canAdd ? (
        <form
          class="stack"
          onSubmit={(e) => {
            e.preventDefault();
            if (text.trim()) void onAdd(text).then(() => setText(''));
          }}
        >
          <label for="note-body">New note</label>
          <textarea id="note-body" rows={3} maxLength={10000} value={text} onInput={(e) => setText(e.currentTarget.value)} />
          <div>
            <button type="submit" disabled={busy || !text.trim()}>
              Add note
            </button>
          </div>
        </form>
      ) : null}
      {notes.length ? (
        <ul class="notes">
          {notes.map((n) => (
            <li key={n.id} data-testid="note">
              <p class="small">
                <strong>{n.author}</strong> · <time dateTime={n.created_at}>{fmtTime(n.created_at)}</time>
              </p>
              <p class="note-body">{n.body}</p>
            </li>
          ))}
        </ul>
      ) : (
        <p class="muted">No notes.</p>
      )}
    </>
  );
}

/** What an audit line is about: this incident, or one of its actions by kind and target. */
function auditSubject(subject: string, actions: ActionRecord[]): string | null {
  if (!subject.startsWith('action:')) return null;
  const aid = subject.slice('action:'.length);
  const a = actions.find((x) => x.id === aid);
  return a ? `${words(a.kind)} → ${a.target}` : `action ${aid}`;
}

/** An audit line's detail as "key: value" pairs, nulls left out, bounded. */
function auditDetail(detail: Record<string, unknown>): string {
  const text = Object.entries(detail)
    .filter(([, v]) => v !== null && v !== undefined)
    .map(([k, v]) => `${words(k)}: ${valueText(v)}`)
    .join(' · ');
  return text.length > 240 ? `${text.slice(0, 239)}…` : text;
}

function AuditTrail({
  audit,
  actions,
  busy,
  onMore,
}: {
  audit: { items: AuditEntry[]; next: string | null; error: string | null } | null;
  actions: ActionRecord[];
  busy: boolean;
  onMore: () => void;
}) {
  if (!audit) return <Loading what="the audit trail" />;
  return (
    <>
      {audit.error ? <p class="field-error" role="alert">The audit trail could not be read: {audit.error}</p> : null}
      {audit.items.length ? (
        // Focusable: the list scrolls when long, and a keyboard must be able to scroll it too.
        <ol class="timeline" aria-label="Audit trail, newest first" tabIndex={0}>
          {audit.items.map((a) => {
            const about = auditSubject(a.subject, actions);
            // A note's line names the note by id: its length says more here (the note itself is in Notes).
            const detail = a.action === 'incident.note' && typeof a.detail.length === 'number' ? `${fmtNum(a.detail.length)} characters` : auditDetail(a.detail);
            return (
              <li key={a.id} data-testid="audit-row" data-action={a.action} data-actor={a.actor}>
                <time dateTime={a.at} class="mono small">
                  {fmtTime(a.at)}
                </time>{' '}
                <strong>{a.actor}</strong> <span class="badge">{a.action}</span>
                {about ? <span> {about}</span> : null}
                {detail ? <span class="muted small"> {detail}</span> : null}
              </li>
            );
          })}
        </ol>
      ) : audit.error ? null : (
        <p class="muted">Nobody has changed this incident yet.</p>
      )}
      {audit.next ? (
        <div class="row-buttons">
          <button type="button" onClick={onMore} disabled={busy}>
            Load more audit entries
          </button>
          {busy ? <span role="status">Loading…</span> : null}
        </div>
      ) : null}
    </>
  );
}

