/**
 * The queue: incidents with filters in the URL's query string, a sort, cursor paging and a total; live
 * (the first page is read again when incidents change, and new or changed rows are marked); keyboard:
 * j/k move, Enter opens, x selects, / searches; bulk assign, tag and verdict for analysts.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import { atLeast, errorText, get, isAbort, send, SORTS, STATUSES, VERDICTS, type Incident, type IncidentPage, type Verdict } from '../api.ts';
import { onLive } from '../events.ts';
import { Link, navigate, useLocation } from '../router.tsx';
import { ErrorBox, fmtAgo, fmtNum, fmtTime, ScoreBadge, StateBadge, useThrottled, useSession, useTitle, words } from '../ui.tsx';

const TEXT_FILTERS = [
  ['q', 'Search'],
  ['host', 'Host'],
  ['user', 'User'],
  ['detector', 'Detector'],
  ['source', 'Source'],
  ['indicator', 'Indicator'],
  ['assignee', 'Assignee'],
  ['tag', 'Tag'],
] as const;
type TextFilter = (typeof TEXT_FILTERS)[number][0];
const PAGE = 50;

interface Filters {
  status: string[];
  min_score: string;
  sort: string;
  text: Record<TextFilter, string>;
}

function readFilters(search: string): Filters {
  const p = new URLSearchParams(search);
  const text = {} as Record<TextFilter, string>;
  for (const [k] of TEXT_FILTERS) text[k] = p.get(k) ?? '';
  return { status: p.getAll('status').filter((s) => (STATUSES as readonly string[]).includes(s)), min_score: p.get('min_score') ?? '', sort: p.get('sort') ?? '', text };
}

function filterQuery(f: Filters): string {
  const p = new URLSearchParams();
  for (const s of f.status) p.append('status', s);
  if (f.min_score) p.set('min_score', f.min_score);
  for (const [k] of TEXT_FILTERS) if (f.text[k].trim()) p.set(k, f.text[k].trim());
  if (f.sort) p.set('sort', f.sort);
  const s = p.toString();
  return s ? `?${s}` : '';
}

/** What changed in a row since the user last looked at it (shown as text, not by colour alone). */
type Mark = 'new' | 'changed';
const rowVersion = (i: Incident) => `${i.updated_at ?? ''}|${i.score?.total ?? ''}|${i.status}|${i.decision?.outcome ?? ''}|${i.alert_count}`;

