/** Small shared pieces: formatting, the score badge, error and empty states, the session context. */
import type { ComponentChildren } from 'preact';
import { createContext } from 'preact';
import { useContext, useEffect, useRef } from 'preact/hooks';
import type { Role, Session } from './api.ts';

export const SessionContext = createContext<Session | null>(null);
export const useSession = (): Session | null => useContext(SessionContext);
export const useRole = (): Role | undefined => useSession()?.user.role;

/** A time as "2026-12-07 14:03" (local), or '—'. */
export function fmtTime(t: string | number | null | undefined): string {
  if (t === null || t === undefined || t === '') return '—';
  const d = new Date(t);
  if (Number.isNaN(d.getTime())) return String(t);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}`;
}

/** "3 min ago" style age of a time. */
export function fmtAgo(t: string | number | null | undefined, now = Date.now()): string {
  if (t === null || t === undefined || t === '') return '—';
  const ms = now - new Date(t).getTime();
  if (!Number.isFinite(ms)) return '—';
  return `${fmtDuration(Math.max(0, ms))} ago`;
}

/** A duration in ms as "850 ms", "42 s", "3 min", "5 h", "2 d". */
export function fmtDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '—';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${Math.round(s)} s`;
  if (s < 3600) return `${Math.round(s / 60)} min`;
  if (s < 86400) return `${(s / 3600).toFixed(s < 36000 ? 1 : 0)} h`;
  return `${(s / 86400).toFixed(s < 864000 ? 1 : 0)} d`;
}

export const fmtNum = (n: number | null | undefined): string => (typeof n === 'number' && Number.isFinite(n) ? n.toLocaleString('en') : '—');
export const fmtPct = (r: number | null | undefined): string => (typeof r === 'number' && Number.isFinite(r) ? `${(r * 100).toFixed(1)} %` : '—');
/** snake_case as words: "false_positive" → "False positive". */
export const words = (s: string): string => {
  const t = s.replace(/_/g, ' ');
  return t.charAt(0).toUpperCase() + t.slice(1);
};

/** The band of a score, said in words (the colour only repeats it). */
export function scoreBand(score: number | null | undefined): 'critical' | 'high' | 'medium' | 'low' | 'none' {
  if (score === null || score === undefined) return 'none';
  if (score >= 80) return 'critical';
  if (score >= 60) return 'high';
  if (score >= 40) return 'medium';
  return 'low';
}

export function ScoreBadge({ score, large }: { score: number | null | undefined; large?: boolean }) {
  const band = scoreBand(score);
  const text = score === null || score === undefined ? 'unscored' : String(Math.round(score));
  return (
    <span class={`score score-${band}${large ? ' score-large' : ''}`} title={`score ${text} (${band})`}>
      {text}
      <span class="score-band"> {band === 'none' ? '' : band}</span>
    </span>
  );
}

/** A state as a text badge (actions, receivers, statuses). */
export function StateBadge({ state, kind = 'state' }: { state: string | null | undefined; kind?: string }) {
  const s = state ?? 'unknown';
  return <span class={`badge ${kind}-${s.replace(/[^a-z0-9_-]/gi, '')}`}>{words(s)}</span>;
}

/** A visible error, announced to screen readers. */
export function ErrorBox({ error, onRetry }: { error: string | null; onRetry?: () => void }) {
  if (!error) return null;
  return (
    <div class="error" role="alert">
      <span>{error}</span>
      {onRetry ? (
        <button type="button" class="link-button" onClick={onRetry}>
          Retry
        </button>
      ) : null}
    </div>
  );
}

export function Loading({ what }: { what: string }) {
  return (
    <p class="muted" role="status">
      Loading {what}…
    </p>
  );
}

/**
 * A titled card. Not a named region: the headings structure the page, and a region named "Notes" would make
 * "the field labelled note" ambiguous to people (and tests) that find controls by their label.
 */
export function Section({ title, id, children, actions }: { title: string; id?: string; children: ComponentChildren; actions?: ComponentChildren }) {
  return (
    <section class="card" id={id}>
      <div class="card-head">
        <h2>{title}</h2>
        {actions}
      </div>
      {children}
    </section>
  );
}

/** Any JSON value as text (never as HTML). */
export function valueText(v: unknown): string {
  if (v === null || v === undefined) return '—';
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  try {
    return JSON.stringify(v);
  } catch {
    return String(v);
  }
}

/** An object's entries as a definition list; nested values as JSON text. */
export function KeyValues({ obj, skip = [] }: { obj: Record<string, unknown> | null | undefined; skip?: string[] }) {
  if (!obj) return <p class="muted">None.</p>;
  const entries = Object.entries(obj).filter(([k]) => !skip.includes(k));
  if (!entries.length) return <p class="muted">None.</p>;
  return (
    <dl class="kv">
      {entries.map(([k, v]) => (
        <div key={k}>
          <dt>{words(k)}</dt>
          <dd>{valueText(v)}</dd>
        </div>
      ))}
    </dl>
  );
}

/** Sets document.title while mounted. */
export function useTitle(title: string): void {
  useEffect(() => {
    document.title = title ? `${title} · Fido` : 'Fido';
  }, [title]);
}

/**
 * Calls fn at most once per `ms`: at once when it has not run for `ms` (a live change shows without
 * waiting), else once at the end of the period (a burst of events costs one call).
 */
export function useThrottled(fn: () => void, ms: number): () => void {
  const f = useRef(fn);
  f.current = fn;
  const state = useRef<{ timer: ReturnType<typeof setTimeout> | null; last: number }>({ timer: null, last: 0 });
  useEffect(() => () => void (state.current.timer && clearTimeout(state.current.timer)), []);
  return useRef(() => {
    const s = state.current;
    if (s.timer) return;
    const wait = Math.max(0, s.last + ms - Date.now());
    s.timer = setTimeout(() => {
      s.timer = null;
      s.last = Date.now();
      f.current();
    }, wait);
  }).current;
}
