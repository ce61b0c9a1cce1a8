/**
 * The web app in a real browser (issue 18 item 7): Debian's headless Chromium driven by playwright-core against a
 * complete Fido in this process (SQLite store, SMTP and webhook peers, the escalate rule's actions waiting for
 * approval). Covers sign-in, the live queue receiving a posted alert over server-sent events, keyboard navigation,
 * the incident page, approving an action, a verdict, a note, the overview and configuration pages, role limits,
 * sign-out; checks each page with axe-core (WCAG 2.1 A/AA) and that the Content-Security-Policy blocked nothing;
 * saves a small screenshot of each page under test-output/screenshots.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import type { ActionRecord } from '../../src/model/action.js';
import type { IncidentDetail } from '../../src/model/incident.js';
import { demoBatches } from '../../src/demo/alerts.js';
import { createUser } from '../../src/web/accounts.js';
import { startE2e, type E2e } from '../support/e2e.js';
import { waitFor } from '../support/wait.js';
import { checkAccessibility, describeViolations, launchBrowser, screenshot, type TestBrowser } from '../support/browser.js';

const PASSWORD = 'a long enough passphrase';

/** Every console message a CSP refusal or a script error made: the app must need neither. */
function watchConsole(page: Page): string[] {
  const problems: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error' && /Content Security Policy|Refused to/i.test(m.text())) problems.push(m.text());
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  return problems;
}

async function signIn(page: Page, url: string, name: string): Promise<void> {
  await page.goto(`${url}/`);
  await page.waitForURL(/\/login/);
  await page.getByLabel('Name').fill(name);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL((u) => !u.pathname.startsWith('/login'));
}

async function accessible(page: Page, what: string): Promise<void> {
  const violations = await checkAccessibility(page);
  assert.equal(violations.length, 0, `${what}: accessibility violations:\n${describeViolations(violations)}`);
}