export function QueuePage() {
  useTitle('Queue');
  const { search } = useLocation();
  const session = useSession();
  const role = session?.user.role;
  const canEdit = atLeast(role, 'analyst');
  const applied = readFilters(search);
  const [draft, setDraft] = useState<Filters>(applied);
  const [rows, setRows] = useState<Incident[]>([]);
  const [total, setTotal] = useState<{ n: number; exact: boolean } | null>(null);
  const [cursor, setCursor] = useState<string | null>(null);
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [marks, setMarks] = useState<Map<string, Mark>>(new Map());
  // The row j/k/Enter/x act on, by id (a live update that inserts rows above does not move it); none at first:
  // the first j selects the first row.
  const [activeId, setActiveId] = useState<string | null>(null);
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [bulkTag, setBulkTag] = useState('');
  const [busy, setBusy] = useState(false);
  const active = activeId === null ? -1 : rows.findIndex((r) => r.id === activeId);
  const setActive = (i: number) => setActiveId(rows[i]?.id ?? null);
  const versions = useRef<Map<string, string> | null>(null);
  /** Whether "load more" added pages below the first. */
  const morePages = useRef(false);
  const abort = useRef<AbortController | null>(null);
  const searchBox = useRef<HTMLInputElement>(null);
  const tbody = useRef<HTMLTableSectionElement>(null);

  // The form follows the URL (back/forward, a link with filters).
  useEffect(() => setDraft(readFilters(search)), [search]);

  const query = (f: Filters, cursorArg?: string) => ({
    status: f.status,
    min_score: f.min_score || undefined,
    sort: f.sort || undefined,
    ...Object.fromEntries(TEXT_FILTERS.map(([k]) => [k, f.text[k].trim() || undefined])),
    limit: PAGE,
    cursor: cursorArg,
  });

  /** Reads the first page again; `live`: keep the pages loaded below it and mark what is new or changed. */
  const loadFirst = async (live: boolean) => {
    abort.current?.abort();
    const ac = new AbortController();
    abort.current = ac;
    if (!live) setLoading(true);
    try {
      const page = await get<IncidentPage>('/incidents', query(readFilters(location.search)), ac.signal);
      const before = versions.current;
      const next = new Map(page.items.map((i) => [i.id, rowVersion(i)]));
      if (live && before) {
        setMarks((old) => {
          const m = new Map(old);
          for (const i of page.items) {
            const was = before.get(i.id);
            if (was === undefined) m.set(i.id, 'new');
            else if (was !== rowVersion(i)) m.set(i.id, m.get(i.id) === 'new' ? 'new' : 'changed');
          }
          return m;
        });
        setRows((old) => {
          const ids = new Set(page.items.map((i) => i.id));
          return [...page.items, ...old.slice(PAGE).filter((i) => !ids.has(i.id))];
        });
        // With more pages loaded below, their cursor still follows the last of them.
        if (!morePages.current) setCursor(page.next_cursor);
      } else {
        setMarks(new Map());
        setRows(page.items);
        setCursor(page.next_cursor);
        morePages.current = false;
        setActiveId(null);
      }
      versions.current = new Map([...(before && live ? before : []), ...next]);
      setTotal({ n: page.total, exact: page.total_exact });
      setError(null);
    } catch (e) {
      if (!isAbort(e)) setError(`The queue could not be loaded: ${errorText(e)}`);
    } finally {
      if (abort.current === ac) setLoading(false);
    }
  };

  useEffect(() => {
    versions.current = null;
    setSelected(new Set());
    void loadFirst(false);
    return () => abort.current?.abort();
  }, [search]);

  const loadFirstRef = useRef(loadFirst);
  loadFirstRef.current = loadFirst;
  const liveReload = useThrottled(() => void loadFirst(true), 300);
  useEffect(
    () =>
      onLive((e) => {
        if (e.type === 'incident' || e.type === 'reset') liveReload();
        // A new stream does not replay what changed while there was none: read again, at once (not counted
        // by the throttle, so the first change after it shows without waiting).
        else if (e.type === 'ready') void loadFirstRef.current(true);
      }),
    [liveReload],
  );

  const loadMore = async () => {
    if (!cursor) return;
    setLoading(true);
    try {
      const page = await get<IncidentPage>('/incidents', query(applied, cursor));
      setRows((old) => {
        const ids = new Set(old.map((i) => i.id));
        return [...old, ...page.items.filter((i) => !ids.has(i.id))];
      });
      for (const i of page.items) versions.current?.set(i.id, rowVersion(i));
      morePages.current = true;
      setCursor(page.next_cursor);
      setTotal({ n: page.total, exact: page.total_exact });
    } catch (e) {
      setError(`More incidents could not be loaded: ${errorText(e)}`);
    } finally {
      setLoading(false);
    }
  };

  const apply = (f: Filters) => navigate(`/${filterQuery(f)}`, true);

  const toggle = (id: string) =>
    setSelected((s) => {
      const n = new Set(s);
      if (n.has(id)) n.delete(id);
      else n.add(id);
      return n;
    });

  const focusRow = (i: number) => {
    const tr = tbody.current?.querySelectorAll<HTMLTableRowElement>('tr[data-incident-id]')[i];
    tr?.focus();
  };

  const seen = (id: string) =>
    setMarks((m) => {
      if (!m.has(id)) return m;
      const n = new Map(m);
      n.delete(id);
      return n;
    });

  // Keyboard: not while typing in a field (except Escape leaves the field). The listener is added once and
  // reads the rows and the active row from refs: a key pressed right after another must see its effect, before
  // an effect could re-add a listener with fresh values.
  const [showKeys, setShowKeys] = useState(false);
  const kb = useRef({ rows, activeId, canEdit });
  kb.current.rows = rows;
  kb.current.canEdit = canEdit;
  kb.current.activeId = activeId;
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.ctrlKey || e.metaKey || e.altKey) return;
      const t = e.target as HTMLElement | null;
      const typing = t && (t.tagName === 'INPUT' || t.tagName === 'TEXTAREA' || t.tagName === 'SELECT' || t.isContentEditable);
      if (typing) {
        if (e.key === 'Escape') (t as HTMLElement).blur();
        return;
      }
      if (e.key === '?') {
        e.preventDefault();
        setShowKeys((v) => !v);
        return;
      }
      if (e.key === 'Escape') {
        setShowKeys(false);
        return;
      }
      if (e.key === '/') {
        e.preventDefault();
        searchBox.current?.focus();
        return;
      }
      const k = kb.current;
      if (!k.rows.length) return;
      // A focused row is the active one (Tab, a click).
      const focused = t?.closest?.('tr[data-incident-id]')?.getAttribute('data-incident-id');
      const current = focused ?? k.activeId;
      const index = current === null ? -1 : k.rows.findIndex((r) => r.id === current);
      if (e.key === 'j' || e.key === 'k') {
        e.preventDefault();
        const i = Math.min(k.rows.length - 1, Math.max(0, index + (e.key === 'j' ? 1 : -1)));
        k.activeId = k.rows[i]!.id;
        setActiveId(k.activeId);
        focusRow(i);
      } else if (e.key === 'Enter' && t?.tagName !== 'A' && t?.tagName !== 'BUTTON') {
        const r = k.rows[index];
        if (r) {
          e.preventDefault();
          navigate(`/incidents/${r.id}`);
        }
      } else if (e.key === 'x' && k.canEdit) {
        const r = k.rows[index];
        if (r) {
          e.preventDefault();
          toggle(r.id);
        }
      }
    };
    document.addEventListener('keydown', onKey);
    return () => document.removeEventListener('keydown', onKey);
  }, []);

  const bulk = async (body: Record<string, unknown>, what: string) => {
    const ids = rows.filter((r) => selected.has(r.id)).map((r) => r.id);
    if (!ids.length) return;
    setBusy(true);
    setNotice(null);
    setError(null);
    try {
      const r = await send<{ ok: number; failed: number; results: Array<{ id: string; result: string; message?: string }> }>('POST', '/incidents/bulk', { ids, ...body });
      const failed = r.results.filter((x) => x.result !== 'ok');
      setNotice(`${what}: ${r.ok} done${r.failed ? `, ${r.failed} failed` : ''}.`);
      if (failed.length) setError(`Not changed: ${failed.map((f) => `${f.id} (${f.message ?? f.result})`).join('; ')}`);
      setSelected(new Set(failed.map((f) => f.id)));
      await loadFirst(true);
    } catch (e) {
      setError(`${what} failed: ${errorText(e)}`);
    } finally {
      setBusy(false);
    }
  };

  const allSelected = rows.length > 0 && rows.every((r) => selected.has(r.id));
  const filtered = search.length > 1;

  return (
    <div class="queue">
      <div class="page-head">
        <h1>Queue</h1>
        <p class="muted" role="status" data-testid="queue-total">
          {total ? `${total.exact ? '' : 'at least '}${fmtNum(total.n)} incident${total.n === 1 ? '' : 's'}${filtered ? ' match' : ''}` : ''}
        </p>
      </div>

      <form
        class="filters card"
        role="search"
        aria-label="Filter incidents"
        onSubmit={(e) => {
          e.preventDefault();
          apply(draft);
        }}
      >
        <div class="filter-grid">
          {TEXT_FILTERS.map(([k, label]) => (
            <div class="field" key={k}>
              <label for={`f-${k}`}>{label}</label>
              <input
                id={`f-${k}`}
                ref={k === 'q' ? searchBox : undefined}
                type="search"
                value={draft.text[k]}
                placeholder={k === 'q' ? 'title, host or user ( / )' : k === 'assignee' ? 'name, or none' : k === 'indicator' ? 'ip:203.0.113.7' : ''}
                onInput={(e) => setDraft({ ...draft, text: { ...draft.text, [k]: e.currentTarget.value } })}
              />
            </div>
          ))}
          <div class="field">
            <label for="f-min-score">Minimum score</label>
            <input id="f-min-score" type="number" min={0} max={100} value={draft.min_score} onInput={(e) => setDraft({ ...draft, min_score: e.currentTarget.value })} />
          </div>
          <div class="field">
            <label for="f-sort">Sort by</label>
            <select
              id="f-sort"
              value={draft.sort}
              onChange={(e) => {
                const f = { ...draft, sort: e.currentTarget.value };
                setDraft(f);
                apply(f);
              }}
            >
              <option value="">Score (default)</option>
              {SORTS.filter((s) => s !== 'score').map((s) => (
                <option key={s} value={s}>
                  {words(s)}
                </option>
              ))}
            </select>
          </div>
        </div>
        <fieldset class="statuses">
          <legend>Status</legend>
          {STATUSES.map((s) => (
            <label key={s} class="check">
              <input
                type="checkbox"
                checked={draft.status.includes(s)}
                onChange={(e) => {
                  const status = e.currentTarget.checked ? [...draft.status, s] : draft.status.filter((x) => x !== s);
                  const f = { ...draft, status };
                  setDraft(f);
                  apply(f);
                }}
              />
              {words(s)}
            </label>
          ))}
        </fieldset>
        <div class="row-buttons">
          <button type="submit" class="primary">
            Apply filters
          </button>
          <button type="button" onClick={() => apply(readFilters(''))} disabled={!filtered}>
            Clear filters
          </button>
        </div>
      </form>

      <ErrorBox error={error} onRetry={() => void loadFirst(false)} />
      {notice ? (
        <p class="notice" role="status">
          {notice}
        </p>
      ) : null}

      {canEdit && selected.size > 0 ? (
        <div class="bulk card" role="region" aria-label="Bulk actions" data-testid="bulk-bar">
          <strong>{selected.size} selected</strong>
          <button type="button" disabled={busy} onClick={() => void bulk({ set: { assignee: session!.user.name } }, 'Assign to me')}>
            Assign to me
          </button>
          <form
            class="inline"
            onSubmit={(e) => {
              e.preventDefault();
              const tag = bulkTag.trim().toLowerCase();
              if (tag) void bulk({ set: { tags: { add: [tag] } } }, `Tag ${tag}`).then(() => setBulkTag(''));
            }}
          >
            <label for="bulk-tag">Tag</label>
            <input id="bulk-tag" value={bulkTag} pattern="[a-z0-9][a-z0-9._:\-]{0,63}" onInput={(e) => setBulkTag(e.currentTarget.value)} />
            <button type="submit" disabled={busy || !bulkTag.trim()}>
              Add tag
            </button>
          </form>
          <span class="group" role="group" aria-label="Verdict for the selected incidents">
            <span aria-hidden="true">Verdict:</span>
            {VERDICTS.map((v: Verdict) => (
              <button type="button" key={v} disabled={busy} data-verdict={v} onClick={() => void bulk({ verdict: { verdict: v } }, `Verdict ${words(v)}`)}>
                {words(v)}
              </button>
            ))}
          </span>
          <button type="button" class="link-button" onClick={() => setSelected(new Set())}>
            Clear selection
          </button>
        </div>
      ) : null}

      <div class="table-wrap">
        <table class="incidents" aria-describedby="queue-keys" aria-busy={loading}>
          <thead>
            <tr>
              {canEdit ? (
                <th scope="col" class="narrow">
                  <input
                    type="checkbox"
                    aria-label="Select all shown incidents"
                    checked={allSelected}
                    onChange={(e) => setSelected(e.currentTarget.checked ? new Set(rows.map((r) => r.id)) : new Set())}
                  />
                </th>
              ) : null}
              <th scope="col">Score</th>
              <th scope="col">Incident</th>
              <th scope="col">Host</th>
              <th scope="col">User</th>
              <th scope="col">Detectors</th>
              <th scope="col">Status</th>
              <th scope="col">Assignee</th>
              <th scope="col">Tags</th>
              <th scope="col" class="num">
                Alerts
              </th>
              <th scope="col">Last seen</th>
            </tr>
          </thead>
          <tbody ref={tbody}>
            {rows.map((r, i) => {
              const mark = marks.get(r.id);
              const detectors = r.detectors ?? [];
              return (
                <tr
                  key={r.id}
                  data-testid="queue-row"
                  data-incident-id={r.id}
                  data-mark={mark}
                  tabIndex={i === active || (active < 0 && i === 0) ? 0 : -1}
                  class={`${i === active ? 'active' : ''} ${selected.has(r.id) ? 'selected' : ''} ${mark ? `mark-${mark}` : ''}`}
                  onFocus={() => setActive(i)}
                  onClick={() => {
                    setActive(i);
                    seen(r.id);
                  }}
                >
                  {canEdit ? (
                    <td class="narrow">
                      <input type="checkbox" aria-label={`Select ${r.title}`} checked={selected.has(r.id)} onChange={() => toggle(r.id)} tabIndex={-1} />
                    </td>
                  ) : null}
                  <td>
                    <ScoreBadge score={r.severity_override ?? r.score?.total} />
                  </td>
                  <td class="title-cell">
                    {mark ? <span class={`badge mark mark-${mark}`}>{mark === 'new' ? 'Arrived' : 'Updated'}</span> : null}
                    <Link href={`/incidents/${r.id}`} tabIndex={-1} onClick={() => seen(r.id)}>
                      {r.title}
                    </Link>
                    <div class="muted small">
                      {r.decision ? `${words(r.decision.outcome)} by ${r.decision.rule}` : 'not decided yet'}
                      {r.verdict ? ` · verdict: ${words(r.verdict)}` : ''}
                    </div>
                  </td>
                  <td>{r.host ?? '—'}</td>
                  <td>{r.user ?? '—'}</td>
                  <td data-testid="queue-detectors" title={r.sources?.length ? `sources: ${r.sources.join(', ')}` : undefined}>
                    {detectors.length ? detectors.join(', ') : '—'}
                  </td>
                  <td>
                    <StateBadge state={r.status} kind="status" />
                  </td>
                  <td>{r.assignee ?? <span class="muted">unassigned</span>}</td>
                  <td data-testid="queue-tags">{r.tags?.length ? r.tags.map((t) => <span class="tag" key={t}>{t}</span>) : '—'}</td>
                  <td class="num">{fmtNum(r.alert_count)}</td>
                  <td title={fmtTime(r.last_seen)}>{fmtAgo(r.last_seen)}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
        {!loading && rows.length === 0 && !error ? <p class="empty">No incidents{filtered ? ' match these filters' : ' yet'}.</p> : null}
      </div>
      <div class="row-buttons">
        {cursor ? (
          <button type="button" onClick={() => void loadMore()} disabled={loading}>
            Load more
          </button>
        ) : null}
        {loading ? <span role="status">Loading…</span> : null}
      </div>
      <div class="keys-help">
        <p id="queue-keys" class="muted small">
          Keys: j / k move, Enter opens, {canEdit ? 'x selects, ' : ''}/ searches, ? lists them.
        </p>
        <button type="button" class="link-button small" aria-expanded={showKeys} aria-controls="queue-keys-list" onClick={() => setShowKeys((v) => !v)}>
          {showKeys ? 'Hide keyboard shortcuts' : 'Keyboard shortcuts (?)'}
        </button>
        {showKeys ? (
          <dl id="queue-keys-list" class="keys-list" data-testid="queue-keys-list" aria-label="Keyboard shortcuts of the queue">
            <div>
              <dt>
                <kbd>j</kbd> / <kbd>k</kbd>
              </dt>
              <dd>next / previous incident</dd>
            </div>
            <div>
              <dt>
                <kbd>Enter</kbd>
              </dt>
              <dd>open the incident</dd>
            </div>
            {canEdit ? (
              <div>
                <dt>
                  <kbd>x</kbd>
                </dt>
                <dd>select it for a bulk change</dd>
              </div>
            ) : null}
            <div>
              <dt>
                <kbd>/</kbd>
              </dt>
              <dd>search (Escape leaves the field)</dd>
            </div>
            <div>
              <dt>
                <kbd>?</kbd>
              </dt>
              <dd>show or hide this list (Escape hides it)</dd>
            </div>
          </dl>
        ) : null}
      </div>
    </div>
  );
}
