/**
 * The live feed: one EventSource on /api/v1/events for the whole app, shared by the pages.
 * A stream the server ends (restart, a dropped slow client) is reopened by EventSource itself with
 * Last-Event-ID; a stream that fails to open (401, 429, 503) is closed by the browser, so it is reopened here
 * after a pause, resuming with ?since= from the last event id seen.
 */

export type LiveState = 'off' | 'connecting' | 'live' | 'reconnecting';
export interface IncidentEvent {
  id: string;
  title?: string;
  status?: string;
  score?: number | null;
  assignee?: string | null;
  updated_at?: number;
}
export interface ActionEvent {
  id: string;
  incident_id: string;
  kind?: string;
  target?: string;
  state?: string;
}
export type LiveEvent = { type: 'incident'; data: IncidentEvent } | { type: 'action'; data: ActionEvent } | { type: 'reset' } | { type: 'ready' };

const listeners = new Set<(e: LiveEvent) => void>();
const stateListeners = new Set<(s: LiveState) => void>();
let es: EventSource | null = null;
let state: LiveState = 'off';
let lastId: string | null = null;
let retry: ReturnType<typeof setTimeout> | null = null;
let failures = 0;

function setState(s: LiveState) {
  state = s;
  stateListeners.forEach((l) => l(s));
}
const emit = (e: LiveEvent) => listeners.forEach((l) => l(e));

function parse<T>(m: MessageEvent): T | null {
  if (m.lastEventId) lastId = m.lastEventId;
  try {
    return JSON.parse(String(m.data)) as T;
  } catch {
    return null;
  }
}

function open() {
  if (retry) clearTimeout(retry);
  retry = null;
  const url = lastId ? `/api/v1/events?since=${encodeURIComponent(lastId)}` : '/api/v1/events';
  const source = new EventSource(url, { withCredentials: true });
  es = source;
  setState(state === 'off' ? 'connecting' : 'reconnecting');
  source.onopen = () => {
    failures = 0;
    setState('live');
  };
  source.addEventListener('ready', (m) => {
    parse(m as MessageEvent);
    setState('live');
    emit({ type: 'ready' });
  });
  source.addEventListener('reset', (m) => {
    parse(m as MessageEvent);
    emit({ type: 'reset' });
  });
  source.addEventListener('incident', (m) => {
    const d = parse<IncidentEvent>(m as MessageEvent);
    if (d && typeof d.id === 'string') emit({ type: 'incident', data: d });
  });
  source.addEventListener('action', (m) => {
    const d = parse<ActionEvent>(m as MessageEvent);
    if (d && typeof d.id === 'string') emit({ type: 'action', data: d });
  });
  source.onerror = () => {
    if (es !== source) return;
    if (source.readyState === EventSource.CLOSED) {
      // The browser gave up (an error answer): try again, slower each time, up to 30 s.
      source.close();
      failures++;
      setState('reconnecting');
      retry = setTimeout(open, Math.min(30_000, 1000 * 2 ** Math.min(failures, 5)));
    } else setState('reconnecting');
  };
}

/** Opens the feed (after sign-in). */
export function startLive(): void {
  if (es) return;
  open();
}

/** Closes the feed (sign-out). */
export function stopLive(): void {
  if (retry) clearTimeout(retry);
  retry = null;
  es?.close();
  es = null;
  lastId = null;
  setState('off');
}

export function onLive(fn: (e: LiveEvent) => void): () => void {
  listeners.add(fn);
  return () => void listeners.delete(fn);
}
export function onLiveState(fn: (s: LiveState) => void): () => void {
  stateListeners.add(fn);
  return () => void stateListeners.delete(fn);
}
export const liveState = (): LiveState => state;