test('the web app: sign-in, live queue, incident, approval, verdict, note, overview, configuration, roles, accessibility', { timeout: 240_000 }, async () => {
  let e: E2e | undefined;
  let b: TestBrowser | undefined;
  try {
    e = await startE2e('sqlite', { approvalForEscalate: true });
    const url = e.fido.url!;
    for (const [name, role] of [['ana', 'analyst'], ['vic', 'viewer']] as const) await createUser(e.fido.store.db, { name, role, password: PASSWORD });
    b = await launchBrowser();

    // --- Sign-in: the app sends a stranger to the sign-in page; a wrong password is said so; the right one lets in.
    const { page } = await b.page();
    const problems = watchConsole(page);
    await page.goto(`${url}/incidents`);
    await page.waitForURL(/\/login/);
    await accessible(page, 'sign-in page');
    await screenshot(page, '1-sign-in');
    await page.getByLabel('Name').fill('ana');
    await page.getByLabel('Password').fill('not the password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').filter({ hasText: /wrong name or password/i }).waitFor();
    assert.match(page.url(), /\/login/, 'still on the sign-in page');
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL((u) => u.pathname === '/');
    const cookies = await page.context().cookies();
    const session = cookies.find((c) => c.name === 'fido_session');
    assert.ok(session && session.httpOnly, 'an HttpOnly session cookie');
    assert.equal(await page.evaluate(() => document.cookie.includes('fido_session')), false, "the page's scripts cannot read the session");

    // --- The live queue: an alert posted now appears without a reload.
    await page.getByTestId('live-status').filter({ hasText: /live/i }).waitFor();
    const marker = await page.evaluate(() => ((window as unknown as { __marker: number }).__marker = Math.random()));
    const suricata = demoBatches().find((x) => x.source === 'dmz-suricata')!;
    const pciLine = suricata.records.find((r) => r.includes('Malicious SSL Cert'))!;
    const posted = Date.now();
    await e.api('/alerts/ids', { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body: pciLine, expect: 202 });
    // When the store has the incident (the API answers it), and when the page shows it: the difference is the
    // event stream's and the page's share.
    const stored = waitFor('the incident in the store', async () => ((await (await e!.api('/incidents')).json()) as { total: number }).total > 0 || undefined, 30_000, 10).then(() => Date.now() - posted);
    const row = page.getByTestId('queue-row').first();
    await row.waitFor({ timeout: 30_000 });
    const seenAfterMs = Date.now() - posted;
    console.log(`# live queue: the incident was stored ${await stored} ms and shown ${seenAfterMs} ms after the POST`);
    assert.equal(await page.evaluate(() => (window as unknown as { __marker?: number }).__marker), marker, 'the page was not reloaded: the row came over the event stream');
    const incidentId = await row.getAttribute('data-incident-id');
    assert.ok(incidentId, 'the row names its incident');
    // The list carries the detectors of its alerts: the row shows the one that raised it.
    const detectorsCell = row.getByTestId('queue-detectors');
    await detectorsCell.filter({ hasText: 'suricata' }).waitFor();
    assert.match((await detectorsCell.textContent()) ?? '', /\bsuricata\b/, 'the Detectors column names suricata');
    // The keyboard shortcuts: "?" lists them, and the list names every key.
    await page.locator('body').click({ position: { x: 5, y: 5 } });
    await page.keyboard.press('?');
    const keysList = page.getByTestId('queue-keys-list');
    await keysList.waitFor();
    const keysText = (await keysList.textContent()) ?? '';
    for (const k of ['j', 'k', 'Enter', 'x', '/']) assert.ok(keysText.includes(k), `the shortcut list names ${k}`);
    assert.equal(await page.getByRole('button', { name: /keyboard shortcuts/i }).getAttribute('aria-expanded'), 'true', 'the toggle says the list is open');
    await accessible(page, 'queue with its keyboard shortcuts');
    await page.keyboard.press('?');
    await keysList.waitFor({ state: 'detached' });
    await accessible(page, 'queue');
    await screenshot(page, '2-queue');

    // --- Keyboard: j selects the first row, Enter opens it.
    await page.locator('body').click({ position: { x: 5, y: 5 } });
    await page.keyboard.press('j');
    await page.keyboard.press('Enter');
    await page.waitForURL(new RegExp(`/incidents/${incidentId}$`));

    // --- The incident page: the decision and its actions, waiting for approval.
    const waiting = await waitFor('actions awaiting approval', async () => {
      const r = (await (await e!.api(`/actions?state=awaiting_approval`)).json()) as { items: ActionRecord[] };
      return r.items.length === 2 ? r.items : undefined;
    });
    await page.getByRole('button', { name: 'Approve' }).first().waitFor();
    await page.getByText('escalate').first().waitFor();
    await accessible(page, 'incident page');
    await screenshot(page, '3-incident');

    // --- Approve one action in one click; the store says who approved it.
    await page.getByRole('button', { name: 'Approve' }).first().click();
    const approved = await waitFor('an approval by ana', async () => {
      const r = (await (await e!.api(`/incidents/${incidentId}`)).json()) as IncidentDetail;
      return r.actions.find((a) => a.approved_by === 'ana');
    });
    assert.ok(waiting.some((w) => w.id === approved.id), 'one of the waiting actions');

    // --- A verdict and a note, each in one step.
    await page.getByRole('button', { name: /true positive/i }).click();
    await waitFor('the verdict', async () => {
      const r = (await (await e!.api(`/incidents/${incidentId}`)).json()) as IncidentDetail & { verdict?: string | null };
      return r.verdict === 'true_positive' ? true : undefined;
    });
    await page.getByLabel(/note/i).fill('Checked with the cert team <b>not bold</b>');
    await page.getByRole('button', { name: /add note/i }).click();
    await page.getByTestId('note').getByText('Checked with the cert team <b>not bold</b>').waitFor();
    assert.equal(await page.getByTestId('note').locator('b').count(), 0, 'the note is shown as text, never as HTML');
    const notes = (await (await e.api(`/incidents/${incidentId}/notes`)).json()) as { items: Array<{ author: string; body: string }> };
    assert.equal(notes.items[0]?.author, 'ana', 'the note is by the signed-in person');

    // --- The audit trail (GET /incidents/{id}/audit): the approval and the note, each by ana.
    const auditRows = page.getByTestId('audit-row');
    await auditRows.and(page.locator('[data-action="incident.note"]')).first().waitFor();
    await auditRows.and(page.locator('[data-action="action.approved"]')).first().waitFor();
    for (const action of ['incident.note', 'action.approved', 'incident.verdict']) {
      const line = auditRows.and(page.locator(`[data-action="${action}"]`)).first();
      assert.equal(await line.getAttribute('data-actor'), 'ana', `the audit line ${action} is by ana`);
      assert.match((await line.textContent()) ?? '', /\bana\b/, `the audit line ${action} shows ana`);
    }
    // Newest first: the note (written last of the three) comes before the verdict, the verdict before the approval.
    // (The approved action's own lines, by the system, may land anywhere meanwhile: only ana's order is checked.)
    const order = (await auditRows.evaluateAll((els) => els.map((x) => `${x.getAttribute('data-actor')} ${x.getAttribute('data-action')}`))).filter((x) => x.startsWith('ana '));
    const at = (action: string) => order.indexOf(`ana ${action}`);
    assert.ok(at('incident.note') < at('incident.verdict') && at('incident.verdict') < at('action.approved'), `newest first: ${order.join(', ')}`);
    await accessible(page, 'incident page with its audit trail');
    await screenshot(page, '3b-incident-audit');

    // --- Overview and configuration.
    await page.getByRole('link', { name: 'Overview' }).click();
    await page.waitForURL(/\/overview$/);
    await page.locator('.uplot').first().waitFor();
    await accessible(page, 'overview');
    await screenshot(page, '4-overview');
    await page.getByRole('link', { name: 'Configuration' }).click();
    await page.waitForURL(/\/config$/);
    await page.getByText('escalate').first().waitFor();
    await accessible(page, 'configuration');
    // A backtest from the configuration page: a policy that only logs would have turned the escalation into a log.
    await page.getByLabel(/Policy rules to try/).fill('rules:\n  - name: quiet\n    when: score.total >= 0.0\n    outcome: log\n');
    await page.getByRole('button', { name: 'Run backtest' }).click();
    const latest = page.getByTestId('backtest-latest');
    await latest.filter({ hasText: 'Run by ana' }).waitFor();
    await latest.getByText('escalate → log: 1').waitFor();
    await screenshot(page, '5-configuration');
    assert.deepEqual(problems, [], 'no CSP refusal or script error');

    // --- A viewer sees but cannot act, in the page and at the API.
    const viewer = await b.page();
    await signIn(viewer.page, url, 'vic');
    await viewer.page.goto(`${url}/incidents/${incidentId}`);
    await viewer.page.getByText('escalate').first().waitFor();
    assert.equal(await viewer.page.getByRole('button', { name: 'Approve' }).count(), 0, 'no approve button for a viewer');
    assert.equal(await viewer.page.getByRole('button', { name: /true positive/i }).count(), 0, 'no verdict buttons for a viewer');
    const status = await viewer.page.evaluate(async (id) => {
      const s = (await (await fetch('/api/v1/session')).json()) as { csrf_token: string };
      const r = await fetch(`/api/v1/incidents/${id}/verdict`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-csrf-token': s.csrf_token },
        body: JSON.stringify({ verdict: 'benign' }),
      });
      return r.status;
    }, incidentId);
    assert.equal(status, 403, 'the API refuses a viewer');
    await screenshot(viewer.page, '6-incident-as-viewer');

    // --- Sign-out ends the session.
    await page.getByRole('button', { name: /sign out/i }).click();
    await page.waitForURL(/\/login/);
    const after = await page.evaluate(async () => (await fetch('/api/v1/session')).status);
    assert.equal(after, 401, 'signed out');
  } finally {
    await b?.close();
    await e?.close();
  }
});
