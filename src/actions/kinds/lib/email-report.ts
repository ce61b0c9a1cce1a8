/**
 * The e-mail report about an incident, in the spirit of Netflix FIDO's notification (a summary and a detailed
 * form, the score drawn as a chart, the evidence per factor, links to the incident), as a text part and an HTML
 * part. Pure: kinds/email.ts sends it, the tests read it.
 *
 * - `summary`: one screen — title, score with its band, decision and rule, host, user, the three factors that
 *   weigh most, the link, and the actions that wait for a person with their approve/deny buttons.
 * - `detailed`: the summary, then the whole score breakdown as a bar chart, each factor with its evidence, the
 *   sub-scores, the alerts, the enrichment answers per indicator, the incident's actions and its timeline.
 *
 * Every string of the incident may be an attacker's (alert titles, observables, evidence quoting them, provider
 * answers about them). The HTML is built with the `html` tag, which escapes every interpolated value unless it
 * is itself built by `html`; the only hrefs are the incident link and the approval links, both built by Fido and
 * checked to be http(s) — never a URL taken from an alert or a provider. In the text part, control and bidi
 * characters of one-line fields become spaces or go, so an alert cannot forge a line of the report.
 *
 * Size: everything repeated is bounded (LIMITS) and every long string is cut, and the message says what was left
 * out ("… and N more"). The detailed report of a huge incident stays under Gmail's 102 KB clipping point.
 */
import type { ActionRecord } from '../../../model/action.js';
import type { Alert, Endpoint } from '../../../model/alert.js';
import type { IncidentDetail } from '../../../model/incident.js';
import type { ScoreFactor } from '../../../model/score.js';
import type { AwaitingApproval, IncidentSummary, SeverityBand } from './incident-summary.js';
import { html, SafeHtml } from '../../../util/html.js';

// ───────────────────────────── bounds and shared bits ─────────────────────────────

export type ReportFormat = 'summary' | 'detailed';

/** What one message shows at most; the rest is counted ("… and N more") and is on the incident's page. */
export const LIMITS = {
  topFactors: 3,
  factors: 25,
  alerts: 20,
  observablesPerAlert: 6,
  enrichment: 30,
  actions: 20,
  timeline: 25,
  /** Characters of one field (a title, a timeline line, an error). */
  text: 200,
  /** Characters of one observable. */
  observable: 120,
  /** Characters of one factor's evidence. */
  evidence: 300,
} as const;

export interface ReportInput {
  incident: IncidentDetail;
  /** The e-mail action itself (named in the report). */
  action: ActionRecord;
  summary: IncidentSummary;
  format: ReportFormat;
  /** Epoch ms, for the age of enrichment answers. */
  now: number;
}

/**
 * One line of attacker-chosen text, bounded: control characters and line separators become spaces (a title
 * cannot start a line of its own that reads like the report's), invisible format characters (bidi overrides,
 * zero-width) go, and the text is cut at whole characters with an ellipsis.
 */
export function clip(text: string, max: number = LIMITS.text): string {
  const clean = text
    .replace(/\p{Cf}/gu, '')
    .replace(/\p{Cs}/gu, '\uFFFD')
    .replace(/[\p{Cc}\p{Zl}\p{Zp}]/gu, ' ');
  const chars = Array.from(clean);
  return chars.length > max ? `${chars.slice(0, max - 1).join('')}…` : clean;
}

/** An href only for a URL Fido built; anything else is shown as text, never linked. */
function safeHref(url: string | null | undefined): string | null {
  return url && /^https?:\/\/./i.test(url) && !/[\s"'<>\\]/.test(url) ? url : null;
}

const signed = (n: number) => (n > 0 ? `+${n}` : String(n));
const more = (n: number, what: string) => (n > 0 ? `… and ${n} more ${n === 1 ? what.slice(0, -1) : what}` : '');

function endpoint(e: Endpoint | undefined): string {
  if (!e) return '';
  const addr = e.ip ? (e.port !== undefined ? `${e.ip}:${e.port}` : e.ip) : '';
  const extra = [e.host, e.user].filter(Boolean).join(', ');
  return clip([addr, extra ? `(${extra})` : ''].filter(Boolean).join(' '));
}

function alertObservables(a: Alert): { shown: string[]; hidden: number } {
  const all = a.observables.map((o) => clip(`${o.type}:${o.value}${o.role ? ` (${o.role})` : ''}`, LIMITS.observable));
  return { shown: all.slice(0, LIMITS.observablesPerAlert), hidden: Math.max(0, all.length - LIMITS.observablesPerAlert) };
}

function decisionLine(incident: IncidentDetail, s: IncidentSummary): string {
  const d = incident.decision ?? incident.decisions[incident.decisions.length - 1] ?? null;
  return `${s.outcome ?? '-'} (rule ${s.rule ?? '-'})${d?.dry_run ? ', dry run' : ''}`;
}

function scoreLine(s: IncidentSummary): string {
  return s.score === null ? 'not scored' : `${s.score}/100 (${s.band})${s.profile ? `, profile ${s.profile}` : ''}`;
}

/** How old an answer is, for a person: 45s, 12m, 3h, 2d. */
function age(iso: string, now: number): string {
  const ms = now - Date.parse(iso);
  if (!Number.isFinite(ms)) return 'unknown age';
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s old`;
  if (s < 3600) return `${Math.round(s / 60)}m old`;
  if (s < 86_400) return `${Math.round(s / 3600)}h old`;
  return `${Math.round(s / 86_400)}d old`;
}

interface AnswerView {
  provider: string;
  verdict: string;
  facts: string;
  age: string;
}

const INTEL_KEYS = new Set(['verdict', 'score', 'tags', 'references', 'first_seen', 'last_seen', 'detail']);

/**
 * Enrichment answers grouped by indicator, bounded. A threat-intelligence answer shows its verdict and score
 * (enrich/intel.ts); any other (inventory, directory) a few of its scalar facts. References are never shown:
 * they are URLs, and only Fido's own links are linked.
 */
function enrichmentBySubject(incident: IncidentDetail, now: number): { groups: Array<{ subject: string; answers: AnswerView[] }>; hidden: number } {
  const shown = incident.enrichment.slice(0, LIMITS.enrichment);
  const groups = new Map<string, AnswerView[]>();
  for (const e of shown) {
    const subject = clip(`${e.subject.type}:${e.subject.value}`);
    let view: AnswerView;
    if ('error' in e) view = { provider: clip(e.provider), verdict: 'error', facts: clip(e.error), age: age(e.fetched_at, now) };
    else {
      const v = e.data['verdict'];
      const score = e.data['score'];
      const facts = Object.entries(e.data)
        .filter(([k, x]) => !INTEL_KEYS.has(k) && ['string', 'number', 'boolean'].includes(typeof x))
        .slice(0, 4)
        .map(([k, x]) => `${k}=${String(x)}`);
      if (typeof score === 'number') facts.unshift(`score ${score}`);
      const last = e.data['last_seen'];
      if (typeof last === 'string') facts.push(`last seen ${last}`);
      view = {
        provider: clip(e.provider),
        verdict: typeof v === 'string' ? clip(v, 40) : e.found ? 'found' : 'not found',
        facts: clip(facts.join(', ')),
        age: age(e.fetched_at, now),
      };
    }
    const list = groups.get(subject) ?? [];
    list.push(view);
    groups.set(subject, list);
  }
  return { groups: [...groups].map(([subject, answers]) => ({ subject, answers })), hidden: incident.enrichment.length - shown.length };
}

function actionState(a: ActionRecord): string {
  const parts: string[] = [a.state];
  if (a.dry_run) parts.push('dry run');
  if (a.attempts > 0) parts.push(`${a.attempts} attempt${a.attempts === 1 ? '' : 's'}`);
  if (a.undo_of) parts.push(`undoes ${a.undo_of}`);
  if (a.approved_by) parts.push(`approved by ${a.approved_by}`);
  if (a.denied_by) parts.push(`denied by ${a.denied_by}${a.denial_reason ? `: ${a.denial_reason}` : ''}`);
  if (a.last_error) parts.push(`last error: ${a.last_error}`);
  return clip(parts.join(', '));
}

/** Without signed links: how a person settles the action from a shell on the Fido host, or through the API. */
function approvalHint(s: IncidentSummary, w: AwaitingApproval): string {
  const id = clip(w.action_id, 60);
  const base = s.link ? s.link.slice(0, s.link.lastIndexOf('/api/v1/incidents/')) : '<fido>';
  return `fido actions approve ${id}  (or: fido actions deny ${id} --reason "…"; API: POST ${base}/api/v1/actions/${encodeURIComponent(w.action_id)}/approve or /deny)`;
}

/** The newest entries of the timeline, oldest first. */
function timelineTail(incident: IncidentDetail) {
  const shown = incident.timeline.slice(-LIMITS.timeline);
  return { shown, hidden: incident.timeline.length - shown.length };
}

// ───────────────────────────── text ─────────────────────────────

const TEXT_BAR = 24;

/**
 * The score breakdown as an ASCII bar chart (the text part is what a plain-text client or a screen reader gets):
 * bars proportional to the points, ░ for points that lower the score.
 */
export function textChart(rows: Array<{ label: string; points: number }>, scaleMax?: number): string[] {
  const max = scaleMax ?? Math.max(0, ...rows.map((r) => Math.abs(r.points)));
  const width = Math.min(28, Math.max(0, ...rows.map((r) => Array.from(r.label).length)));
  return rows.map((r) => {
    const label = clip(r.label, width);
    const n = max > 0 ? Math.round((Math.abs(r.points) / max) * TEXT_BAR) : 0;
    const bar = (r.points < 0 ? '░' : '█').repeat(r.points !== 0 ? Math.max(1, n) : 0);
    return `  ${label}${' '.repeat(width - Array.from(label).length)}  ${bar.padEnd(TEXT_BAR)} ${scaleMax === undefined ? signed(r.points) : r.points}`;
  });
}

export function renderReportText(r: ReportInput): string {
  const { incident, action, summary: s } = r;
  const out: string[] = [
    `Fido incident report: ${clip(s.title)}`,
    '',
    `Score:     ${scoreLine(s)}`,
    `Decision:  ${clip(decisionLine(incident, s))}`,
    `Host:      ${clip(s.host ?? '-')}`,
    `User:      ${clip(s.user ?? '-')}`,
    `Incident:  ${clip(s.id)}, status ${s.status}${s.verdict ? `, verdict ${s.verdict}` : ''}`,
    `Alerts:    ${s.alert_count}, first seen ${s.first_seen}, last seen ${s.last_seen}`,
    `Detectors: ${clip(s.detectors.join(', ') || '-')}`,
    `Sent by:   ${clip(`${action.kind} → ${action.target}`)}`,
  ];
  if (s.link) out.push(`Open:      ${s.link}`);

  if (r.format === 'summary') {
    out.push('', 'Top factors:');
    if (s.factors.length === 0) out.push('  (none)');
    for (const f of s.factors.slice(0, LIMITS.topFactors)) out.push(`  ${signed(f.points).padStart(4)}  ${clip(f.factor)}: ${clip(f.evidence, LIMITS.evidence)}`);
    const rest = s.factors.length - LIMITS.topFactors;
    if (rest > 0) out.push(`  ${more(rest, 'factors')} (report format "detailed" shows them all)`);
  }

  if (s.awaiting.length) {
    out.push('', 'Waiting for your approval:');
    for (const w of s.awaiting) {
      out.push(`- ${clip(`${w.kind} → ${w.target}`)} (action ${clip(w.action_id)})`);
      const approve = safeHref(w.links?.approve);
      const deny = safeHref(w.links?.deny);
      if (approve && deny) {
        out.push(`    Approve: ${approve}`, `    Deny:    ${deny}`, `    (links valid until ${clip(w.links!.expires_at)}; each opens a confirmation page)`);
      } else out.push(`    ${approvalHint(s, w)}`);
    }
  }

  if (r.format === 'detailed') out.push(...detailedText(r));
  out.push('', `Long texts are cut at ${LIMITS.text} characters (evidence at ${LIMITS.evidence}).${s.link ? ` Everything: ${s.link}` : ''}`);
  return out.join('\n') + '\n';
}

function detailedText(r: ReportInput): string[] {
  const { incident, summary: s } = r;
  const out: string[] = [];
  const factors = s.factors.slice(0, LIMITS.factors);
  const hiddenFactors = more(s.factors.length - factors.length, 'factors');
  out.push('', 'Score breakdown (points):');
  if (factors.length === 0) out.push('  (not scored)');
  out.push(...textChart(factors.map((f) => ({ label: f.factor, points: f.points }))));
  if (hiddenFactors) out.push(`  ${hiddenFactors}`);
  const components = Object.entries(s.components);
  if (components.length) {
    out.push('', 'Sub-scores (0-100):', ...textChart(components.map(([label, points]) => ({ label, points })), 100));
  }
  out.push('', 'Evidence per factor:');
  for (const f of factors) out.push(`  ${String(f.points).padStart(4)}  ${clip(f.factor)}: ${clip(f.evidence, LIMITS.evidence)}`);
  if (hiddenFactors) out.push(`  ${hiddenFactors}`);

  const alerts = incident.alerts.slice(0, LIMITS.alerts);
  out.push('', `Alerts (${alerts.length} of ${Math.max(incident.alert_count, incident.alerts.length)}):`);
  for (const a of alerts) {
    out.push(`- ${clip(a.time)}  [${clip(a.detector)}]  ${clip(a.title)}`);
    const route = [endpoint(a.src), endpoint(a.dst)].filter(Boolean).join(' -> ');
    if (route) out.push(`    ${route}`);
    const obs = alertObservables(a);
    if (obs.shown.length) out.push(`    observables: ${obs.shown.join(', ')}${obs.hidden ? ` ${more(obs.hidden, 'observables')}` : ''}`);
  }
  const hiddenAlerts = Math.max(incident.alert_count, incident.alerts.length) - alerts.length;
  if (hiddenAlerts > 0) out.push(`  ${more(hiddenAlerts, 'alerts')}`);

  const enrichment = enrichmentBySubject(incident, r.now);
  out.push('', 'Enrichment:');
  if (enrichment.groups.length === 0) out.push('  (none)');
  for (const g of enrichment.groups) {
    out.push(`  ${g.subject}`);
    for (const a of g.answers) out.push(`    ${a.provider}: ${a.verdict}${a.facts ? ` (${a.facts})` : ''}, ${a.age}`);
  }
  if (enrichment.hidden > 0) out.push(`  ${more(enrichment.hidden, 'answers')}`);

  const actions = incident.actions.slice(0, LIMITS.actions);
  out.push('', 'Actions:');
  if (actions.length === 0) out.push('  (none)');
  for (const a of actions) out.push(`  ${clip(`${a.kind} → ${a.target}`)}: ${actionState(a)}`);
  if (incident.actions.length > actions.length) out.push(`  ${more(incident.actions.length - actions.length, 'actions')}`);

  const tl = timelineTail(incident);
  out.push('', 'Timeline:');
  if (tl.hidden > 0) out.push(`  (${tl.hidden} earlier entries not shown)`);
  if (tl.shown.length === 0) out.push('  (empty)');
  for (const t of tl.shown) out.push(`  ${clip(t.at)}  ${t.kind.padEnd(8)}  ${clip(t.summary)}`);
  return out;
}

// ───────────────────────────── HTML ─────────────────────────────

const BAND_COLOURS: Record<SeverityBand, string> = { critical: '#8e0000', high: '#c62828', medium: '#ef6c00', low: '#f9a825', info: '#607d8b' };
const POSITIVE = '#c62828';
const NEGATIVE = '#2e7d32';
const COMPONENT = '#1565c0';
// Table borders and padding as attributes, which every client honours, instead of a style on each cell: the
// cells are most of the message's bytes.
const TABLE = new SafeHtml('border="1" cellpadding="4" cellspacing="0" style="border-collapse:collapse;border-color:#ddd;font-size:14px"');
const TD = new SafeHtml('valign="top"');
const TH = new SafeHtml('align="left" bgcolor="#f5f5f5"');
const BAR_WIDTH = 240;

/**
 * One bar of the chart. Mail clients strip SVG, scripts, canvas and often CSS sizing (Gmail, Outlook's Word
 * engine), so the chart is a table: the bar is a cell whose `width` attribute is its share of the row and whose
 * `bgcolor` is its colour, which every client renders. Widths are proportional to |points| against the largest
 * (or a fixed 0–100 scale for sub-scores); points that lower the score are green, the others red.
 */
function chartRow(label: string, points: number, scaleMax: number, colour: string): SafeHtml {
  const pct = scaleMax > 0 && points !== 0 ? Math.max(1, Math.min(100, Math.round((Math.abs(points) / scaleMax) * 100))) : 0;
  const cls = points < 0 ? 'fido-bar fido-neg' : 'fido-bar';
  const bar = pct > 0 ? html`<td class="${cls}" width="${pct}%" height="14" bgcolor="${colour}" style="width:${pct}%;height:14px;background:${colour};font-size:0;line-height:0">&nbsp;</td>` : '';
  const rest = pct < 100 ? html`<td width="${100 - pct}%">&nbsp;</td>` : '';
  return html`<tr class="fido-chart-row"><td ${TD}>${label}</td><td width="${BAR_WIDTH}" style="width:${BAR_WIDTH}px"><table role="presentation" width="100%" cellpadding="0" cellspacing="0"><tr>${bar}${rest}</tr></table></td><td class="fido-points" ${TD}>${scaleMax === 100 ? points : signed(points)}</td></tr>\n`;
}

function button(href: string, label: string, colour: string): SafeHtml {
  return html`<td bgcolor="${colour}" style="background:${colour};border-radius:4px;padding:0"><a class="fido-button" href="${href}" style="display:inline-block;padding:8px 18px;color:#ffffff;text-decoration:none;font-weight:bold">${label}</a></td><td width="12">&nbsp;</td>`;
}

function factorTable(factors: ScoreFactor[]): SafeHtml {
  return html`<table ${TABLE}><tr><th ${TH}>Factor</th><th ${TH}>Points</th><th ${TH}>Evidence</th></tr>
${factors.map((f) => html`<tr><td ${TD}>${clip(f.factor)}</td><td ${TD}>${f.points}</td><td ${TD}>${clip(f.evidence, LIMITS.evidence)}</td></tr>\n`)}</table>`;
}

export function renderReportHtml(r: ReportInput): string {
  const { incident, action, summary: s } = r;
  const link = safeHref(s.link);
  const band = BAND_COLOURS[s.band];
  const header = html`<h2 style="margin:0 0 8px">${clip(s.title)}</h2>
<table role="presentation" cellpadding="0" cellspacing="0"><tr><td bgcolor="${band}" style="background:${band};color:#ffffff;padding:6px 12px;font-size:18px;font-weight:bold">${s.score === null ? 'Not scored' : html`Score ${s.score} · ${s.band.toUpperCase()}`}</td></tr></table>`;
  const row = (k: string, v: unknown) => html`<tr><th ${TH}>${k}</th><td ${TD}>${v}</td></tr>\n`;
  const facts = html`<table ${TABLE}>
${row('Decision', clip(decisionLine(incident, s)))}${row('Host', clip(s.host ?? '-'))}${row('User', clip(s.user ?? '-'))}${row('Incident', `${clip(s.id)}, status ${s.status}${s.verdict ? `, verdict ${s.verdict}` : ''}`)}${row('Alerts', s.alert_count)}${row('First seen', s.first_seen)}${row('Last seen', s.last_seen)}${row('Detectors', clip(s.detectors.join(', ') || '-'))}${row('Profile', s.profile ?? '-')}${row('Sent by', clip(`${action.kind} → ${action.target}`))}</table>`;
  const open = link ? html`<p><a class="fido-link" href="${link}" style="color:#1565c0;font-weight:bold">Open the incident in Fido</a></p>` : '';
  const top =
    r.format === 'summary'
      ? html`<h3>Top factors</h3>${s.factors.length ? factorTable(s.factors.slice(0, LIMITS.topFactors)) : html`<p>None.</p>`}${s.factors.length > LIMITS.topFactors ? html`<p>${more(s.factors.length - LIMITS.topFactors, 'factors')} (report format "detailed" shows them all).</p>` : ''}`
      : '';
  const approvals = s.awaiting.length
    ? html`<h3>Waiting for your approval</h3>${s.awaiting.map((w) => {
        const approve = safeHref(w.links?.approve);
        const deny = safeHref(w.links?.deny);
        const what = html`<p style="margin:8px 0 4px"><b>${clip(`${w.kind} → ${w.target}`)}</b> (action ${clip(w.action_id)})</p>`;
        return approve && deny
          ? html`${what}<table role="presentation" cellpadding="0" cellspacing="0"><tr>${button(approve, 'Approve', '#2e7d32')}${button(deny, 'Deny', '#c62828')}</tr></table><p style="margin:4px 0;color:#666;font-size:12px">Links valid until ${clip(w.links!.expires_at)}; each opens a confirmation page.</p>`
          : html`${what}<p style="margin:4px 0"><code>${approvalHint(s, w)}</code></p>`;
      })}`
    : '';
  const detailed = r.format === 'detailed' ? detailedHtml(r) : '';
  const footer = html`<p style="color:#666;font-size:12px">Long texts are cut at ${LIMITS.text} characters (evidence at ${LIMITS.evidence}).${link ? ' The incident page has everything.' : ''}</p>`;
  return html`<!doctype html>
<html><head><meta charset="utf-8"><meta name="viewport" content="width=device-width"><title>${clip(s.title)}</title></head>
<body style="font-family:Arial,Helvetica,sans-serif;color:#222">
${header}
${facts}
${open}
${top}
${approvals}
${detailed}
${footer}
</body></html>
`.value;
}

function detailedHtml(r: ReportInput): SafeHtml {
  const { incident, summary: s } = r;
  const factors = s.factors.slice(0, LIMITS.factors);
  const hiddenFactors = s.factors.length - factors.length;
  const max = Math.max(0, ...factors.map((f) => Math.abs(f.points)));
  const chart = factors.length
    ? html`<table class="fido-chart" ${TABLE}>${factors.map((f) => chartRow(clip(f.factor), f.points, max, f.points < 0 ? NEGATIVE : POSITIVE))}</table>`
    : html`<p>Not scored.</p>`;
  const components = Object.entries(s.components);
  const subScores = components.length
    ? html`<h3>Sub-scores (0–100)</h3><table class="fido-components" ${TABLE}>${components.map(([k, v]) => chartRow(clip(k), v, 100, COMPONENT))}</table>`
    : '';
  const moreFactors = hiddenFactors > 0 ? html`<p>${more(hiddenFactors, 'factors')}.</p>` : '';

  const alerts = incident.alerts.slice(0, LIMITS.alerts);
  const total = Math.max(incident.alert_count, incident.alerts.length);
  const alertRows = alerts.map((a) => {
    const obs = alertObservables(a);
    return html`<tr><td ${TD}>${clip(a.time)}</td><td ${TD}>${clip(a.detector)}</td><td ${TD}>${clip(a.title)}</td><td ${TD}>${endpoint(a.src)}</td><td ${TD}>${endpoint(a.dst)}</td><td ${TD}>${obs.shown.map((o) => html`${o}<br>`)}${obs.hidden ? more(obs.hidden, 'observables') : ''}</td></tr>\n`;
  });

  const enrichment = enrichmentBySubject(incident, r.now);
  const enrichRows = enrichment.groups.flatMap((g) =>
    g.answers.map((a, i) => html`<tr>${i === 0 ? html`<td ${TD} rowspan="${g.answers.length}">${g.subject}</td>` : ''}<td ${TD}>${a.provider}</td><td ${TD}>${a.verdict}</td><td ${TD}>${a.facts}</td><td ${TD}>${a.age}</td></tr>\n`),
  );

  const actions = incident.actions.slice(0, LIMITS.actions);
  const tl = timelineTail(incident);
  return html`<h3>Score breakdown</h3>
${chart}${subScores}
<h3>Evidence per factor</h3>
${factors.length ? factorTable(factors) : html`<p>None.</p>`}${moreFactors}
<h3>Alerts (${alerts.length} of ${total})</h3>
<table ${TABLE}><tr><th ${TH}>Time</th><th ${TH}>Detector</th><th ${TH}>Title</th><th ${TH}>Source</th><th ${TH}>Destination</th><th ${TH}>Observables</th></tr>
${alertRows}</table>${total > alerts.length ? html`<p>${more(total - alerts.length, 'alerts')}.</p>` : ''}
<h3>Enrichment</h3>
${enrichRows.length ? html`<table ${TABLE}><tr><th ${TH}>Indicator</th><th ${TH}>Provider</th><th ${TH}>Verdict</th><th ${TH}>Facts</th><th ${TH}>Age</th></tr>\n${enrichRows}</table>` : html`<p>None.</p>`}${enrichment.hidden > 0 ? html`<p>${more(enrichment.hidden, 'answers')}.</p>` : ''}
<h3>Actions</h3>
${actions.length ? html`<table ${TABLE}><tr><th ${TH}>Action</th><th ${TH}>State</th></tr>\n${actions.map((a) => html`<tr><td ${TD}>${clip(`${a.kind} → ${a.target}`)}</td><td ${TD}>${actionState(a)}</td></tr>\n`)}</table>` : html`<p>None.</p>`}${incident.actions.length > actions.length ? html`<p>${more(incident.actions.length - actions.length, 'actions')}.</p>` : ''}
<h3>Timeline</h3>
${tl.hidden > 0 ? html`<p>(${tl.hidden} earlier entries not shown.)</p>` : ''}${tl.shown.length ? html`<table ${TABLE}>${tl.shown.map((t) => html`<tr><td ${TD}>${clip(t.at)}</td><td ${TD}>${t.kind}</td><td ${TD}>${clip(t.summary)}</td></tr>\n`)}</table>` : html`<p>Empty.</p>`}`;
}
